#!/usr/bin/env bash
# Front-end benchmark: `imm validate` (parse + check + evaluate for every
# environment) of a generated project of 10,001 resources, with wall time
# and peak memory, plus the criterion benchmark of the phases.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
IMM_BENCH_WRITE_PROJECT="$dir" cargo bench --quiet --bench frontend >/dev/null
echo "project: $(ls "$dir" | wc -l) files, $(du -sh "$dir" | cut -f1)"
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
for i in 1 2 3; do
  /usr/bin/time -f "imm validate: %e s wall, %M KiB peak RSS" target/release/imm validate "$dir" 2>&1 | tail -1
done
cargo bench --bench frontend
