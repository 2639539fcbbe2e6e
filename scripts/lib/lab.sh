# Sourced by the scripts that run the binary against the test lab (tests/support/lab.py):
# moto as the fake ECR API, behind a TLS "front". Loopback only, any free port.
#
#   lab_start DIR      starts the lab with its files under DIR; it lives until lab_stop
#                      (or until this shell exits and the lab's stdin closes)
#   lab METHOD PATH [JSON]   one call to the lab's control API; prints the answer
#   lab_front          adds a TLS front and sets LAB_FRONT_ID, LAB_FRONT_URL and LAB_CA

lab_start() {
    local dir=$1
    python3 -c 'import moto.server' 2> /dev/null || {
        echo "lab: needs moto's server: python3 -m pip install 'moto[server]'" >&2
        exit 1
    }
    mkdir -p "$dir/lab"
    # The lab prints its hello line once it listens; reading it is the readiness signal.
    coproc LAB { exec python3 "$(dirname "${BASH_SOURCE[0]}")/../../tests/support/lab.py" \
        --dir "$dir/lab" 2> "$dir/lab.stderr"; }
    if ! read -r -t 60 LAB_HELLO <&"${LAB[0]}"; then
        echo "lab: the fake ECR did not start:" >&2
        cat "$dir/lab.stderr" >&2
        exit 1
    fi
    export LAB_HELLO
}

lab_stop() {
    local pid=$LAB_PID
    eval "exec ${LAB[1]}>&-"
    wait "$pid" || true
}

lab() {
    python3 - "$@" <<'PY'
import json, os, sys, urllib.request
hello = json.loads(os.environ["LAB_HELLO"])
method, path = sys.argv[1], sys.argv[2]
body = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(hello["control"] + path, data=body, method=method)
print(urllib.request.urlopen(req).read().decode())
PY
}

lab_front() {
    local front
    front=$(lab POST /fronts '{"tls": true}' \
        | python3 -c 'import json,sys; f=json.load(sys.stdin); print(f["id"], f["url"])')
    read -r LAB_FRONT_ID LAB_FRONT_URL <<< "$front"
    LAB_CA=$(python3 -c 'import json,os; print(json.loads(os.environ["LAB_HELLO"])["ca"])')
}
