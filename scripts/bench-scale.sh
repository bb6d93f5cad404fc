#!/usr/bin/env bash
# Scale benchmark (issue 30): a layered DAG of N `file` resources (N/10
# images, 8N/10 services each reading its image, N/10 load balancers each
# reading its eight services), written either one block per resource
# ("blocks") or with count/for_each and a `for` over the instances
# ("expanded"). For each shape and size it prints one row: plan on empty
# state, apply, no-op plan, state file size and the largest peak RSS of the
# three, with the release binary.
#
#   scripts/bench-scale.sh                 # blocks and expanded at 10,000
#   SIZES="10000 100000" scripts/bench-scale.sh
#   SHAPES=expanded SIZES=2000 scripts/bench-scale.sh
#   IMM=/path/to/other/imm NO_BUILD=1 scripts/bench-scale.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-10000}
shapes=${SHAPES:-"blocks expanded"}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
imm=${IMM:-"$PWD/target/release/imm"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Writes the project of N resources of one shape into DIR.
generate() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, sys
n, out, style = int(sys.argv[1]), sys.argv[2], sys.argv[3]
images = n // 10
os.makedirs(out, exist_ok=True)
parts = []
if style == "blocks":
    for i in range(images):
        parts.append(f'resource "file" "img_{i}" {{\n  path    = "out/img_{i}.txt"\n  content = "img-{i} version 1.0.0"\n}}\n')
        for j in range(8):
            parts.append(f'resource "file" "svc_{i}_{j}" {{\n  path    = "out/svc_{i}_{j}.txt"\n  content = "svc-{i}-{j} image=${{file.img_{i}.sha256}} port={8000 + j}"\n}}\n')
        backends = ", ".join(f"file.svc_{i}_{j}.sha256" for j in range(8))
        parts.append(f'resource "file" "lb_{i}" {{\n  path    = "out/lb_{i}.txt"\n  content = join(",", [{backends}])\n}}\n')
else:
    parts.append(f'''locals {{
  images   = {images}
  services = {{ for k in range({images} * 8) : "${{floor(k / 8)}}-${{k % 8}}" => {{ img = floor(k / 8), idx = k % 8 }} }}
}}
resource "file" "img" {{
  count   = local.images
  path    = "out/img_${{count.index}}.txt"
  content = "img-${{count.index}} version 1.0.0"
}}
resource "file" "svc" {{
  for_each = local.services
  path     = "out/svc_${{each.key}}.txt"
  content  = "svc-${{each.key}} image=${{file.img[each.value.img].sha256}} port=${{8000 + each.value.idx}}"
}}
resource "file" "lb" {{
  count   = local.images
  path    = "out/lb_${{count.index}}.txt"
  content = join(",", [for j in range(8) : file.svc["${{count.index}}-${{j}}"].sha256])
}}
''')
open(os.path.join(out, "main.imm"), "w").write("\n".join(parts))
PY
}

# Runs one imm command under /usr/bin/time; prints "SECONDS KIB".
timed() {
  /usr/bin/time -f "%e %M" -o "$work/.time" "$imm" "$@" >"$work/.out" 2>"$work/.err" \
    || { cat "$work/.err" >&2; exit 1; }
  cat "$work/.time"
}

printf '| shape, N | plan (empty state) | apply | no-op plan | state file | peak RSS |\n'
printf '|---|---|---|---|---|---|\n'
for n in $sizes; do
  for shape in $shapes; do
    dir="$work/$shape-$n"
    generate "$n" "$dir" "$shape"
    read -r plan_s plan_kb < <(timed plan "$dir" --refresh=false)
    read -r apply_s apply_kb < <(timed apply "$dir" --auto-approve --refresh=false)
    read -r noop_s noop_kb < <(timed plan "$dir" --refresh=false)
    grep -q "No changes" "$work/.out" || { echo "no-op plan of $shape $n was not empty" >&2; exit 1; }
    state_bytes=$(stat -c %s "$dir/.imm/state/default.json")
    peak_kb=$(printf '%s\n' "$plan_kb" "$apply_kb" "$noop_kb" | sort -n | tail -1)
    printf '| %s %s | %s s | %s s | %s s | %s MB (%s B/instance) | %s GB |\n' "$shape" "$n" \
      "$plan_s" "$apply_s" "$noop_s" \
      "$(awk "BEGIN{printf \"%.1f\", $state_bytes/1e6}")" "$((state_bytes / n))" \
      "$(awk "BEGIN{printf \"%.2f\", $peak_kb/1e6}")"
    rm -rf "$dir"
  done
done
