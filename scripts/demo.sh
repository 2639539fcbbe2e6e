#!/usr/bin/env bash
# Builds docker-credential-ecr and runs a real `get` against a local fake ECR (moto behind
# the test lab's front): no AWS account, no network. Shows the answer, that the second
# get is served from the cache, and the cache file it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/lab.sh
cargo build --release --locked --quiet
bin="$PWD/target/release/docker-credential-ecr"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lab_start "$work"
trap 'lab_stop; rm -rf "$work"' EXIT
lab_front

export AWS_ACCESS_KEY_ID=AKIADEMODEMODEMODEMO AWS_SECRET_ACCESS_KEY=demo-secret
export AWS_ENDPOINT_URL_ECR="$LAB_FRONT_URL" AWS_CA_BUNDLE="$LAB_CA" AWS_EC2_METADATA_DISABLED=true
export AWS_ECR_CACHE_DIR="$work/cache"
registry=123456789012.dkr.ecr.us-east-1.amazonaws.com

echo "\$ echo $registry | docker-credential-ecr get"
echo "$registry" | "$bin" get
echo "\$ echo $registry | docker-credential-ecr get   # again: served from the cache"
echo "$registry" | "$bin" get
calls=$(lab GET "/fronts/$LAB_FRONT_ID/calls" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "ECR API calls made: $calls"
echo "cache: $(ls -l "$AWS_ECR_CACHE_DIR" | grep json)"
echo "\$ echo docker.io | docker-credential-ecr get   # not ECR: docker's not-found answer, no call"
echo docker.io | "$bin" get || echo "(exit $?)"
