#!/usr/bin/env bash
# Puts Debian's etcdctl (package etcd-client, installed if missing) with its
# shared libraries into DIR, a root file system a Dockerfile copies into an
# image (COPY etcdctl/ /): how an example's app reads etcd itself.
# Usage: scripts/prepare-etcdctl.sh DIR. Idempotent.
set -euo pipefail
dir=${1:?usage: scripts/prepare-etcdctl.sh DIR}
if ! [ -x /usr/bin/etcdctl ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-client >/dev/null
fi
stamp="$(sha256sum /usr/bin/etcdctl | cut -c1-16)"
if [ -f "$dir/.etcdctl-$stamp" ]; then exit 0; fi
rm -rf "$dir"
mkdir -p "$dir"
"$(dirname "$0")/copy-with-libraries.sh" /usr/bin/etcdctl "$dir"
touch "$dir/.etcdctl-$stamp"
echo "prepared etcdctl in $dir"
