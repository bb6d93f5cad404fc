#!/usr/bin/env bash
# Switching under load, measured: examples/web-api-db with its API replaced
# SWITCHES times (a run-time change, default 20) while two busy loops load
# both cores and a client in a container asks http://web:8080/cgi-bin/items
# as fast as it can (busybox wget, a name lookup per request). Three ways:
#
#   proxy    imm, web and api behind docker_proxy (the example as it is)
#   alias    imm, web and api on network aliases only (Docker's DNS)
#   compose  docker-compose up -d of the changed service, same images
#
# Prints, per way: failed requests, requests/s through the served name, the
# median time of one switch, and (imm) the median time from the last new
# replica healthy to the last old one gone; (compose) from the first old
# replica stopped to the last new one healthy. Usage:
#   scripts/bench-switch.sh [SWITCHES]
set -euo pipefail
cd "$(dirname "$0")/.."
switches=${1:-20}

cargo build --release --quiet
imm=$PWD/target/release/imm
scripts/prepare-examples.sh >/dev/null
command -v docker-compose >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
}

work=$(mktemp -d /tmp/imm-bench-switch.XXXXXX)
busy=()
cleanup() {
  for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done
  docker rm -f bench-switch-client bench-switch-cached >/dev/null 2>&1 || true
  # By label: the example's data volume refuses `imm destroy` (prevent_destroy).
  for project in bench-proxy bench-alias; do
    docker ps -aq --filter "label=imm.project=$project" | xargs -r docker rm -f >/dev/null
    docker network ls -q --filter "label=imm.project=$project" | xargs -r docker network rm >/dev/null
    docker volume ls -q --filter "label=imm.project=$project" | xargs -r docker volume rm >/dev/null
    docker images --format '{{.Repository}}:{{.Tag}}' | grep "^imm/$project/" | xargs -r docker rmi -f >/dev/null
  done
  [ -f "$work/compose/docker-compose.yml" ] && (cd "$work/compose" && docker-compose -p benchswitchcompose down -v >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the clients on NETWORK from IMAGE, one line per answer: one asks
# web by name (a lookup per request, web then asks api by name), one
# resolved api once at its start and keeps asking that address (a client
# that caches the name, as connection pools and many runtimes do).
start_client() {
  docker rm -f bench-switch-client bench-switch-cached >/dev/null 2>&1 || true
  docker run -d --name bench-switch-client --network "$1" "$2" sh -c \
    'while true; do r=$(timeout 10 wget -q -O - http://web:8080/cgi-bin/items 2>&1); case "$r" in *apple*) echo ok;; *) echo "FAIL $r";; esac; done' >/dev/null
  docker run -d --name bench-switch-cached --network "$1" "$2" sh -c \
    'ip=$(ping -c 1 api | sed -n "s/^PING [^ ]* (\([0-9.]*\)).*/\1/p"); while true; do r=$(timeout 10 wget -q -O - "http://$ip:8080/cgi-bin/items" 2>&1); case "$r" in *apple*) echo "ok $(date +%s)";; *) echo "FAIL $(date +%s)";; esac; sleep 0.1; done' >/dev/null
}

# Reads the clients' tallies and the events into one result line.
report() { # way, seconds, events file, switch windows file
  docker logs bench-switch-client >"$work/client.log" 2>/dev/null
  docker logs bench-switch-cached >"$work/cached.log" 2>/dev/null
  docker rm -f bench-switch-client bench-switch-cached >/dev/null
  python3 - "$1" "$2" "$3" "$4" "$work/client.log" "$work/cached.log" <<'PY'
import sys, statistics
way, seconds, events, windows, client, cached = sys.argv[1:]
seconds = float(seconds)
answers = [l.strip() for l in open(client) if l.strip()]
ok = sum(1 for a in answers if a == "ok")
failed = sum(1 for a in answers if a.startswith("FAIL"))
spans = [tuple(map(int, l.split())) for l in open(windows) if l.strip()]
seen = [l.rstrip("\n").split("|", 2) for l in open(events) if l.strip()]
gaps, durations = [], []
for start, end in spans:
    durations.append((end - start) / 1e9)
    inside = [(int(t), a) for t, a, _ in seen if start <= int(t) <= end]
    healthy = [t for t, a in inside if a == "health_status: healthy"]
    gone = [t for t, a in inside if a in ("destroy", "die")]
    if not healthy or not gone:
        continue
    if way == "compose":
        gaps.append((max(healthy) - min(gone)) / 1e9)
    else:
        gaps.append((max(gone) - max(healthy)) / 1e9)
gap = f"{statistics.median(gaps):.2f} s" if gaps else "n/a"
# The caching client: answers once the first switch is over (it resolved
# before it, so only a stable address keeps answering).
after_first = spans[0][1] / 1e9 if spans else 0
cached_lines = [l.split() for l in open(cached) if l.startswith(("ok ", "FAIL "))]
cached_ok = sum(1 for w in cached_lines if w[0] == "ok" and int(w[1]) > after_first)
cached_failed = sum(1 for w in cached_lines if w[0] == "FAIL" and int(w[1]) > after_first)
what = "first old stopped → last new healthy" if way == "compose" else "last new healthy → last old gone"
print(f"{way:8} {len(spans)} switches: {failed} failed of {ok + failed} requests "
      f"(caching client after the first switch: {cached_ok} answered, {cached_failed} failed), "
      f"{(ok + failed) / seconds:.1f} requests/s, median switch {statistics.median(durations):.2f} s, "
      f"median {what} {gap}")
PY
}

now_ns() { date +%s%N; }

# One way with imm: apply, then SWITCHES run-time replacements of the API.
bench_imm() { # way
  local dir=$work/bench-$1 events=$work/events-$1 windows=$work/windows-$1
  cp -r examples/web-api-db "$dir"
  sed -i "s/name = \"shop-/name = \"bench-$1-/" "$dir/main.imm"
  if [ "$1" = alias ]; then
    python3 - "$dir/main.imm" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
text = re.sub(r'resource "docker_proxy" "(\w+)" \{.*?\n\}\n', '', text, flags=re.S)
text = re.sub(r'proxy = docker_proxy\.(\w+)\.name', r'aliases = ["\1"]', text)
open(path, "w").write(text)
PY
  fi
  "$imm" apply "$dir" --auto-approve >/dev/null
  local network image
  network=$(docker network ls --format '{{.Name}}' --filter "label=imm.project=bench-$1" | grep -- '-front$')
  image=$(docker images --format '{{.Repository}}:{{.Tag}}' "imm/bench-$1/bench-$1-base" | head -1)
  docker events --since "$(date +%s)" --filter "label=imm.project=bench-$1" --filter type=container \
    --format '{{.TimeNano}}|{{.Action}}|{{.Actor.ID}}' >"$events" &
  local watcher=$!
  start_client "$network" "$image"
  sleep 1
  : >"$windows"
  local started
  started=$(now_ns)
  for i in $(seq 1 "$switches"); do
    local from
    from=$(now_ns)
    "$imm" apply "$dir" --auto-approve --var "release=$i" >/dev/null
    echo "$from $(now_ns)" >>"$windows"
  done
  local seconds
  seconds=$(python3 -c "print(($(now_ns) - $started) / 1e9)")
  sleep 1
  kill "$watcher" 2>/dev/null || true
  report "$1" "$seconds" "$events" "$windows"
}

# The same project in Compose (v1, as Debian ships it): the images imm
# built, `up -d` of the changed environment (Compose stops the old
# containers before it starts the new ones).
bench_compose() {
  local dir=$work/compose events=$work/events-compose windows=$work/windows-compose
  mkdir -p "$dir"
  local base api web
  base=$(docker images --format '{{.Repository}}:{{.Tag}}' imm/bench-proxy/bench-proxy-base | head -1)
  api=$(docker images --format '{{.Repository}}:{{.Tag}}' imm/bench-proxy/bench-proxy-api | head -1)
  web=$(docker images --format '{{.Repository}}:{{.Tag}}' imm/bench-proxy/bench-proxy-web | head -1)
  cat >"$dir/docker-compose.yml" <<YAML
version: "2.4"
services:
  db:
    image: $base
    command: ["sh", "-c", "printf 'apple\\\\npear\\\\n' > /tmp/items.txt; exec httpd -f -p 5432 -h /tmp"]
    networks: [back]
  api:
    image: $api
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    environment: { DB_URL: "http://db:5432", RELEASE: "\${RELEASE:-0}" }
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/cgi-bin/items"]
      interval: 500ms
      retries: 20
    labels: { bench.switch: "compose" }
    networks: [front, back]
  web:
    image: $web
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    environment: { API_URL: "http://api:8080" }
    networks: [front]
networks:
  front: {}
  back: { internal: true }
YAML
  (cd "$dir" && docker-compose -p benchswitchcompose up -d --scale api=2 >/dev/null 2>&1)
  docker events --since "$(date +%s)" --filter label=bench.switch=compose --filter type=container \
    --format '{{.TimeNano}}|{{.Action}}|{{.Actor.ID}}' >"$events" &
  local watcher=$!
  start_client benchswitchcompose_front "$base"
  sleep 2
  : >"$windows"
  local started
  started=$(now_ns)
  for i in $(seq 1 "$switches"); do
    local from
    from=$(now_ns)
    (cd "$dir" && RELEASE=$i docker-compose -p benchswitchcompose up -d --scale api=2 >/dev/null 2>&1)
    # Compose returns before the new replicas are healthy: wait for it, so
    # that each switch is whole before the next.
    for _ in $(seq 1 100); do
      [ "$(docker ps --filter label=bench.switch=compose --filter health=healthy -q | wc -l)" -ge 2 ] && break
      sleep 0.1
    done
    echo "$from $(now_ns)" >>"$windows"
  done
  local seconds
  seconds=$(python3 -c "print(($(now_ns) - $started) / 1e9)")
  sleep 1
  kill "$watcher" 2>/dev/null || true
  report compose "$seconds" "$events" "$windows"
}

for _ in 1 2; do
  (while :; do :; done) &
  busy+=($!)
done
echo "== $switches switches each, both cores busy ($(nproc) cores)"
bench_imm proxy
bench_imm alias
bench_compose
