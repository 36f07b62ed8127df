#!/usr/bin/env bash
# Builds examples/custom_plugin the way a third party would, against an installed carepath.
#
#   scripts/check-example.sh BUILD_DIR
#
# BUILD_DIR is a configured and built carepath build tree. The script
#   1. installs it to a temporary prefix (cmake --install) and checks what was installed;
#   2. configures examples/custom_plugin with find_package(carepath) from that prefix only, and
#      builds it;
#   3. checks that the plugin exports exactly one dynamic symbol, carepath_plugin_entry_v1;
#   4. loads it with a small driver compiled against the installed SDK headers and runs its step
#      (ok, veto, failed on bad input, refused config);
#   5. loads it with `carepath plugins check`, when the installed carepath has that subcommand.
# Everything happens under one temporary directory, removed at exit. Exits non-zero, with a
# message saying which part failed, on any failure. ctest runs it as `example.custom_plugin`.
set -euo pipefail

me=check-example
fail() {
  echo "$me: FAILED: $*" >&2
  exit 1
}
say() { echo "$me: $*"; }

# Shows a log file and fails.
fail_with_log() {
  local log=$1
  shift
  sed 's/^/  | /' "$log" >&2
  fail "$*"
}

if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
[[ -f $1/CMakeCache.txt ]] || fail "'$1' is not a configured CMake build directory"
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
example_dir=$source_dir/examples/custom_plugin
[[ -f $example_dir/CMakeLists.txt ]] || fail "$example_dir/CMakeLists.txt not found"

