#!/usr/bin/env bash
# Puts the static busybox of Debian's busybox-static package into
# examples/hello/base/, where the FROM-scratch base image is built from.
set -euo pipefail
cd "$(dirname "$0")/.."
target=examples/hello/base/busybox
if [ -x "$target" ]; then exit 0; fi
if [ ! -x /bin/busybox ] || ! file -L /bin/busybox 2>/dev/null | grep -q "statically linked"; then
  if ! dpkg -s busybox-static >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
  fi
fi
cp "$(command -v busybox || echo /bin/busybox)" "$target"
chmod 0755 "$target"
echo "copied $(readlink -f "$(command -v busybox || echo /bin/busybox)") to $target"
