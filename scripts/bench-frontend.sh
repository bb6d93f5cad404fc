#!/usr/bin/env bash
# Front-end benchmark: `imm validate` (parse + check + evaluate for every
# environment) of a generated project of 10,001 resources, with wall time
# and peak memory, plus the criterion benchmark of the phases.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
for shape in compact rich; do
  dir=$(mktemp -d)
  IMM_BENCH_SHAPE=$shape IMM_BENCH_WRITE_PROJECT="$dir" cargo bench --quiet --bench frontend >/dev/null
  echo "== $shape: $(ls "$dir" | wc -l) files, $(du -sh --apparent-size "$dir" | cut -f1)"
  for i in 1 2 3; do
    /usr/bin/time -f "imm validate (2 environments): %e s wall, %M KiB peak RSS" target/release/imm validate "$dir" 2>&1 | tail -1
  done
  rm -rf "$dir"
done
cargo bench --bench frontend