# The compiler the build tree uses, so the example is built with the same toolchain.
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
cxx=${cxx:-c++}
nm_tool=$(sed -n 's/^CMAKE_NM:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
nm_tool=${nm_tool:-nm}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/carepath-example.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

# --- 1. Install ----------------------------------------------------------------------------------
say "installing $build_dir to a temporary prefix"
if ! cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  fail_with_log "$tmp/install.log" "cmake --install failed (is the tree built? cmake --build $build_dir)"
fi

config=$(find "$prefix" -path '*/cmake/carepath/carepathConfig.cmake' -print -quit)
[[ -n $config ]] || fail "the install has no cmake/carepath/carepathConfig.cmake"
package_dir=$(dirname "$config")
for file in carepathConfigVersion.cmake carepathTargets.cmake carepath_plugin.cmake; do
  [[ -f $package_dir/$file ]] || fail "the install has no $file next to carepathConfig.cmake"
done
for header in plugin_abi.h plugin.hpp; do
  [[ -f $prefix/include/carepath/$header ]] || fail "the install has no include/carepath/$header"
done
# `isolation: process` runs plugins in carepath-plugin-host, which the engine looks for beside itself.
[[ -x $prefix/bin/carepath-plugin-host ]] || fail "the install has no bin/carepath-plugin-host"

# Only the SDK, its package files and the carepath binaries are promised to outsiders: no engine
# libraries or internal headers, no tests, no test plugins.
unexpected=$(cd "$prefix" && find . -type f | sed 's|^\./||' | grep -Ev \
  '^(bin/carepath|bin/carepath-plugin-host|include/carepath/[a-z_]+\.(h|hpp)|lib[^/]*/cmake/carepath/[A-Za-z_-]+\.cmake)$' \
  | grep -E '\.(a|o)$|^include/|_tests$|cp_test_|gtest|gmock' || true)
[[ -z $unexpected ]] || fail "cmake --install installed files outsiders must not get:
$unexpected"
say "installed: $(cd "$prefix" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')"

# --- 2. Configure and build the example against the prefix ---------------------------------------
say "building examples/custom_plugin with find_package(carepath)"
# No package registries: only the temporary prefix may satisfy find_package(carepath).
if ! cmake -S "$example_dir" -B "$tmp/build" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" 2>&1; then
  fail_with_log "$tmp/configure.log" "configuring examples/custom_plugin failed"
fi
found_dir=$(sed -n 's/^carepath_DIR:[A-Z]*=//p' "$tmp/build/CMakeCache.txt")
[[ $found_dir == "$prefix"/* ]] ||
  fail "find_package(carepath) used '$found_dir', not the temporary prefix"
if ! cmake --build "$tmp/build" >"$tmp/build.log" 2>&1; then
  fail_with_log "$tmp/build.log" "building examples/custom_plugin failed"
fi
plugin=$tmp/build/shelter_capacity.so
[[ -f $plugin ]] || fail "the build did not produce shelter_capacity.so"

# --- 3. Exports ----------------------------------------------------------------------------------
exports=$("$nm_tool" -D --defined-only "$plugin" | awk 'NF >= 3 { print $3 }')
[[ $exports == carepath_plugin_entry_v1 ]] ||
  fail "shelter_capacity.so must export only carepath_plugin_entry_v1; nm -D --defined-only shows:
$exports"
say "exports: $exports"

# --- 4. Load and run the step --------------------------------------------------------------------
# A host in miniature, compiled against the installed SDK headers only.
cat >"$tmp/driver.cpp" <<'EOF'
#include <carepath/plugin_abi.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

int failures = 0;

void append(void* to, cp_str bytes) { static_cast<std::string*>(to)->append(bytes.data, bytes.size); }

cp_str text(std::string_view s) { return cp_str{s.data(), s.size()}; }

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "driver: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    return 2;
  }
  void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::fprintf(stderr, "driver: dlopen: %s\n", dlerror());
    return 1;
  }
  auto entry = reinterpret_cast<cp_plugin_entry_fn>(dlsym(library, CP_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    std::fprintf(stderr, "driver: no %s\n", CP_PLUGIN_ENTRY_SYMBOL);
    return 1;
  }
  const cp_host_api host{sizeof(cp_host_api), CP_ABI_MAJOR, CP_ABI_MINOR, nullptr, nullptr, nullptr};
  const cp_plugin* plugin = entry(&host);
  if (plugin == nullptr || plugin->step_type_count != 1) {
    std::fprintf(stderr, "driver: expected a descriptor with one step type\n");
    return 1;
  }
  expect(plugin->abi_major == CP_ABI_MAJOR && plugin->abi_minor <= CP_ABI_MINOR, "ABI version");
  expect(std::strcmp(plugin->name, "shelter") == 0, "plugin name");
  const cp_step_type& type = *plugin->step_types[0];
  expect(std::strcmp(type.name, "shelter.capacity_check") == 0, "step type name");
  expect(type.read_count == 2, "step type reads two fields");

  // Refused configurations come back as CP_STATUS_FAILED with a reason.
  for (const char* bad : {"not json", R"({"homes": {}})", R"({"homes": {"umang": 0}})", ""}) {
    std::string error;
    void* step = nullptr;
    expect(type.create(text(bad), &step, cp_sink{&error, &append}) == CP_STATUS_FAILED &&
               step == nullptr && !error.empty(),
           "a bad config is refused with a reason");
  }

  std::string error;
  void* step = nullptr;
  if (type.create(text(R"({"homes": {"umang": 2, "umeed": 12}})"), &step,
                  cp_sink{&error, &append}) != CP_STATUS_OK) {
    std::fprintf(stderr, "driver: create failed: %s\n", error.c_str());
    return 1;
  }
  struct Case {
    const char* input;
    cp_status status;
    const char* output;
  };
  const Case cases[] = {
      {R"({"data": {"home": "umang", "home_occupancy": 1}})", CP_STATUS_OK,
       R"({"home_places_left": 0})"},
      {R"({"data": {"home": "umang", "home_occupancy": 2}})", CP_STATUS_VETO, ""},
      {R"({"data": {"home": "nowhere", "home_occupancy": 0}})", CP_STATUS_FAILED, ""},
      {R"({"data": {"home_occupancy": 0}})", CP_STATUS_FAILED, ""},
      {R"({"data": {"home": "umang", "home_occupancy": "one"}})", CP_STATUS_FAILED, ""},
      {R"({"data": {"home": "umang", "home_occupancy": 1)", CP_STATUS_FAILED, ""},
      {"", CP_STATUS_FAILED, ""},
      {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
       CP_STATUS_FAILED, ""},
  };
  for (const Case& c : cases) {
    std::string output;
    std::string message;
    const cp_status status = type.run(step, &host, nullptr, text(c.input),
                                      cp_sink{&output, &append}, cp_sink{&message, &append});
    const bool ok = status == c.status && output == c.output &&
                    (status == CP_STATUS_OK || !message.empty());
    if (!ok) {
      std::fprintf(stderr, "driver: input %s: status %d, output '%s', message '%s'\n", c.input,
                   static_cast<int>(status), output.c_str(), message.c_str());
      ++failures;
    }
  }
  type.destroy(step);
  return failures == 0 ? 0 : 1;
}
EOF
if ! "$cxx" -std=c++20 -I"$prefix/include" -o "$tmp/driver" "$tmp/driver.cpp" -ldl \
  >"$tmp/driver-build.log" 2>&1; then
  fail_with_log "$tmp/driver-build.log" "compiling the test driver against the installed SDK failed"
fi
if ! "$tmp/driver" "$plugin" >"$tmp/driver.log" 2>&1; then
  fail_with_log "$tmp/driver.log" "shelter.capacity_check did not answer as expected"
fi
say "shelter.capacity_check: ok, veto, failed and refused configs answered as expected"

# --- 5. carepath plugins check -------------------------------------------------------------------
carepath=$prefix/bin/carepath
[[ -x $carepath ]] || carepath=$build_dir/engine/src/app/carepath
[[ -x $carepath ]] || fail "no carepath binary in the install or in $build_dir/engine/src/app"
set +e
"$carepath" plugins check "$plugin" >"$tmp/check.log" 2>&1
status=$?
set -e
if [[ $status -ne 0 ]] && grep -q "unknown command 'plugins'" "$tmp/check.log"; then
  say "notice: this carepath has no 'plugins check' subcommand yet; skipped loading it there"
elif [[ $status -ne 0 ]]; then
  fail_with_log "$tmp/check.log" "carepath plugins check rejected shelter_capacity.so (exit $status)"
else
  sed 's/^/  | /' "$tmp/check.log"
  say "carepath plugins check accepted shelter_capacity.so"
fi

say "passed"
