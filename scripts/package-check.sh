#!/usr/bin/env bash
# CI test of the packaging: builds every release artifact with scripts/release.sh and
# exercises each one on this machine. Needs root (dpkg -i, buildah) and the tools .ci/run
# installs; a missing tool fails the check.
#
#   1. cargo deny check licenses bans sources
#   2. two release builds of the commit, from two directories at two times: the binaries
#      are byte-identical (the second is a `cargo install --path`, so that works too)
#   3. `version` prints the version and the commit; the dependency list is embedded
#   4. the .deb: its files and fields; dpkg -i, an end-to-end `get` through the installed
#      /usr/bin/docker-credential-ecr against the lab's fake ECR, beside Debian's
#      amazon-ecr-credential-helper; dpkg -r and --purge leave nothing behind
#   5. the alias .deb, the .rpm (rpm -qlp), the tarball, SHA256SUMS, the SBOM
#   6. the OCI image: user, labels (as in packaging/Dockerfile), no shell, `version` run in it
#   7. the Homebrew formula (ruby -c); `cargo package --locked` verified
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/lib/lab.sh

for tool in cargo cargo-deny cargo-deb cargo-generate-rpm cargo-cyclonedx cargo-auditable \
    help2man dpkg dpkg-deb rpm buildah skopeo ruby readelf python3 cmp; do
    command -v "$tool" > /dev/null || { echo "package-check: $tool is missing (.ci/run installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "package-check: needs root (dpkg -i, buildah)" >&2; exit 1; }

pkg=docker-credential-ecr
fail() { echo "package-check: FAIL: $*" >&2; exit 1; }
trap 'echo "package-check: FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
step_name=
step_start=
step() {
    [ -z "$step_name" ] || echo "package-check: $step_name took $(( $(date +%s) - step_start ))s"
    step_name=$1
    step_start=$(date +%s)
    echo "== package-check: $step_name"
}
# A file list against the expected one, as a diff on failure.
same_list() {
    local what=$1 expected=$2 actual=$3
    diff -u <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") \
        || fail "$what differs from what is expected (- expected, + actual)"
}

dpkg -s "$pkg" > /dev/null 2>&1 && fail "$pkg is already installed; dpkg --purge it first"
work=$(mktemp -d /tmp/$pkg-package-check.XXXXXX)
cleanup() {
    # A failed check must not leave the package on the machine.
    dpkg -s "$pkg" > /dev/null 2>&1 && dpkg --purge "$pkg" > /dev/null
    [ -z "${LAB_PID:-}" ] || lab_stop
    rm -rf "$work"
}
trap cleanup EXIT

step "cargo deny"
cargo deny --locked check licenses bans sources

step "release build A (every artifact)"
dist=$work/dist
started_a=$(date +%s)
scripts/release.sh --work "$work/a" --dist "$dist"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
target=$(rustc -vV | sed -n 's/^host: //p')
name=$pkg-$version-$target
commit=$(git rev-parse --short=12 HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || commit=$commit-dirty

step "release build B (another directory, later, through cargo install)"
# The wall clock is all that changes: SOURCE_DATE_EPOCH stays the commit time.
started_b=$(date +%s)
[ "$started_b" -gt "$started_a" ] || fail "build B must start later than build A"
scripts/release.sh --work "$work/elsewhere/b" --dist "$work/dist-b" --binary-only \
    --install "$work/cargo-root"
cmp "$dist/$name" "$work/cargo-root/bin/$pkg" \
    || fail "two builds of one commit differ: the release is not reproducible"
echo "package-check: reproducible: builds started $((started_b - started_a))s apart, $work/a and $work/elsewhere/b:"
echo "package-check: both $(sha256sum < "$dist/$name" | cut -d' ' -f1)"

step "version and embedded dependency list"
[ "$("$dist/$name" version)" = "$pkg $version ($commit)" ] \
    || fail "version printed '$("$dist/$name" version)', expected '$pkg $version ($commit)'"
readelf -S "$dist/$name" | grep -q '\.dep-v0' || fail "no .dep-v0 section: cargo-auditable did not run"

step "SHA256SUMS, tarball, SBOM"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match dist/"
same_list "the checksummed files" \
    "$(cd "$dist" && ls | grep -v '^SHA256SUMS$')" "$(cut -d' ' -f3 "$dist/SHA256SUMS")"
same_list "the tarball" "$(printf "$name/%s\n" '' CHANGELOG.md LICENSE README.md $pkg $pkg.1)" \
    "$(tar -tzf "$dist/$name.tar.gz" | sort)"
python3 - "$dist/$name.cdx.json" <<'PY' || fail "the SBOM is not a CycloneDX 1.5 BOM of the crate"
import json, sys
bom = json.load(open(sys.argv[1]))
assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5", bom["specVersion"]
assert bom["metadata"]["component"]["name"] == "docker-credential-ecr"
names = {c["name"] for c in bom["components"]}
assert {"aws-sdk-ecr", "ring", "rustls", "tokio"} <= names, sorted(names)
PY

step "Debian packages: contents and fields"
deb=$dist/${pkg}_$version-1_amd64.deb
alias_deb=$dist/$pkg-login_$version-1_amd64.deb
same_list "$deb" "$(printf '%s\n' ./usr/bin/$pkg ./usr/share/bash-completion/completions/$pkg \
        ./usr/share/doc/$pkg/README.md ./usr/share/doc/$pkg/changelog.gz \
        ./usr/share/doc/$pkg/copyright ./usr/share/fish/vendor_completions.d/$pkg.fish \
        ./usr/share/man/man1/$pkg.1.gz ./usr/share/zsh/vendor-completions/_$pkg)" \
    "$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -v '/$' | sort)"
dpkg-deb -f "$deb" Depends | grep -q 'libc6' || fail "$deb: Depends has no libc6"
same_list "$alias_deb" "$(printf '%s\n' \
        "./usr/bin/$pkg-login -> $pkg" "./usr/share/doc/$pkg-login/copyright" \
        "./usr/share/man/man1/$pkg-login.1.gz -> $pkg.1.gz")" \
    "$(dpkg-deb --fsys-tarfile "$alias_deb" | tar -tv | grep -v '/$' \
        | awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }' | sort)"
for field in Conflicts Replaces Provides; do
    [ "$(dpkg-deb -f "$alias_deb" "$field")" = amazon-ecr-credential-helper ] \
        || fail "$alias_deb: $field is '$(dpkg-deb -f "$alias_deb" "$field")'"
done
[ "$(dpkg-deb -f "$alias_deb" Depends)" = "$pkg" ] || fail "$alias_deb must depend on $pkg"

step "dpkg -i, get through the installed binary, dpkg -r and --purge"
reference=$(dpkg-query -W -f '${Status}' amazon-ecr-credential-helper 2> /dev/null || true)
dpkg -i "$deb"
installed=$(dpkg -L "$pkg")
cmp /usr/bin/$pkg "$dist/$name" || fail "the installed binary is not the release binary"
zcat /usr/share/man/man1/$pkg.1.gz | grep -q "^\.TH DOCKER-CREDENTIAL-ECR" \
    || fail "the installed man page has no .TH header"
[ "$(/usr/bin/$pkg version)" = "$pkg $version ($commit)" ] || fail "installed version is wrong"
completed=$(bash -c 'source "$1" && COMP_WORDS=("$2" con) COMP_CWORD=1 && _docker_credential_ecr \
    && echo "${COMPREPLY[*]}"' _ /usr/share/bash-completion/completions/$pkg $pkg)
[ "$completed" = configure ] || fail "installed bash completion of 'con' gave '$completed'"

lab_start "$work/lab"
lab_front
registry=123456789012.dkr.ecr.us-east-1.amazonaws.com
answer=$(echo "$registry" | env -i PATH=/usr/bin:/bin HOME="$work/home" \
    AWS_ACCESS_KEY_ID=AKIAPACKAGECHECKXXXX AWS_SECRET_ACCESS_KEY=package-check \
    AWS_ENDPOINT_URL_ECR="$LAB_FRONT_URL" AWS_CA_BUNDLE="$LAB_CA" AWS_EC2_METADATA_DISABLED=true \
    /usr/bin/$pkg get)
[ "$answer" = "{\"ServerURL\":\"$registry\",\"Username\":\"AWS\",\"Secret\":\"123456789012-auth-token\"}" ] \
    || fail "get through /usr/bin/$pkg answered: $answer"
calls=$(lab GET "/fronts/$LAB_FRONT_ID/calls" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$calls" = 1 ] || fail "the get made $calls ECR calls, expected 1"
[ -n "$(ls "$work/home/.cache/$pkg/"*.json)" ] || fail "the get cached nothing under HOME"
lab_stop
LAB_PID=
[ "$(dpkg-query -W -f '${Status}' amazon-ecr-credential-helper 2> /dev/null || true)" = "$reference" ] \
    || fail "installing $pkg changed amazon-ecr-credential-helper"

dpkg -r "$pkg"
dpkg --purge "$pkg"
dpkg -s "$pkg" > /dev/null 2>&1 && fail "$pkg is still known to dpkg after --purge"
# What is left of the list is a directory that another package still owns (/usr/bin...).
while read -r path; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    [ -d "$path" ] && dpkg -S "$path" > /dev/null 2>&1 && continue
    fail "$path is left behind after dpkg --purge"
done <<< "$installed"

step "RPM"
rpm_file=$(ls "$dist"/$pkg-$version-*.x86_64.rpm)
same_list "$rpm_file" "$(printf '%s\n' /usr/bin/$pkg /usr/share/bash-completion/completions/$pkg \
        /usr/share/doc/$pkg/CHANGELOG.md /usr/share/doc/$pkg/README.md \
        /usr/share/fish/vendor_completions.d/$pkg.fish /usr/share/licenses/$pkg/LICENSE \
        /usr/share/man/man1/$pkg.1.gz /usr/share/zsh/site-functions/_$pkg)" \
    "$(rpm -qlp "$rpm_file" | sort)"
[ "$(rpm -qp --qf '%{NAME} %{VERSION} %{LICENSE}' "$rpm_file")" = "$pkg $version Apache-2.0" ] \
    || fail "$rpm_file: $(rpm -qp --qf '%{NAME} %{VERSION} %{LICENSE}' "$rpm_file")"
[ "$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm_file" | grep " /usr/bin/$pkg$")" \
    = "-rwxr-xr-x /usr/bin/$pkg" ] || fail "$rpm_file: /usr/bin/$pkg is not 0755"
rpm -K "$rpm_file" > /dev/null || fail "$rpm_file: its digests do not check"
[ "$(rpm -qp --qf '[%{FILEDIGESTS} %{FILENAMES}\n]' "$rpm_file" | grep " /usr/bin/$pkg$" | cut -d' ' -f1)" \
    = "$(sha256sum < "$dist/$name" | cut -d' ' -f1)" ] || fail "the RPM's binary is not the release binary"
requires=$(rpm -qpR "$rpm_file")
grep -qx 'libc.so.6()(64bit)' <<< "$requires" || fail "$rpm_file does not require libc"
! grep -q '^/bin/sh' <<< "$requires" || fail "$rpm_file requires /bin/sh, but has no scripts"

step "OCI image"
buildah_() { buildah --root "$work/a/containers/storage" --runroot "$work/a/containers/run" \
    --storage-driver vfs "$@"; }
image=localhost/$pkg:$version
[ "$(buildah_ inspect --type image --format '{{.OCIv1.Config.User}}' "$image")" = 65532:65532 ] \
    || fail "the image does not run as 65532:65532"
labels=$(buildah_ inspect --type image --format '{{range $k, $v := .OCIv1.Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' "$image")
echo "$labels"
grep -qx "org.opencontainers.image.version=$version" <<< "$labels" || fail "image version label"
grep -qx "org.opencontainers.image.revision=$commit" <<< "$labels" || fail "image revision label"
same_list "the image's labels, against packaging/Dockerfile's" \
    "$(grep -o 'org\.opencontainers\.image\.[a-z]*' packaging/Dockerfile | sort -u)" \
    "$(cut -d= -f1 <<< "$labels" | grep '^org\.opencontainers\.' | sort -u)"
ctr=$(buildah_ from "$image")
mnt=$(buildah_ mount "$ctr")
for shell in bin/sh bin/bash usr/bin/sh usr/bin/bash bin/busybox; do
    [ ! -e "$mnt/$shell" ] || fail "the image has a shell: /$shell"
done
[ "$(stat -c %u:%g:%a "$mnt/home/nonroot")" = 65532:65532:700 ] || fail "/home/nonroot is not 65532's"
cmp "$mnt/usr/bin/$pkg" "$dist/$name" || fail "the image's binary is not the release binary"
buildah_ umount "$ctr" > /dev/null
[ "$(buildah_ run --isolation chroot "$ctr" -- /usr/bin/$pkg version)" = "$pkg $version ($commit)" ] \
    || fail "version in the image"
buildah_ rm "$ctr" > /dev/null
archived=$(skopeo inspect --config "oci-archive:$dist/$name.oci.tar")
python3 - "$version" "$archived" <<'PY' || fail "the OCI archive's config is not the image's"
import json, sys
config = json.loads(sys.argv[2])["config"]
assert config["User"] == "65532:65532", config["User"]
assert config["Labels"]["org.opencontainers.image.version"] == sys.argv[1], config["Labels"]
PY

step "Homebrew formula, cargo package"
ruby -c packaging/homebrew/$pkg.rb > /dev/null
ruby -c "$dist/$pkg.rb" > /dev/null
grep -q "sha256 \"$(sha256sum < "$dist/$pkg-$version.crate" | cut -d' ' -f1)\"" "$dist/$pkg.rb" \
    || fail "the released formula does not carry the crate's sha256"
cargo package --locked --allow-dirty
step done
echo "package-check: all packaging checks passed"
