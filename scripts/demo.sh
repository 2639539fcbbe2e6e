#!/usr/bin/env bash
# Builds docker-credential-ecr and runs a real `get` against a local fake ECR (moto behind
# the test lab's front): no AWS account, no network. Shows the answer, that the second
# get is served from the cache, and the cache file it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import moto.server' 2>/dev/null || {
    echo "demo: needs moto's server: python3 -m pip install 'moto[server]'" >&2
    exit 1
}
cargo build --release --locked --quiet
bin="$PWD/target/release/docker-credential-ecr"

work=$(mktemp -d)
exec 3> >(python3 tests/support/lab.py --dir "$work/lab" > "$work/hello" 2> "$work/lab.stderr")
trap 'exec 3>&-; rm -rf "$work"' EXIT
mkdir -p "$work/lab"
for _ in $(seq 100); do [ -s "$work/hello" ] && break; sleep 0.1; done
[ -s "$work/hello" ] || { echo "demo: the fake ECR did not start:" >&2; cat "$work/lab.stderr" >&2; exit 1; }

lab() { python3 - "$work/hello" "$@" <<'PY'
import json, sys, urllib.request
hello = json.load(open(sys.argv[1]))
method, path = sys.argv[2], sys.argv[3]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(hello["control"] + path, data=body, method=method)
print(urllib.request.urlopen(req).read().decode())
PY
}
front=$(lab POST /fronts '{"tls": true}' | python3 -c 'import json,sys; f=json.load(sys.stdin); print(f["id"], f["url"])')
read -r front_id front_url <<< "$front"
ca=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca"])' "$work/hello")

export AWS_ACCESS_KEY_ID=AKIADEMODEMODEMODEMO AWS_SECRET_ACCESS_KEY=demo-secret
export AWS_ENDPOINT_URL_ECR="$front_url" AWS_CA_BUNDLE="$ca" AWS_EC2_METADATA_DISABLED=true
export AWS_ECR_CACHE_DIR="$work/cache"
registry=123456789012.dkr.ecr.us-east-1.amazonaws.com

echo "\$ echo $registry | docker-credential-ecr get"
echo "$registry" | "$bin" get
echo "\$ echo $registry | docker-credential-ecr get   # again: served from the cache"
echo "$registry" | "$bin" get
calls=$(lab GET "/fronts/$front_id/calls" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "ECR API calls made: $calls"
echo "cache: $(ls -l "$AWS_ECR_CACHE_DIR" | grep json)"
echo "\$ echo docker.io | docker-credential-ecr get   # not ECR: docker's not-found answer, no call"
echo docker.io | "$bin" get || echo "(exit $?)"
