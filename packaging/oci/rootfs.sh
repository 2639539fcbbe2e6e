#!/usr/bin/env bash
# Lays out the root filesystem of the docker-credential-ecr image:
#
#   packaging/oci/rootfs.sh BINARY DIR
#
# The binary, the shared libraries it loads (glibc and libgcc_s, as `ldd` lists them), the
# CA bundle that rustls reads, an /etc/passwd naming the non-root user 65532 with a HOME
# it owns (the token cache lives there), and /tmp. No shell, no package manager. Used by
# packaging/Dockerfile's build stage and by scripts/release.sh (FROM scratch with buildah),
# so both images hold the same files.
set -euo pipefail
bin=$1
out=$2

mkdir -p "$out/usr/bin" "$out/etc/ssl/certs" "$out/home/nonroot" "$out/tmp"
install -m 0755 "$bin" "$out/usr/bin/docker-credential-ecr"
# Each line of ldd is `name => /path (addr)` or `/lib64/ld-linux… (addr)`; the vDSO has no file.
ldd "$bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | while read -r lib; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    > "$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$out/etc/group"
chown 65532:65532 "$out/home/nonroot"
chmod 0700 "$out/home/nonroot"
chmod 1777 "$out/tmp"
