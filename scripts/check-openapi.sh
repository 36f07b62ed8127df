#!/usr/bin/env bash
# Checks docs/openapi.yaml with outside tools, so that the document is held to what the tools
# people use make of it, and to what the server really answers.
#
#   scripts/check-openapi.sh BUILD_DIR lint
#   scripts/check-openapi.sh BUILD_DIR prism TEST_BINARY[:GTEST_FILTER] ...
#
# lint:  @redocly/cli lints the document with the rules of redocly.yaml (its recommended ones);
#        any error or warning fails.
# prism: @stoplight/prism-cli runs as a validating proxy (`prism proxy --errors`) in front of the
#        port the tests' main server listens on, and the given gtest binaries run with
#        CP_TEST_LISTEN_PORT, CP_TEST_PROXY_PORT and CP_TEST_PRISM_LOG set (see
#        tests/support/http_client.hpp): their HTTP traffic goes through Prism, an answer of the
#        server that the document does not describe fails the test that got it, and a request
#        Prism refuses (tests send bad requests on purpose) is sent again directly. Ends with a
#        summary of what went through Prism.
#
# The npm tools are pinned and fetched with `npx --yes` into BUILD_DIR/npm-cache, which later runs
# reuse (offline once it is there). Exits 0 when all is well, 1 on a failure, and 77 (ctest's
# SKIP_RETURN_CODE) when npx is missing or the npm registry cannot be reached. ctest runs it as
# `openapi.lint` and `openapi.prism`.
set -euo pipefail

me=check-openapi

[[ $# -ge 2 ]] || {
  echo "usage: scripts/check-openapi.sh BUILD_DIR lint|prism [TEST_BINARY[:GTEST_FILTER] ...]" >&2
  exit 2
}
build_dir=$(cd "$1" && pwd)
mode=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
document=$root/docs/openapi.yaml

redocly_name=@redocly/cli
redocly_version=2.77.0
prism_name=@stoplight/prism-cli
prism_version=5.14.2

# shellcheck source=lib/npm-tools.sh
source "$root/scripts/lib/npm-tools.sh"
# Redocly CLI: no usage telemetry, no update check.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true

prism_pid=
stop_prism() {
  if [[ -n $prism_pid ]]; then
    kill "$prism_pid" 2>/dev/null || true
    wait "$prism_pid" 2>/dev/null || true
  fi
}
cleanup_hooks+=(stop_prism)

# A free TCP port of 127.0.0.1 below the ephemeral range, so that no server or client of a test
# running in parallel is given it by the kernel while the tests' servers come and go on it (node
# is there wherever npx is).
free_port() {
  local low=32768
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  fi
  LOW=$low node -e '
    const net = require("net");
    const high = Math.max(Number(process.env.LOW) - 1, 10001);
    const tryPort = (left) => {
      const port = 10000 + Math.floor(Math.random() * (high - 10000));
      const s = net.createServer();
      s.once("error", () => (left > 0 ? tryPort(left - 1) : process.exit(1)));
      s.listen(port, "127.0.0.1", () => { console.log(port); s.close(); });
    };
    tryPort(100);'
}

lint() {
  tool "$redocly_name" "$redocly_version" redocly
  # --max-problems: list everything, not the first 100.
  if ! (cd "$root" && "${tool_cmd[@]}" lint --max-problems 1000 "$document") >"$work/lint.log" 2>&1; then
    grep -v '^npm warn' "$work/lint.log" | sed 's/^/  | /' >&2
    fail "docs/openapi.yaml has lint errors ($redocly_name@$redocly_version)"
  fi
  if grep -q 'You have [0-9]* warning' "$work/lint.log"; then
    grep -v '^npm warn' "$work/lint.log" | sed 's/^/  | /' >&2
    fail "docs/openapi.yaml has lint warnings ($redocly_name@$redocly_version)"
  fi
  say "ok: $redocly_name@$redocly_version lints docs/openapi.yaml clean"
}

prism() {
  [[ $# -ge 1 ]] || fail "prism: no test binaries given"
  tool "$prism_name" "$prism_version" prism
  local upstream proxy started=$SECONDS
  upstream=$(free_port)
  proxy=$(free_port)
  while [[ $proxy == "$upstream" ]]; do
    proxy=$(free_port)
  done
  "${tool_cmd[@]}" proxy "$document" "http://127.0.0.1:$upstream" --errors \
    --host 127.0.0.1 --port "$proxy" >"$work/prism.log" 2>&1 &
  prism_pid=$!
  local waited=0
  until grep -q 'Prism is listening' "$work/prism.log"; do
    if ! kill -0 "$prism_pid" 2>/dev/null || [[ $waited -ge 120 ]]; then
      sed 's/^/  | /' "$work/prism.log" >&2
      fail "prism did not start"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "prism $prism_version on 127.0.0.1:$proxy, upstream 127.0.0.1:$upstream ($((SECONDS - started)) s to start)"

  local traffic=$work/traffic.log failed=0 spec binary filter
  : >"$traffic"
  for spec in "$@"; do
    binary=${spec%%:*}
    filter=*
    [[ $spec == *:* ]] && filter=${spec#*:}
    local begun=$SECONDS
    if CP_TEST_LISTEN_PORT=$upstream CP_TEST_PROXY_PORT=$proxy CP_TEST_PRISM_LOG=$traffic \
      "$binary" --gtest_filter="$filter" --gtest_brief=1 >"$work/test.log" 2>&1; then
      say "ok: $(basename "$binary") ($((SECONDS - begun)) s)"
    else
      failed=$((failed + 1))
      sed 's/^/  | /' "$work/test.log" >&2
      say "$(basename "$binary") failed through prism ($((SECONDS - begun)) s)" >&2
    fi
  done

  local checked refused violations
  checked=$(grep -c '^checked ' "$traffic" || true)
  refused=$(grep -c '^refused ' "$traffic" || true)
  violations=$(grep -c '^VIOLATION ' "$traffic" || true)
  say "summary: $((checked + violations)) answers checked by prism, $violations not as documented;" \
    "$refused requests refused by prism (bad on purpose, or not as documented) and sent again directly"
  if [[ $refused -gt 0 ]]; then
    # What Prism objected to, one line per kind: its error type and the first reason.
    awk '$1 == "refused" { print $2, $4 }' "$traffic" | sort | uniq -c | sort -rn |
      sed 's/^ */  refused: /'
  fi
  if [[ ${CP_OPENAPI_VERBOSE:-0} == 1 ]]; then
    sed 's/^/  | /' "$traffic"
  fi
  [[ $violations -eq 0 && $failed -eq 0 ]] ||
    fail "$failed test binary(ies) failed through prism; $violations answers not as documented"
  say "ok: every answer that went through prism matches docs/openapi.yaml ($((SECONDS - started)) s)"
}

case $mode in
  lint) lint ;;
  prism) prism "$@" ;;
  *) fail "unknown mode '$mode' (lint or prism)" ;;
esac
