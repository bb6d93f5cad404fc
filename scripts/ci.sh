#!/usr/bin/env bash
# The steps of imm in a CI pipeline, in one place: the GitHub Actions and
# GitLab CI files of docs/ci/ call this script, and tests/ci.rs runs it end
# to end. Each step uses `imm` from PATH (or $IMM).
#
#   scripts/ci.sh plan  DIR ENV OUT   # review: OUT/plan.json (the saved plan) and OUT/plan.md
#                                     # (Markdown for a pull-request comment); exit 0 either way,
#                                     # OUT/changes says "yes" or "no"
#   scripts/ci.sh apply PLANFILE [--yes-really]
#                                     # on merge: apply exactly the reviewed plan; refused (exit 1,
#                                     # nothing changed) when state or configuration moved since
#   scripts/ci.sh drift DIR ENV       # on a schedule: exit 0 in sync, 2 drifted (the plan is
#                                     # printed), 1 error
set -euo pipefail
imm=${IMM:-imm}

usage() {
  sed -n '5,13p' "$0" >&2
  exit 1
}

plan() {
  local dir=$1 env=$2 out=$3
  mkdir -p "$out"
  local code=0
  "$imm" plan "$dir" --env "$env" --out "$out/plan.json" --detailed-exitcode >"$out/plan.txt" || code=$?
  case $code in
    0) echo no >"$out/changes" ;;
    2) echo yes >"$out/changes" ;;
    *)
      cat "$out/plan.txt"
      echo "error: imm plan failed (exit $code)" >&2
      exit "$code"
      ;;
  esac
  "$imm" show "$out/plan.json" --format markdown >"$out/plan.md"
  cat "$out/plan.txt"
  echo "saved plan: $out/plan.json; Markdown for review: $out/plan.md; changes: $(cat "$out/changes")"
}

apply() {
  local planfile=$1
  shift
  # A saved plan is applied only if making it again gives the same plan: a
  # plan reviewed against an older state or configuration is refused.
  "$imm" apply "$planfile" "$@"
}

drift() {
  local dir=$1 env=$2
  local code=0
  "$imm" plan "$dir" --env "$env" --detailed-exitcode || code=$?
  case $code in
    0) echo "in sync: environment $env is as its configuration says" ;;
    2) echo "drift: environment $env differs from its configuration (plan above)" >&2 ;;
    *) echo "error: imm plan failed (exit $code)" >&2 ;;
  esac
  exit "$code"
}

case ${1:-} in
  plan) [ $# -eq 4 ] || usage; plan "$2" "$3" "$4" ;;
  apply) [ $# -ge 2 ] || usage; shift; apply "$@" ;;
  drift) [ $# -eq 3 ] || usage; drift "$2" "$3" ;;
  *) usage ;;
esac
