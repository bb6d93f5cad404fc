#!/usr/bin/env bash
# Runs Packer: the docker builder on the base image (no pull), provisioned
# by Ansible (playbook.yml), committed as an image. Each run is counted in
# ../packer-builds.log (the example's test checks that staging and prod
# share one build). Prints {"id": "sha256:…"} as its last line.
# Usage: build.sh BASE_IMAGE
set -euo pipefail
base=$1
cd "$(dirname "$0")"
# Nothing is written into this directory: its files are the fingerprint.
log=$(mktemp)
PACKER_CACHE_DIR=$(mktemp -d)
trap 'rm -rf "$log" "$PACKER_CACHE_DIR"' EXIT
export CHECKPOINT_DISABLE=1 PACKER_NO_COLOR=1 PACKER_CACHE_DIR
# Packer's messages are shown as they come (the apply's progress display).
packer build -machine-readable -var "base=$base" app.json 2>&1 | tee "$log" |
  sed -u -n 's/^[0-9]*,[^,]*,ui,\(say\|message\|error\),\(.*\)$/\2/p' || {
  echo "packer build failed" >&2
  exit 1
}
id=$(sed -n 's/.*,docker,artifact,0,id,\(sha256:[0-9a-f]*\).*/\1/p' "$log" | tail -1)
[ -n "$id" ] || { echo "no image id in Packer's output" >&2; exit 1; }
echo built >> ../packer-builds.log
echo "{\"id\": \"$id\"}"
