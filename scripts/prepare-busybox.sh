#!/usr/bin/env bash
# Makes sure a static busybox (Debian's busybox-static) is installed, and
# copies it into examples/hello/base/, where the FROM-scratch base image of
# the examples is built from. The tests copy it from /bin/busybox themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
is_static() { [ -x "$1" ] && ! ldd "$1" >/dev/null 2>&1; }
if ! is_static /bin/busybox; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
for example in examples/*/base; do
  if [ ! -x "$example/busybox" ]; then
    cp /bin/busybox "$example/busybox"
    chmod 0755 "$example/busybox"
    echo "copied the static /bin/busybox (busybox-static) to $example/busybox"
  fi
done
