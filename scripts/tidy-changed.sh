#!/usr/bin/env bash
# clang-tidy, with the project's .clang-tidy, on the C++ sources a change touched: those that differ between BASE (default: the parent of HEAD, the commit CI
# lands) and the working tree. Headers are checked through the sources that include them.
#
#   scripts/tidy-changed.sh BUILD_DIR [BASE]
#
# Findings of the bugprone-* and clang-analyzer-* checks (likely bugs) are errors and fail the
# script; those of the other checks are printed as warnings: code written before this check has
# such findings (style, std::strerror's thread safety ...) that are not all fixed yet.
# TIDY_ERRORS overrides the checks whose findings are errors ('*': all of them).
#
# BUILD_DIR must hold compile_commands.json (every carepath build writes it). Sources the build
# does not compile (a fuzz harness outside this configuration) are skipped with a note. Skipped
# with a message when clang-tidy is not installed. .ci/run calls it after `make test`.
set -euo pipefail

me=tidy-changed
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 BUILD_DIR [BASE]" >&2
  exit 2
fi
build_dir=$1
base=${2:-HEAD~1}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v clang-tidy >/dev/null 2>&1; then
  echo "$me: clang-tidy not installed, check skipped"
  exit 0
fi
[[ -f $build_dir/compile_commands.json ]] || {
  echo "$me: $build_dir/compile_commands.json not found; build first" >&2
  exit 1
}
if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
  echo "$me: no commit $base (a first commit?): nothing to compare with, check skipped"
  exit 0
fi

files=()
while IFS= read -r file; do
  if grep -qF "\"file\": \"$PWD/$file\"" "$build_dir/compile_commands.json" ||
    grep -qF "\"$PWD/$file\"" "$build_dir/compile_commands.json"; then
    files+=("$file")
  else
    echo "$me: $file is not in this build's compile commands, skipped"
  fi
done < <(git diff --name-only --diff-filter=AMR "$base" -- '*.cpp' '*.cc' | sort -u)

if [[ ${#files[@]} -eq 0 ]]; then
  echo "$me: no changed C++ sources since $base"
  exit 0
fi
echo "$me: clang-tidy on ${#files[@]} file(s) changed since $base"
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 1 clang-tidy -p "$build_dir" --quiet \
    --warnings-as-errors="${TIDY_ERRORS:-bugprone-*,clang-analyzer-*}" \
    2> >(grep -v -E '^[0-9]+ warnings? generated|^Suppressed|^Use -header-filter|^$' >&2)
echo "$me: ok"
