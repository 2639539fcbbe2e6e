#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and the end-to-end tests (which
# need root, moto[server], docker-registry, skopeo, docker.io and the docker SDK: see
# .ci/run for the install steps), then the packaging check: every release artifact built
# and exercised (scripts/package-check.sh, which also needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
scripts/package-check.sh
