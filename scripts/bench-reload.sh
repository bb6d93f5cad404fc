#!/usr/bin/env bash
# A run-time file change applied by `reload` against the same change by
# replacement: examples/hello (two busybox httpd replicas with a health
# check), its greeting file changed N times (default 5) each way, wall time
# of each `imm apply`. Usage: scripts/bench-reload.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}

cargo build --release --quiet
imm=$PWD/target/release/imm
scripts/prepare-examples.sh >/dev/null
work=$(mktemp -d /tmp/imm-bench-reload.XXXXXX)
cleanup() {
  for dir in "$work"/*/; do "$imm" destroy "$dir" --auto-approve >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The example with its greeting only in a file (an env value would force a
# replacement), with or without a reload block.
prepare() { # way
  local dir=$work/reload-$1
  cp -r examples/hello "$dir"
  python3 - "$dir/main.imm" "$1" <<'PY'
import sys
path, way = sys.argv[1:]
text = open(path).read()
text = text.replace("env   = { GREETING = var.greeting }\n", "")
if way == "reload":
    text = text.replace("  health {\n", "  reload {\n    signal = \"HUP\"\n  }\n  health {\n", 1)
open(path, "w").write(text)
PY
  "$imm" apply "$dir" --auto-approve >/dev/null
  echo "$dir"
}

measure() { # way
  local dir times=()
  dir=$(prepare "$1")
  for i in $(seq 1 "$rounds"); do
    local from to
    from=$(date +%s%N)
    "$imm" apply "$dir" --auto-approve --var "greeting=round $i" >/dev/null
    to=$(date +%s%N)
    times+=("$(( (to - from) / 1000000 ))")
  done
  python3 -c "import statistics,sys; t=[int(x) for x in sys.argv[2:]]; print(f'{sys.argv[1]:8} {len(t)} file changes: median {statistics.median(t)/1000:.2f} s, min {min(t)/1000:.2f} s, max {max(t)/1000:.2f} s')" "$1" "${times[@]}"
}

echo "== a run-time file change of examples/hello, $rounds times each way"
measure reload
measure replace
