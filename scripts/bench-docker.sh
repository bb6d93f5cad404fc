#!/usr/bin/env bash
# Apply benchmark (issue 4): 20 containers from one image on a network, with
# imm and with docker-compose on the equivalent compose file, on the same
# daemon; then a no-op re-apply with each. The image is built once
# beforehand (FROM scratch + busybox) and used by id by both.
# Goal: imm's apply at most half of Compose's, its no-op re-apply < 200 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}

cargo build --release --quiet
scripts/prepare-busybox.sh >/dev/null
command -v docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }
imm="$PWD/target/release/imm"
work=$(mktemp -d)
cleanup() {
  (cd "$work/imm" && "$imm" destroy --auto-approve >/dev/null 2>&1) || true
  (cd "$work/compose" && docker-compose down >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/base" "$work/imm" "$work/compose"
cp examples/hello/base/Dockerfile examples/hello/base/busybox "$work/base/"
image=$(docker build -q "$work/base")

cat > "$work/imm/main.imm" <<IMM
resource "docker_network" "bench" {
  name = "bench"
}

resource "docker_container" "app" {
  count   = 20
  image   = "$image"
  name    = "app"
  command = ["httpd", "-f", "-p", "8080", "-h", "/tmp"]
  network {
    name    = docker_network.bench.name
    aliases = ["app"]
  }
}
IMM

{
  echo "version: \"2.4\""
  echo "services:"
  for i in $(seq 0 19); do
    cat <<YAML
  app$i:
    image: $image
    command: ["httpd", "-f", "-p", "8080", "-h", "/tmp"]
    networks:
      bench:
        aliases: [app]
YAML
  done
  echo "networks:"
  echo "  bench: {}"
} > "$work/compose/docker-compose.yml"

seconds() { local start=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $start" | bc; }
for run in $(seq 1 "$runs"); do
  # Each tool on an otherwise idle daemon: apply, no-op re-apply, tear down.
  imm_apply=$(cd "$work/imm" && seconds "$imm" apply --auto-approve)
  imm_noop=$(cd "$work/imm" && seconds "$imm" apply --auto-approve)
  imm_running=$(docker ps -q | wc -l)
  (cd "$work/imm" && "$imm" destroy --auto-approve >/dev/null)
  compose_up=$(cd "$work/compose" && seconds docker-compose up -d)
  compose_noop=$(cd "$work/compose" && seconds docker-compose up -d)
  compose_running=$(docker ps -q | wc -l)
  (cd "$work/compose" && docker-compose down >/dev/null 2>&1)
  printf 'run %s: imm apply %.2f s, no-op re-apply %.3f s (%s running) | docker-compose up -d %.2f s, no-op %.2f s (%s running)\n' \
    "$run" "$imm_apply" "$imm_noop" "$imm_running" "$compose_up" "$compose_noop" "$compose_running"
done

# The daemon's own floor: create 20 containers on a network, then start them
# all at once with the docker CLI (no tool logic at all).
docker network create bench-floor >/dev/null
floor=$(
  for i in $(seq 1 20); do docker create --name "bench-floor-$i" --network bench-floor "$image" httpd -f -p 8080 -h /tmp >/dev/null; done
  seconds sh -c "seq 1 20 | xargs -P 20 -I{} docker start bench-floor-{}"
)
docker rm -f $(seq -f "bench-floor-%g" 1 20) >/dev/null
docker network rm bench-floor >/dev/null
printf 'daemon floor: starting 20 created containers in parallel takes %.2f s\n' "$floor"
