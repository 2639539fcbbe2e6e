#!/usr/bin/env bash
# Benchmarks docker-credential-ecr against the reference helper (Debian's
# amazon-ecr-credential-helper, `docker-credential-ecr-login`), side by side in one run,
# against the same local fake ECR the tests use. Prints a markdown table (also written to
# target/bench/results.md with the raw JSON beside it). Needs root (a private mount
# namespace makes the real AWS endpoint names resolve to the local front).
#
#   scripts/bench.sh                    # 300 warm runs, 37 cold runs
#   BENCH_RUNS=50 scripts/bench.sh
#   BENCH_VARIANTS=1 scripts/bench.sh   # also build and measure the configurations we
#                                       # rejected (about 15 min of release builds)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v docker-credential-ecr-login > /dev/null || need_apt+=(amazon-ecr-credential-helper)
command -v valgrind > /dev/null || need_apt+=(valgrind)
command -v strace > /dev/null || need_apt+=(strace)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v hyperfine > /dev/null || need_apt+=(hyperfine)
if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" > /dev/null
fi
python3 -c 'import moto.server' || { echo "bench: needs python3 -m pip install 'moto[server]'" >&2; exit 1; }

# Debian 12's hyperfine (1.15) cannot feed stdin to a command run without a shell, and a
# shell in the measurement would swamp a 1 ms process. 1.16 added --input.
hyperfine=hyperfine
if ! hyperfine --help | grep -q -- '--input'; then
    hyperfine=target/bench-tools/bin/hyperfine
    [ -x "$hyperfine" ] || cargo install --quiet --locked hyperfine --version 1.20.0 --root target/bench-tools
fi

cargo build --release --locked --quiet

# Each variant is this source with one decision undone (or one alternative taken), built
# the same way but unstripped, so that callgrind can name functions; bench.py strips a copy
# to measure size. A variant's set-up step may leave extra cargo arguments in `cargo-args`
# and RUSTFLAGS in `rustflags`. --target keeps RUSTFLAGS off the build scripts and
# proc-macros.
variant_args=()
host=$(rustc -vV | sed -n 's/^host: //p')
build_variant() {
    local name=$1; shift
    local dir=target/bench-variants/$name
    rm -rf "$dir" && mkdir -p "$dir"
    cp -r Cargo.toml Cargo.lock build.rs src "$dir/"
    (cd "$dir" && "$@" && RUSTFLAGS=$(cat rustflags 2> /dev/null) CARGO_TARGET_DIR=../target \
        cargo build --release --quiet --target "$host" --config profile.release.strip=false \
        $(cat cargo-args 2> /dev/null))
    cp "target/bench-variants/target/$host/release/docker-credential-ecr" "$dir/"
    variant_args+=(--variant "$name=$dir/docker-credential-ecr")
}
if [ -n "${BENCH_VARIANTS:-}" ]; then
    build_variant unstripped true
    build_variant aws-lc sed -i -e 's/"rustls-ring"/"rustls-aws-lc"/' \
        -e 's/CryptoMode::Ring/CryptoMode::AwsLc/' Cargo.toml src/token_source.rs
    build_variant sdk-default-features \
        sed -i -e '/^aws-config\|^aws-sdk-ecr/s/default-features = false, //' Cargo.toml
    build_variant cargo-default-profile sh -c 'echo "--config profile.release.lto=false
        --config profile.release.codegen-units=16 --config profile.release.panic=\"unwind\"" > cargo-args'
    build_variant static-glibc sh -c 'echo "-C target-feature=+crt-static" > rustflags'
fi
mkdir -p target/bench
hosts=$(mktemp)
trap 'rm -f "$hosts"' EXIT
# The bench's front answers for the real endpoint names on an address of its own.
printf '127.0.0.1 localhost\n127.0.0.10 api.ecr.us-east-1.amazonaws.com sts.us-east-1.amazonaws.com sts.amazonaws.com\n' > "$hosts"
unshare -m --propagation private sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" \
    python3 scripts/bench.py \
        --ours target/release/docker-credential-ecr \
        --reference "$(command -v docker-credential-ecr-login)" \
        --hyperfine "$hyperfine" \
        --runs "${BENCH_RUNS:-300}" \
        --out target/bench "${variant_args[@]}"
