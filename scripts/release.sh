#!/usr/bin/env bash
# Builds every release artifact of one commit into dist/, reproducibly:
#
#   scripts/release.sh [--dist DIR] [--work DIR] [--binary-only] [--install ROOT]
#
# The sources are a `git archive` of HEAD (of the working tree's tracked files, via
# `git stash create`, when it has changes: then the commit is stamped "-dirty"), unpacked
# in a fresh directory, so nothing untracked or ignored can leak into a release. Paths
# of that directory and of the cargo home are remapped and SOURCE_DATE_EPOCH is the
# commit time, so the same commit gives the same binary in any directory at any time
# (scripts/package-check.sh builds twice and compares). docs/release.md lists the steps.
#
# dist/ gets: the binary, a tarball (binary, man page, README, LICENSE, CHANGELOG), the
# .deb packages (docker-credential-ecr and the docker-credential-ecr-login alias), the
# .rpm, a CycloneDX SBOM, an OCI image archive built FROM scratch with buildah, and
# SHA256SUMS over all of them. --binary-only stops after the binary; --install ROOT builds
# it with `cargo install --path . --root ROOT` instead of `cargo build` (the second build of
# scripts/package-check.sh, which so also proves that `cargo install` works).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

dist=$root/dist
work=
binary_only=false
install_root=
while [ $# -gt 0 ]; do
    case $1 in
        --dist) dist=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --binary-only) binary_only=true; shift ;;
        --install) install_root=$2; shift 2 ;;
        *) echo "release: unknown argument $1" >&2; exit 2 ;;
    esac
done

need() {
    for tool in "$@"; do
        command -v "$tool" > /dev/null || {
            echo "release: $tool is missing (.ci/run installs it)" >&2
            exit 1
        }
    done
}
need git cargo cargo-auditable tar gzip
$binary_only || need help2man sha256sum cargo-deb cargo-generate-rpm cargo-cyclonedx buildah ldd

cd "$root"
rev=$(git stash create)
commit=$(git rev-parse --short=12 HEAD)
[ -n "$rev" ] && commit=$commit-dirty
allow_dirty=()
[ -n "$rev" ] && allow_dirty=(--allow-dirty)
rev=${rev:-HEAD}
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
version=$(git show "$rev:Cargo.toml" | sed -n 's/^version = "\(.*\)"$/\1/p' | head -n 1)
target=$(rustc -vV | sed -n 's/^host: //p')
name=docker-credential-ecr-$version-$target

[ -n "$work" ] || work=$(mktemp -d /tmp/docker-credential-ecr-release.XXXXXX)
src=$work/docker-credential-ecr-$version
rm -rf "$src"
mkdir -p "$src" "$dist"
work=$(cd "$work" && pwd)
dist=$(cd "$dist" && pwd)
git archive --format=tar "$rev" | tar -x -C "$src"

# Everything that could differ between two builds of one commit is pinned here: the
# directories (source, cargo home, and the C files that ring's build script compiles),
# the commit stamp (no .git in the export) and the time.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTFLAGS CARGO_BUILD_RUSTFLAGS
sep=$'\x1f'
export CARGO_ENCODED_RUSTFLAGS="--remap-path-prefix=$src=/build/docker-credential-ecr-$version${sep}--remap-path-prefix=$cargo_home=/cargo"
export CFLAGS="-ffile-prefix-map=$src=/build/docker-credential-ecr-$version -ffile-prefix-map=$cargo_home=/cargo"
export DOCKER_CREDENTIAL_ECR_COMMIT=$commit
export TZ=UTC LC_ALL=C

cd "$src"
# cargo-auditable embeds the dependency list (a .dep-v0 section) so that scanners can
# audit the binary itself.
if [ -n "$install_root" ]; then
    mkdir -p "$install_root"
    install_root=$(cd "$install_root" && pwd)
    cargo auditable install --path . --locked --root "$install_root"
    bin=$install_root/bin/docker-credential-ecr
else
    cargo auditable build --release --locked
    bin=$src/target/release/docker-credential-ecr
fi
cp "$bin" "$dist/$name"
echo "release: $dist/$name ($commit)"
$binary_only && exit 0

