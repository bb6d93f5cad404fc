#!/usr/bin/env bash
# Prepares what the examples build their images from, none of it committed:
# the static busybox of Debian's busybox-static in every examples/*/base/,
# the nginx of Debian's nginx-light (with its libraries) in every
# examples/*/proxy/, and Debian's etcdctl beside every Dockerfile that
# copies etcdctl/. Installs the packages when missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prepare-busybox.sh
for example in examples/*/; do
  if grep -q 'context = "./proxy"' "$example/main.imm" 2>/dev/null; then
    scripts/prepare-proxy.sh "${example}proxy"
  fi
done
for dockerfile in examples/*/*/Dockerfile; do
  if grep -q '^COPY etcdctl/' "$dockerfile"; then
    scripts/prepare-etcdctl.sh "$(dirname "$dockerfile")/etcdctl"
  fi
done
