# Shared by the scripts that run pinned npm tools (check-schema.sh, check-openapi.sh). Source it
# after setting `me` (the script's name, for messages) and `build_dir`; it sets up the npm cache
# in BUILD_DIR/npm-cache and a scratch directory `$work`, removed on exit with `cleanup_hooks`.
#
# Exit codes: `fail` exits 1, `skip` exits 77 (ctest's SKIP_RETURN_CODE: npx missing, or the npm
# registry unreachable on a first run).

say() { echo "$me: $*"; }
fail() {
  echo "$me: FAILED: $*" >&2
  exit 1
}
skip() {
  echo "$me: SKIPPED: $*" >&2
  exit 77
}

export npm_config_cache=$build_dir/npm-cache
export npm_config_prefer_offline=true
export npm_config_update_notifier=false
export npm_config_fund=false
export npm_config_audit=false
mkdir -p "$npm_config_cache"

work=$(mktemp -d)
cleanup_hooks=()
cleanup() {
  local hook
  for hook in "${cleanup_hooks[@]}"; do
    "$hook"
  done
  rm -rf "$work"
}
trap cleanup EXIT

# cached PACKAGE VERSION BIN: sets `tool_cmd` to BIN of PACKAGE@VERSION as npx installed it in the
# cache, or returns 1.
cached() {
  local package=$1 version=$2 bin=$3 manifest modules
  for manifest in "$npm_config_cache"/_npx/*/node_modules/"$package"/package.json; do
    if [[ -f $manifest ]] && grep -q "\"version\": \"$version\"" "$manifest"; then
      modules=$(dirname "$(dirname "$manifest")")
      [[ $package == @*/* ]] && modules=$(dirname "$modules")
      if [[ -x $modules/.bin/$bin ]]; then
        tool_cmd=("$modules/.bin/$bin")
        return 0
      fi
    fi
  done
  return 1
}

# tool PACKAGE VERSION BIN [PROBE...]: sets `tool_cmd` to run BIN of PACKAGE@VERSION, fetching it
# first (and running `BIN PROBE...`, default --version, to see that it works) when the cache has
# no copy. The copy is run directly: npx would ask the registry about the version on every run,
# and a server behind npx would outlive a kill of npx.
tool() {
  local package=$1 version=$2 bin=$3
  shift 3
  local probe=("$@")
  [[ ${#probe[@]} -gt 0 ]] || probe=(--version)
  command -v npx >/dev/null 2>&1 ||
    skip "npx (Node.js/npm) is not installed; cannot run $package@$version"
  cached "$package" "$version" "$bin" && return
  if ! npx --yes --package "$package@$version" -- "$bin" "${probe[@]}" >"$work/npx.log" 2>&1; then
    sed 's/^/  | /' "$work/npx.log" >&2
    skip "could not fetch $package@$version with npx (offline, or the npm registry is unreachable)"
  fi
  cached "$package" "$version" "$bin" ||
    fail "npx ran $package@$version but it is not in $npm_config_cache"
}
