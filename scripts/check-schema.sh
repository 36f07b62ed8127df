#!/usr/bin/env bash
# Validates workflow files against docs/workflow.schema.json with an outside validator, ajv-cli,
# so that the schema is checked by the tool editors and CI systems actually use, not only by the
# engine's own validator (tests/workflow/schema_test.cpp).
#
#   scripts/check-schema.sh BUILD_DIR [WORKFLOW.yaml ...]
#
# Without files, checks every workflows/*.yaml. It then checks that ajv rejects every broken file
# in tests/workflow/schema_cases/, so that a schema or an ajv that accepts anything cannot pass.
# ajv-cli is pinned and fetched with `npx --yes` into BUILD_DIR/npm-cache, which later runs reuse
# (offline once it is there). Exits 0 when all is as expected, 1 on a failure, and 77 (ctest's
# SKIP_RETURN_CODE) when npx is missing or the npm registry cannot be reached. ctest runs it as
# `schema.ajv`.
set -euo pipefail

me=check-schema

[[ $# -ge 1 ]] || {
  echo "usage: scripts/check-schema.sh BUILD_DIR [WORKFLOW.yaml ...]" >&2
  exit 2
}
build_dir=$(cd "$1" && pwd)
shift
root=$(cd "$(dirname "$0")/.." && pwd)
schema=$root/docs/workflow.schema.json
ajv_version=5.0.0  # pinned

# shellcheck source=lib/npm-tools.sh
source "$root/scripts/lib/npm-tools.sh"
log=$work/ajv.log
tool ajv-cli "$ajv_version" ajv help
ajv_bin=("${tool_cmd[@]}")

# draft-07, strict about the schema itself; union types (a title may be a number in YAML) and
# `required` inside anyOf branches naming keys declared elsewhere are intended.
ajv() {
  "${ajv_bin[@]}" validate --spec=draft7 --strict=true --strict-required=false \
    --allow-union-types --all-errors --errors=text -s "$schema" "$@"
}

if [[ $# -eq 0 ]]; then
  set -- "$root"/workflows/*.yaml
fi
args=()
for file in "$@"; do
  args+=(-d "$file")
done
if ! ajv "${args[@]}" >"$log" 2>&1; then
  sed 's/^/  | /' "$log" >&2
  fail "a workflow file does not validate against docs/workflow.schema.json"
fi
grep -v '^npm warn' "$log" | sed 's/^/  /'

cases=("$root"/tests/workflow/schema_cases/*.yaml)
args=()
for file in "${cases[@]}"; do
  args+=(-d "$file")
done
ajv "${args[@]}" >"$log" 2>&1 || true
accepted=0
for file in "${cases[@]}"; do
  if ! grep -qF "$file invalid" "$log"; then
    echo "  ajv accepted a broken file: ${file#"$root"/}" >&2
    accepted=$((accepted + 1))
  fi
done
if [[ $accepted -gt 0 ]]; then
  sed 's/^/  | /' "$log" >&2
  fail "$accepted broken file(s) in tests/workflow/schema_cases passed the schema"
fi
say "ok: ajv (ajv-cli@$ajv_version, draft-07) accepts the workflows and rejects all ${#cases[@]} broken files"
