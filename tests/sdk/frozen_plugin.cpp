// A plugin as it was built against ABI 1.0: compiled with the frozen copy of plugin_abi.h in
// tests/sdk/frozen/abi_1_0 (CMake puts it ahead of the SDK's include directory) and written
// against the bare C ABI, without plugin.hpp, the way a plugin in C or another language is.
// Every later engine must keep loading it (STYLE.md §10); plugin_host's tests load it, and
// tests/sdk checks its exports. Do not "update" this file when the ABI grows: that is the point.
//
// Plugin "frozen", version "1.0.0", two step types:
//   frozen.mark    no configuration; reads "age"; answers CP_STATUS_OK with {"frozen_mark": true}
//                  and, when the host offers it, logs one info line "frozen.mark ran".
//   frozen.refuse  no configuration; reads nothing; answers CP_STATUS_FAILED with the error
//                  "refused by the frozen 1.0 test plugin".
#include <cstddef>
#include <cstdlib>

#include <carepath/plugin_abi.h>

static_assert(CP_ABI_MAJOR == 1 && CP_ABI_MINOR == 0,
              "frozen_plugin.cpp must be compiled against tests/sdk/frozen/abi_1_0");

// C-style arrays and plain functions on purpose: this is what a plugin without the SDK looks like.
// NOLINTBEGIN(modernize-avoid-c-arrays)
namespace {

void write(cp_sink sink, const char* text, std::size_t size) {
  if (sink.write != nullptr) {
    sink.write(sink.host, cp_str{text, size});
  }
}

// Instances carry nothing; one byte of heap makes create/destroy pairs visible to sanitizers.
cp_status create(cp_str /*config_json*/, void** step, cp_sink error) {
  *step = std::malloc(1);
  if (*step == nullptr) {
    constexpr char kMessage[] = "out of memory";
    write(error, kMessage, sizeof kMessage - 1);
    return CP_STATUS_FAILED;
  }
  return CP_STATUS_OK;
}

void destroy(void* step) {
  std::free(step);
}

// Reads only what ABI 1.0 defines, and only within the host's struct_size.
void log_info(const cp_host_api* host, void* call, const char* text, std::size_t size) {
  if (host != nullptr && host->struct_size >= offsetof(cp_host_api, log) + sizeof(host->log) &&
      host->log != nullptr) {
    host->log(call, CP_LOG_INFO, cp_str{text, size});
  }
}

cp_status run_mark(void* /*step*/, const cp_host_api* host, void* call, cp_str /*input_json*/,
                   cp_sink output, cp_sink /*error*/) {
  constexpr char kLine[] = "frozen.mark ran";
  log_info(host, call, kLine, sizeof kLine - 1);
  constexpr char kFields[] = R"({"frozen_mark": true})";
  write(output, kFields, sizeof kFields - 1);
  return CP_STATUS_OK;
}

cp_status run_refuse(void* /*step*/, const cp_host_api* /*host*/, void* /*call*/,
                     cp_str /*input_json*/, cp_sink /*output*/, cp_sink error) {
  constexpr char kMessage[] = "refused by the frozen 1.0 test plugin";
  write(error, kMessage, sizeof kMessage - 1);
  return CP_STATUS_FAILED;
}

const char* const kMarkReads[] = {"age"};

const cp_step_type kMark = {sizeof(cp_step_type),
                            "frozen.mark",
                            "Marks the case as seen by a 1.0 plugin",
                            nullptr,
                            kMarkReads,
                            1,
                            &create,
                            &run_mark,
                            &destroy};

const cp_step_type kRefuse = {
    sizeof(cp_step_type), "frozen.refuse", "Always fails", nullptr, nullptr, 0, &create,
    &run_refuse,          &destroy};

const cp_step_type* const kStepTypes[] = {&kMark, &kRefuse};

const cp_plugin kPlugin = {
    sizeof(cp_plugin), CP_ABI_MAJOR, CP_ABI_MINOR, "frozen", "1.0.0", kStepTypes, 2};

}  // namespace
// NOLINTEND(modernize-avoid-c-arrays)

extern "C" CP_PLUGIN_EXPORT const cp_plugin* carepath_plugin_entry_v1(const cp_host_api* /*host*/) {
  return &kPlugin;
}