# The man page is the binary's own --help and version, so it cannot drift from them.
mkdir -p target/man
help2man --no-info --no-discard-stderr \
    --name "Docker credential helper for Amazon ECR" \
    --output target/man/docker-credential-ecr.1 "$bin"
gzip -9n < target/man/docker-credential-ecr.1 > target/man/docker-credential-ecr.1.gz

tar_reproducibly() {
    tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
        --format=gnu "$@"
}
stage=$work/tarball/$name
rm -rf "$work/tarball"
mkdir -p "$stage"
cp "$bin" target/man/docker-credential-ecr.1 README.md LICENSE CHANGELOG.md "$stage/"
tar_reproducibly -C "$work/tarball" -c "$name" | gzip -9n > "$dist/$name.tar.gz"

# The release profile strips already; --no-strip keeps the packaged binary identical to
# the one in the tarball.
cargo deb --no-build --no-strip --locked --output "$dist/"
cargo deb --no-build --no-strip --locked --variant login --output "$dist/"
cargo generate-rpm --output "$dist/"

cargo cyclonedx --format json --spec-version 1.5 --override-filename docker-credential-ecr
cp docker-credential-ecr.json "$dist/$name.cdx.json"

# The crate as crates.io will serve it after `cargo publish` (packaged from the checkout,
# whose .git gives it .cargo_vcs_info.json and so a commit for `version`), and the
# Homebrew formula that builds from it, with that crate's checksum.
(cd "$root" && cargo package --locked --no-verify "${allow_dirty[@]}" --target-dir "$work/crate")
crate=docker-credential-ecr-$version.crate
cp "$work/crate/package/$crate" "$dist/"
sed -e "s|^  url .*|  url \"https://static.crates.io/crates/docker-credential-ecr/$crate\"|" \
    -e "s|^  sha256 .*|  sha256 \"$(sha256sum "$dist/$crate" | cut -d' ' -f1)\"|" \
    packaging/homebrew/docker-credential-ecr.rb > "$dist/docker-credential-ecr.rb"

# The OCI image: the root filesystem that packaging/Dockerfile's final stage gets from
# its build stage, assembled here from this binary, committed FROM scratch. buildah
# keeps its storage under $work so that a release never touches the machine's images.
rootfs=$work/rootfs
rm -rf "$rootfs"
packaging/oci/rootfs.sh "$bin" "$rootfs"
image=localhost/docker-credential-ecr:$version
buildah_() { buildah --root "$work/containers/storage" --runroot "$work/containers/run" \
    --storage-driver vfs "$@"; }
ctr=$(buildah_ from scratch)
buildah_ copy "$ctr" "$rootfs/" / > /dev/null
# Copies reset owners to root; the home directory is the one thing user 65532 must own.
buildah_ copy --chown 65532:65532 "$ctr" "$rootfs/home" /home > /dev/null
buildah_ config \
    --user 65532:65532 --env HOME=/home/nonroot \
    --entrypoint '["/usr/bin/docker-credential-ecr"]' --cmd version \
    --label org.opencontainers.image.title=docker-credential-ecr \
    --label "org.opencontainers.image.description=Docker credential helper for Amazon ECR" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$commit" \
    --label "org.opencontainers.image.created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" \
    --label org.opencontainers.image.licenses=Apache-2.0 \
    --label "org.opencontainers.image.source=$(sed -n 's/^repository = "\(.*\)"$/\1/p' Cargo.toml)" \
    --label "org.opencontainers.image.documentation=$(sed -n 's/^documentation = "\(.*\)"$/\1/p' Cargo.toml)" \
    "$ctr"
buildah_ commit --quiet --timestamp "$SOURCE_DATE_EPOCH" --rm "$ctr" "$image" > /dev/null
rm -f "$dist/$name.oci.tar"
buildah_ push --quiet "$image" "oci-archive:$dist/$name.oci.tar:$image"
echo "$work/containers" > "$work/buildah-root"

cd "$dist"
rm -f SHA256SUMS
find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | sort | xargs sha256sum > SHA256SUMS
echo "release: artifacts in $dist:"
ls -l "$dist"
