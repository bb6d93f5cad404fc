#!/usr/bin/env bash
# Planner benchmark: `imm plan` of a generated project of 10,001 resources
# (1,000 images × 9 containers + a network) with wall time and peak memory,
# on empty state, as a no-op re-plan against the 10,001-resource state, and
# with one image's build args changed; then the criterion benchmark of the
# planner library. Targets (issue 3): under 300 ms and 250 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
IMM_BENCH_WRITE_PROJECT="$dir" cargo bench --quiet --bench plan >/dev/null
imm="$PWD/target/release/imm"
measure() {
  local what=$1; shift
  for i in 1 2 3; do
    /usr/bin/time -f "$what: %e s wall, %M KiB peak RSS" "$imm" plan "$dir" --env prod --refresh=false "$@" >"$dir/.out" 2>"$dir/.err" || true
    tail -1 "$dir/.err"
  done
  grep -m1 '^Plan:\|^No changes\|"noop": [0-9]' "$dir/.out" || { cat "$dir/.err"; exit 1; }
}
measure "no-op re-plan (10,001 in state)"
measure "no-op re-plan, JSON" --format json
mv "$dir/.imm/state/prod.json" "$dir/state.saved"
measure "plan on empty state"
mv "$dir/state.saved" "$dir/.imm/state/prod.json"
sed -i '0,/VERSION = "1.0.0"/s//VERSION = "1.0.1"/' "$dir/part_0000.imm"
measure "one artifact changed"
cargo bench --bench plan
