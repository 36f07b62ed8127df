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
say() { echo "$me: $*"; }
fail() {
  echo "$me: FAILED: $*" >&2
  exit 1
}
skip() {
  echo "$me: SKIPPED: $*" >&2
  exit 77
}

[[ $# -ge 1 ]] || {
  echo "usage: scripts/check-schema.sh BUILD_DIR [WORKFLOW.yaml ...]" >&2
  exit 2
}
build_dir=$(cd "$1" && pwd)
shift
root=$(cd "$(dirname "$0")/.." && pwd)
schema=$root/docs/workflow.schema.json
ajv_package=ajv-cli@5.0.0

command -v npx >/dev/null 2>&1 || skip "npx (Node.js/npm) is not installed; cannot run $ajv_package"

export npm_config_cache=$build_dir/npm-cache
export npm_config_prefer_offline=true
export npm_config_update_notifier=false
export npm_config_fund=false
export npm_config_audit=false
mkdir -p "$npm_config_cache"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# npx asks the registry about the version even when it has the package; a copy it installed in
# the cache before runs without the network.
ajv_bin=()
for manifest in "$npm_config_cache"/_npx/*/node_modules/ajv-cli/package.json; do
  if [[ -f $manifest ]] && grep -q '"version": "5.0.0"' "$manifest"; then
    bin=$(dirname "$(dirname "$manifest")")/.bin/ajv
    [[ -x $bin ]] && ajv_bin=("$bin") && break
  fi
done
if [[ ${#ajv_bin[@]} -eq 0 ]]; then
  if ! npx --yes "$ajv_package" help >"$log" 2>&1; then
    sed 's/^/  | /' "$log" >&2
    skip "could not fetch $ajv_package with npx (offline, or the npm registry is unreachable)"
  fi
  ajv_bin=(npx --yes "$ajv_package")
fi

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
say "ok: ajv ($ajv_package, draft-07) accepts the workflows and rejects all ${#cases[@]} broken files"
