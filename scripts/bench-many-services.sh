#!/usr/bin/env bash
# How much one state holds: N docker_service resources (one replica each,
# with a file and a secret) on the local engine (made a single-node swarm if
# it is not one, left again afterwards). Prints the apply time, the state's
# size per service, and `imm plan` with and without refresh.
#
#   scripts/bench-many-services.sh [N]      default: 40
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-40}
# IMM=path/to/imm measures that binary instead of a fresh release build.
if [ -z "${IMM:-}" ]; then
  cargo build --release -q
  IMM=$PWD/target/release/imm
fi
scripts/prepare-examples.sh >/dev/null
work=$(mktemp -d /tmp/imm-bench-services.XXXX)
made_swarm=
cleanup() {
  (cd "$work/p" && BENCH_TOKEN=t "$IMM" destroy --auto-approve >/dev/null 2>&1) || true
  if [ -n "$made_swarm" ]; then
    docker swarm leave --force >/dev/null 2>&1 || true
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
  made_swarm=1
fi

mkdir -p "$work/p/base"
cp examples/web-api-db/base/busybox "$work/p/base/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' >"$work/p/base/Dockerfile"
cat >"$work/p/main.imm" <<EOF
secret "token" {
  from = "env:BENCH_TOKEN"
}
resource "docker_image" "base" {
  build {
    context = "./base"
  }
}
resource "docker_service" "svc" {
  count   = $n
  image   = docker_image.base.id
  command = ["sleep", "100000"]
  runtime {
    env     = { INDEX = count.index }
    files   = { "/etc/app.conf" = "index \${count.index}" }
    secrets = { token = secret.token }
  }
}
EOF
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
export BENCH_TOKEN=t
cd "$work/p"
t=$(now); "$IMM" apply --auto-approve >/dev/null; apply=$(elapsed "$t")
bytes=$(wc -c <.imm/state/default.json)
t=$(now); "$IMM" plan --detailed-exitcode >/dev/null; plan=$(elapsed "$t")
t=$(now); "$IMM" plan --detailed-exitcode --refresh=false >/dev/null; plan_cached=$(elapsed "$t")
printf '%s services: apply %.1f s; state %s bytes (%s per service); plan %.2f s, with --refresh=false %.2f s\n' \
  "$n" "$apply" "$bytes" "$((bytes / n))" "$plan" "$plan_cached"
