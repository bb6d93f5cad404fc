#!/usr/bin/env bash
# Runs the whole test suite. Installs what it needs first (idempotent), so it
# works on a fresh machine: see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust (https://rustup.rs) and retry" >&2
  exit 1
fi

# The Docker tests build their base image FROM scratch with the static
# busybox of Debian's busybox-static (no registry is reachable).
scripts/prepare-examples.sh >/dev/null
# The store and remote-state tests start a real etcd (Debian's etcd-server)
# on a free loopback port; etcdctl checks what imm wrote.
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
fi
# The state and store tests start their own PostgreSQL (Debian's
# postgresql: initdb in a temporary directory, a free loopback port).
# Installing it must not start the cluster Debian makes: policy-rc.d
# forbids starting services meanwhile.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
# The multi-node tests run a registry (Debian's docker-registry) and sshd
# (openssh-server) in a node's namespace. Installing must not start either
# on the host's network: policy-rc.d forbids starting services meanwhile.
if ! command -v docker-registry >/dev/null 2>&1 || [ ! -x /usr/sbin/sshd ]; then
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry openssh-server openssh-client >/dev/null
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
# The Packer example builds with Debian's packer and ansible, on a base
# made by debootstrap (once per machine: it is cached on the daemon).
if ! command -v packer >/dev/null 2>&1 || ! command -v ansible-playbook >/dev/null 2>&1 ||
  ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq packer ansible debootstrap >/dev/null
fi
# The Compose import is compared with docker-compose itself (Debian's).
if ! command -v docker-compose >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "warning: no Docker daemon answers; the Docker tests will fail with how to start one" >&2
fi

if cargo nextest --version >/dev/null 2>&1; then
  # The project has no doc tests (nextest does not run them).
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
