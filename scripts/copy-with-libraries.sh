#!/usr/bin/env bash
# Copies a dynamically linked program and its shared-library closure (the
# dynamic loader included) into a root file system for a FROM scratch image.
# Usage: scripts/copy-with-libraries.sh PROGRAM ROOTFS
set -euo pipefail
program=${1:?usage: scripts/copy-with-libraries.sh PROGRAM ROOTFS}
rootfs=${2:?usage: scripts/copy-with-libraries.sh PROGRAM ROOTFS}
copy() { mkdir -p "$rootfs$(dirname "$1")"; cp -L "$1" "$rootfs$1"; }
copy "$program"
# ldd prints both forms: "libc.so.6 => /lib/…" and "\t/lib64/ld-linux…".
ldd "$program" | awk '/=> \//{print $3} /^\t\//{print $1}' | while read -r lib; do copy "$lib"; done
