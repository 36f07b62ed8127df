#!/usr/bin/env bash
# Regression check of the core's hot path without noisy timing (issue 7): counts the
# instructions (callgrind's Ir) of a fixed number of in-memory transitions (core_bench
# --instructions, the work of BM_Transition) and compares them with bench/callgrind-baseline.txt.
#
#   bench/callgrind-check.sh            fails (exit 1) when the count rose more than 10%
#   bench/callgrind-check.sh --record   writes the count as the new baseline
#
# Environment: BUILD_DIR (default build), TRANSITIONS (default 20000; the baseline records
# its own and is compared per transition), LIMIT_PERCENT (default 10).
#
# The count depends on the compiler, its flags and the libraries (Boost.JSON, libstdc++,
# glibc's malloc): the baseline is for the `build/` RelWithDebInfo build that `make test` makes
# on Debian 12 (g++ 12). The script refuses to compare a build of another type, or of another
# compiler or compiler major version;
# after a change of toolchain, or an optimisation that lowers the count for good, record again
# (and commit the file). Counting only the transitions (--toggle-collect) leaves out start-up
# and the workflow load, so the count is the same from run to run (three runs: the same count to the instruction).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
TRANSITIONS=${TRANSITIONS:-20000}
LIMIT_PERCENT=${LIMIT_PERCENT:-10}
BASELINE=bench/callgrind-baseline.txt
BIN="$BUILD_DIR/bench/core_bench"

record=0
case "${1:-}" in
  --record) record=1 ;;
  "") ;;
  *)
    echo "usage: bench/callgrind-check.sh [--record]" >&2
    exit 2
    ;;
esac

if ! command -v valgrind >/dev/null 2>&1; then
  echo "callgrind-check: valgrind is not installed (bash scripts/install-deps.sh)" >&2
  exit 2
fi
if [ ! -x "$BIN" ]; then
  echo "callgrind-check: $BIN not found; build it: cmake --build $BUILD_DIR --target core_bench" >&2
  exit 2
fi

cache_value() {  # cache_value NAME: a value from the build's CMakeCache.txt
  sed -n "s/^$1:[A-Z]*=//p" "$BUILD_DIR/CMakeCache.txt" | head -n 1
}
build_type=$(cache_value CMAKE_BUILD_TYPE)
compiler_path=$(cache_value CMAKE_CXX_COMPILER)
# The compiler and its major version ("x86_64-linux-gnu-g++-12 12"): a patch release of the same
# compiler changes the count by far less than the limit, so it does not count as another one.
compiler="$(basename "$(readlink -f "$(command -v "$compiler_path")")") $("$compiler_path" -dumpversion)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
valgrind --tool=callgrind --toggle-collect='*counted_transitions*' \
  --callgrind-out-file="$work/callgrind.out" \
  "$BIN" --instructions "$TRANSITIONS" >"$work/log" 2>&1 || {
  cat "$work/log" >&2
  echo "callgrind-check: core_bench --instructions failed" >&2
  exit 1
}
total=$(sed -n 's/^summary: //p' "$work/callgrind.out")
if [ -z "$total" ] || [ "$total" -eq 0 ]; then
  echo "callgrind-check: no instruction count in callgrind's output" >&2
  exit 1
fi
per=$((total / TRANSITIONS))

if [ "$record" -eq 1 ]; then
  cat >"$BASELINE" <<EOF
# Instructions (callgrind Ir) of one in-memory transition: bench/callgrind-check.sh compares
# with this and fails on a rise of more than 10%. Re-record with bench/callgrind-check.sh --record
# after a change of toolchain or an optimisation that lowers the count; commit this file.
# Recorded $(date -u +%Y-%m-%d) from $TRANSITIONS transitions of core_bench --instructions.
instructions_per_transition $per
total_ir $total
transitions $TRANSITIONS
build_type $build_type
compiler $compiler
valgrind $(valgrind --version)
EOF
  echo "callgrind-check: recorded $per instructions per transition ($total for $TRANSITIONS) in $BASELINE"
  exit 0
fi

if [ ! -f "$BASELINE" ]; then
  echo "callgrind-check: no $BASELINE; record one with bench/callgrind-check.sh --record" >&2
  exit 2
fi
baseline_value() {  # baseline_value KEY
  sed -n "s/^$1 //p" "$BASELINE" | head -n 1
}
base=$(baseline_value instructions_per_transition)
base_type=$(baseline_value build_type)
base_compiler=$(baseline_value compiler)
if [ "$base_type" != "$build_type" ] || [ "$base_compiler" != "$compiler" ]; then
  echo "callgrind-check: the baseline is for a $base_type build with '$base_compiler';" \
    "$BUILD_DIR is a $build_type build with '$compiler': counts are not comparable." \
    "Check with the build make test makes, or record a baseline for this one (--record)." >&2
  exit 2
fi

limit=$((base + base * LIMIT_PERCENT / 100))
change=$(awk -v n="$per" -v b="$base" 'BEGIN { printf "%+.1f", (n - b) * 100 / b }')
echo "callgrind-check: $per instructions per transition, baseline $base ($change%), limit $limit"
if [ "$per" -gt "$limit" ]; then
  echo "callgrind-check: FAILED: the in-memory transition costs more than ${LIMIT_PERCENT}% over" \
    "the baseline. Profile it: valgrind --tool=callgrind --toggle-collect='*counted_transitions*'" \
    "$BIN --instructions 20000; callgrind_annotate --inclusive=yes callgrind.out.<pid>" >&2
  exit 1
fi
if [ "$per" -lt $((base - base * LIMIT_PERCENT / 100)) ]; then
  echo "callgrind-check: more than ${LIMIT_PERCENT}% below the baseline; record the new figure" \
    "(bench/callgrind-check.sh --record) so that it is kept"
fi
echo "callgrind-check: ok"
