#!/usr/bin/env bash
# Prepares what the examples build their images from, none of it committed:
# the static busybox of Debian's busybox-static in every examples/*/base/,
# and the nginx of Debian's nginx-light (with its libraries) in every
# examples/*/proxy/. Installs either package when missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prepare-busybox.sh
for example in examples/*/; do
  if grep -q 'context = "./proxy"' "$example/main.imm" 2>/dev/null; then
    scripts/prepare-proxy.sh "${example}proxy"
  fi
done
