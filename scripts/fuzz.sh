#!/usr/bin/env bash
# make fuzz: builds the libFuzzer harnesses of fuzz/ with clang, ASan and UBSan in build-fuzz/,
# then runs each in turn for FUZZ_SECONDS over a copy of its corpus (build-fuzz/corpus/<name>,
# kept between runs; seeded from fuzz/corpus/<name> and fuzz/regressions/<name>). Prints what
# each run did and fails when any found a crash; its input is saved in build-fuzz/crashes/<name>/.
# docs/reliability.md ("Fuzzing") says how to reproduce, fix and keep one.
#
#   FUZZ_SECONDS=60     time per harness
#   FUZZ_TARGETS="..."  which harnesses (default: all of them)
#   FUZZ_BUILD_DIR      build directory (default build-fuzz)
#   FUZZ_TIMEOUT=25     seconds one input may take before it counts as a hang
#   FUZZ_ARGS           more libFuzzer flags, e.g. "-max_len=8192" or "-dict=..."
#   JOBS                build parallelism (default: nproc)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
timeout=${FUZZ_TIMEOUT:-25}
targets=${FUZZ_TARGETS:-workflow_loader guard events migration_plan plugin_descriptor}
jobs=${JOBS:-$(nproc)}

bash "$root/scripts/install-deps.sh" fuzz
for tool in clang clang++; do
  command -v "$tool" >/dev/null 2>&1 || { echo "make fuzz: $tool not found" >&2; exit 1; }
done

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCAREPATH_FUZZ=ON -DCP_BUILD_TESTS=OFF -DCP_BUILD_BENCH=OFF >/dev/null
build_targets=()
for name in $targets; do build_targets+=("${name}_fuzz"); done
# Under make, MAKEFLAGS would make the inner build print every directory it enters.
env -u MAKEFLAGS -u MAKELEVEL cmake --build "$build" -j "$jobs" --target "${build_targets[@]}"

# Sanitizer reports end the run (UBSan only prints by default); leaks are not findings here: the
# harnesses keep their fixtures for the whole run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

summary=()
failed=()
for name in $targets; do
  corpus="$build/corpus/$name"
  crashes="$build/crashes/$name"
  log="$build/logs/$name.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  for seeds in "$root/fuzz/corpus/$name" "$root/fuzz/regressions/$name"; do
    if [ -d "$seeds" ]; then
      find "$seeds" -maxdepth 1 -type f ! -name '.*' ! -name README.md -exec cp -n {} "$corpus/" \;
    fi
  done
  echo "== $name: ${seconds}s over $(find "$corpus" -type f | wc -l) inputs (log: $log)"
  # Crash files of earlier runs stay for whoever reads them; only this run's count.
  started="$build/logs/$name.started"
  touch "$started"
  sleep 1
  status=0
  # shellcheck disable=SC2086
  "$build/fuzz/${name}_fuzz" "$corpus" -max_total_time="$seconds" -timeout="$timeout" \
    -print_final_stats=1 -jobs=1 -workers=1 -artifact_prefix="$crashes/" ${FUZZ_ARGS:-} \
    >"$log" 2>&1 || status=$?
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1 || true; }
  execs=$(stat number_of_executed_units)
  rate=$(stat average_exec_per_sec)
  added=$(stat new_units_added)
  rss=$(stat peak_rss_mb)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  found=$(find "$crashes" -type f -newer "$started" | wc -l)
  line=$(printf '%-18s %10s execs %7s exec/s  cov %6s  new %5s  rss %5s MB  crashes %s' \
    "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${added:-?}" "${rss:-?}" "$found")
  echo "$line"
  summary+=("$line")
  if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed+=("$name")
    grep -m1 -E 'ERROR: |runtime error:|fuzz invariant|deadly signal|Timeout' "$log" || true
    echo "   crash inputs: $crashes/  reproduce: $build/fuzz/${name}_fuzz <file>"
  fi
done

echo
echo "make fuzz: ${seconds}s per harness"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "make fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "make fuzz: no findings"
