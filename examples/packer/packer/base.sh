#!/bin/sh
# Builds the base image Packer starts from: Debian (bookworm, minbase) with
# Python for Ansible, made by debootstrap and imported into the daemon: no
# registry is needed. The image is named by a hash of this script, so a
# machine pays for debootstrap once; later builds find it.
# Prints {"image": "NAME:TAG"} as its last line (the exec's outputs).
set -eu
tag=$(sha256sum "$0" | cut -c1-12)
image="imm-debian-python:$tag"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap bookworm (minbase, python3) into $root"
  debootstrap --variant=minbase --include=python3 bookworm "$root" http://deb.debian.org/debian >/dev/null
  tar -C "$root" -c . | docker import - "$image" >/dev/null
  echo "imported $image"
else
  echo "found $image on the daemon"
fi
echo "{\"image\": \"$image\"}"
