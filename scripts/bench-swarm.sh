#!/usr/bin/env bash
# docker_service against `docker stack deploy` of the same service: time
# from the command to every replica running healthy, for a create and for a
# rolling update (one environment variable changed), at several replica
# counts. On the local engine (made a swarm if it is not one, left again
# afterwards), or with NODES=3 on three engines in network namespaces
# (scripts/swarm-nodes.sh; needs root), where it also measures how long
# the swarm takes to run every task again after a node's engine is killed.
#
#   scripts/bench-swarm.sh [REPLICAS...]      default: 3 10 30
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("${@:-3 10 30}")
read -r -a counts <<<"${counts[*]}"
# IMM=path/to/imm measures that binary instead of a fresh release build.
if [ -z "${IMM:-}" ]; then
  cargo build --release -q
  IMM=$PWD/target/release/imm
fi
scripts/prepare-examples.sh >/dev/null
work=$(mktemp -d /tmp/imm-bench-swarm.XXXX)
made_swarm=
nodes=
cleanup() {
  docker stack rm benchstack >/dev/null 2>&1 || true
  [ -n "$nodes" ] && scripts/swarm-nodes.sh down "$work/nodes" imbench || true
  if [ -n "$made_swarm" ]; then
    docker swarm leave --force >/dev/null 2>&1 || true
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

engine_block=
on_engine=
if [ "${NODES:-1}" = 3 ]; then
  nodes=1
  scripts/swarm-nodes.sh up "$work/nodes" imbench 10.254.0 3
  engine_block="engine \"nodes\" { endpoints = [\"unix://$work/nodes/n1/docker.sock\", \"unix://$work/nodes/n2/docker.sock\", \"unix://$work/nodes/n3/docker.sock\"] }"
  on_engine="engine = engine.nodes"
  export DOCKER_HOST=unix://$work/nodes/n1/docker.sock
elif [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
  made_swarm=1
fi

mkdir -p "$work/p/base" "$work/p/web"
cp examples/web-api-db/base/busybox "$work/p/base/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN mkdir -p /www && echo bench > /www/index.html\n' >"$work/p/base/Dockerfile"

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
# Waits until service NAME runs N tasks and its last update (if any) ended.
converged() {
  local name=$1 n=$2 t0; t0=$(date +%s)
  until [ "$(docker service ls --filter "name=$name" --format '{{.Replicas}}')" = "$n/$n" ] &&
    ! docker service inspect "$name" --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' | grep -q updating; do
    sleep 0.1
    if [ $(($(date +%s) - t0)) -gt 300 ]; then echo "$name did not converge in 300 s" >&2; exit 1; fi
  done
}

for n in "${counts[@]}"; do
  # A health check is a `docker exec`: dozens a second saturate two cores
  # and time out, so many replicas are checked less often (the same for
  # both tools).
  interval=1s timeout=1s
  if [ "$n" -gt 10 ]; then interval=3s timeout=2s; fi
  cat >"$work/p/main.imm" <<EOF
variable "mark" {
  default = "a"
}
$engine_block
resource "docker_image" "base" {
  $on_engine
  build {
    context = "./base"
  }
}
resource "docker_service" "web" {
  $on_engine
  image        = docker_image.base.id
  replicas     = $n
  command      = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  stop_timeout = "2s"
  runtime {
    env = { MARK = var.mark }
  }
  health {
    command  = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
    interval = "$interval"
    timeout  = "$timeout"
    retries  = 2
  }
  update {
    parallelism = 1
    monitor     = "2s"
  }
}
EOF
  # Warm-up: the image is built once, the swarm has seen the service.
  (cd "$work/p" && "$IMM" apply --auto-approve >/dev/null && "$IMM" destroy --auto-approve >/dev/null)
  t=$(now); (cd "$work/p" && "$IMM" apply --auto-approve >/dev/null); imm_create=$(elapsed "$t")
  t=$(now); (cd "$work/p" && "$IMM" apply --auto-approve --var mark=b >/dev/null); imm_update=$(elapsed "$t")
  image=$(docker service inspect p-default-web --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}')
  # The service goes, its image stays for the stack (imm destroy would
  # remove it).
  docker service rm p-default-web >/dev/null
  while [ -n "$(docker ps -q --filter label=com.docker.swarm.service.name=p-default-web)" ]; do sleep 0.2; done

  for mark in a b; do
    cat >"$work/stack-$mark.yml" <<EOF
version: "3.8"
services:
  web:
    image: $image
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 2s
    environment:
      MARK: "$mark"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: $interval
      timeout: $timeout
      retries: 2
    deploy:
      replicas: $n
      endpoint_mode: dnsrr
      update_config: { parallelism: 1, monitor: 2s, order: start-first, failure_action: rollback }
      restart_policy: { condition: any, delay: 0s }
EOF
  done
  t=$(now); docker stack deploy -c "$work/stack-a.yml" benchstack >/dev/null 2>&1; converged benchstack_web "$n"; stack_create=$(elapsed "$t")
  t=$(now); docker stack deploy -c "$work/stack-b.yml" benchstack >/dev/null 2>&1; sleep 0.5; converged benchstack_web "$n"; stack_update=$(elapsed "$t")
  docker stack rm benchstack >/dev/null
  while docker network ls --format '{{.Name}}' | grep -q benchstack; do sleep 0.2; done
  (cd "$work/p" && "$IMM" destroy --auto-approve >/dev/null)
  printf '%s replicas: imm create %.1f s, update %.1f s | docker stack deploy create %.1f s, update %.1f s\n' \
    "$n" "$imm_create" "$imm_update" "$stack_create" "$stack_update"
done

if [ -n "$nodes" ]; then
  # Six tasks over three nodes; node 3's engine is killed: how long until
  # six tasks run again on the two nodes left.
  sed -i 's/replicas     = [0-9]*/replicas     = 6/' "$work/p/main.imm"
  (cd "$work/p" && "$IMM" apply --auto-approve >/dev/null)
  on_node() { DOCKER_HOST=unix://$work/nodes/n$1/docker.sock docker ps -q --filter label=com.docker.swarm.service.name=p-default-web | wc -l; }
  echo "before the loss: $(on_node 1)/$(on_node 2)/$(on_node 3) tasks on nodes 1/2/3"
  t=$(now); scripts/swarm-nodes.sh kill "$work/nodes" imbench 3 2>/dev/null
  until [ "$(($(on_node 1) + $(on_node 2)))" -ge 6 ]; do
    sleep 0.2
    if [ "$(echo "$(elapsed "$t") > 120" | bc)" = 1 ]; then echo "not rescheduled in 120 s" >&2; exit 1; fi
  done
  printf 'node 3 lost: 6 tasks run on nodes 1 and 2 again after %.1f s\n' "$(elapsed "$t")"
fi
