#!/usr/bin/env bash
# The main job of this milestone, on a fresh machine: build imm, check the
# examples, apply the values example for two environments and print its
# outputs. (Applying Docker resources comes with the executors.)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
imm=target/release/imm

echo "== imm validate examples/hello"
"$imm" validate examples/hello
echo "== imm fmt --check examples"
"$imm" fmt --check --recursive examples
for env in staging prod; do
  echo "== imm apply examples/values --env $env"
  "$imm" apply examples/values --env "$env"
done
echo "== imm output --dir examples/values --env prod --json"
"$imm" output --dir examples/values --env prod --json
