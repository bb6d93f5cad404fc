#!/usr/bin/env bash
# The main job, on a fresh machine: build imm, check the examples, and apply
# examples/hello on the local Docker Engine (two busybox httpd replicas
# behind one network alias, built FROM scratch, health-checked and tested);
# then fetch the page through the alias and show that a re-plan is a no-op.
# `target/release/imm destroy examples/hello --auto-approve` removes it again.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building imm (release; the first build compiles every dependency and takes several minutes)"
cargo build --release
imm=target/release/imm
echo "== preparing the examples' FROM-scratch build contexts (installs busybox-static and nginx-light if missing)"
scripts/prepare-examples.sh
docker info >/dev/null 2>&1 || {
  echo "error: no Docker daemon answers; start it (e.g. sudo service docker start) and retry" >&2
  exit 1
}

echo "== imm validate / fmt --check"
for example in examples/*/; do "$imm" validate "$example"; done
"$imm" fmt --check --recursive examples
echo "== imm plan examples/hello"
"$imm" plan examples/hello
echo "== imm apply examples/hello (builds the image, starts two replicas, health-checks and tests them)"
"$imm" apply examples/hello --auto-approve
network=$("$imm" -C examples/hello output --json | sed -n 's/.*on network \([^"]*\)".*/\1/p' | head -1)
image=$(docker images --format '{{.Repository}}:{{.Tag}}' imm/hello/busybox | head -1)
echo "== the page, through the alias web:8080 on $network"
docker run --rm --network "$network" "$image" wget -q -O - http://web:8080/
docker run --rm --network "$network" "$image" wget -q -O - http://web:8080/greeting.txt
echo "== imm plan examples/hello --detailed-exitcode (0 = no changes)"
"$imm" plan examples/hello --detailed-exitcode
