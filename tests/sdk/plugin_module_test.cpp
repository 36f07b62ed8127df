// Plugin modules as built by carepath_add_plugin(): a plugin built against the frozen ABI 1.0
// header and one built with today's SDK load with plain dlopen, describe themselves through the
// one entry symbol and export nothing else.
#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <carepath/plugin_abi.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

namespace {

// A loaded module; unloaded when the test ends (no step instance outlives it).
class Module {
 public:
  explicit Module(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {}
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;
  ~Module() {
    if (handle_ != nullptr) {
      dlclose(handle_);
    }
  }

  bool loaded() const { return handle_ != nullptr; }

  cp_plugin_entry_fn entry() const {
    // POSIX guarantees that a data pointer from dlsym converts to a function pointer.
    return reinterpret_cast<cp_plugin_entry_fn>(dlsym(handle_, CP_PLUGIN_ENTRY_SYMBOL));
  }

 private:
  void* handle_;
};

struct Host {
  std::string output;
  std::string error;
  std::vector<std::string> logs;

  static void append(void* to, cp_str bytes) {
    static_cast<std::string*>(to)->append(bytes.data, bytes.size);
  }
  static void log(void* call, int /*level*/, cp_str message) {
    static_cast<Host*>(call)->logs.emplace_back(message.data, message.size);
  }

  cp_host_api api{sizeof(cp_host_api), CP_ABI_MAJOR, CP_ABI_MINOR, &log, nullptr, nullptr};
  cp_sink output_sink() { return cp_sink{&output, &append}; }
  cp_sink error_sink() { return cp_sink{&error, &append}; }
};

cp_str text(std::string_view s) {
  return cp_str{s.data(), s.size()};
}

std::vector<std::string> step_names(const cp_plugin& plugin) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < plugin.step_type_count; ++i) {
    names.emplace_back(plugin.step_types[i]->name);
  }
  return names;
}

// Creates an instance of `type` with config "{}", runs it once on "{}" and destroys it.
cp_status run_once(const cp_step_type& type, Host& host) {
  void* step = nullptr;
  if (type.create(text("{}"), &step, host.error_sink()) != CP_STATUS_OK) {
    return CP_STATUS_INVALID;
  }
  const cp_status status =
      type.run(step, &host.api, &host, text("{}"), host.output_sink(), host.error_sink());
  type.destroy(step);
  return status;
}

// Names of the defined dynamic symbols of `path`, from `nm -D --defined-only`. Lines without a
// name (nm prints some for unnamed entries) are skipped.
std::vector<std::string> exported_symbols(const std::string& path, int& exit_status) {
  const std::string command = std::string(CP_NM) + " -D --defined-only '" + path + "'";
  std::vector<std::string> names;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    exit_status = -1;
    return names;
  }
  std::array<char, 512> line{};
  while (std::fgets(line.data(), static_cast<int>(line.size()), pipe) != nullptr) {
    std::istringstream fields(line.data());
    std::string address;
    std::string kind;
    std::string name;
    if (fields >> address >> kind >> name) {
      names.push_back(name);
    }
  }
  const int status = pclose(pipe);
  exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return names;
}

TEST(FrozenPlugin, BuiltAgainstAbi10StillLoads) {
  const Module module(CP_FROZEN_PLUGIN_PATH);
  ASSERT_TRUE(module.loaded()) << dlerror();  // NOLINT(concurrency-mt-unsafe)
  const cp_plugin_entry_fn entry = module.entry();
  ASSERT_NE(entry, nullptr) << CP_PLUGIN_ENTRY_SYMBOL << " not found";

  Host host;
  const cp_plugin* plugin = entry(&host.api);
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->struct_size, 40U) << "the 1.0 size of cp_plugin";
  EXPECT_EQ(plugin->abi_major, 1);
  EXPECT_EQ(plugin->abi_minor, 0);
  EXPECT_LE(plugin->abi_minor, CP_ABI_MINOR) << "an engine loads plugins of its minor or older";
  EXPECT_STREQ(plugin->name, "frozen");
  EXPECT_STREQ(plugin->version, "1.0.0");
  EXPECT_EQ(step_names(*plugin), (std::vector<std::string>{"frozen.mark", "frozen.refuse"}));

  const cp_step_type& mark = *plugin->step_types[0];
  EXPECT_EQ(mark.struct_size, 72U) << "the 1.0 size of cp_step_type";
  ASSERT_EQ(mark.read_count, 1U);
  EXPECT_STREQ(mark.reads[0], "age");
  EXPECT_EQ(mark.config_schema, nullptr);
  EXPECT_EQ(run_once(mark, host), CP_STATUS_OK);
  EXPECT_EQ(host.output, R"({"frozen_mark": true})");
  EXPECT_EQ(host.logs, (std::vector<std::string>{"frozen.mark ran"}));

  EXPECT_EQ(run_once(*plugin->step_types[1], host), CP_STATUS_FAILED);
  EXPECT_EQ(host.error, "refused by the frozen 1.0 test plugin");
}

TEST(SdkPlugin, LoadsAndStopsExceptionsInsideTheModule) {
  const Module module(CP_SDK_PLUGIN_PATH);
  ASSERT_TRUE(module.loaded()) << dlerror();  // NOLINT(concurrency-mt-unsafe)
  const cp_plugin_entry_fn entry = module.entry();
  ASSERT_NE(entry, nullptr);

  Host host;
  const cp_plugin* plugin = entry(&host.api);
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->abi_minor, CP_ABI_MINOR);
  EXPECT_STREQ(plugin->name, "sdk_module");
  EXPECT_EQ(step_names(*plugin), (std::vector<std::string>{"sdk_module.echo", "sdk_module.throw"}));

  EXPECT_EQ(run_once(*plugin->step_types[0], host), CP_STATUS_OK);
  EXPECT_EQ(host.output, R"({"echo_config": {}})");
  EXPECT_EQ(run_once(*plugin->step_types[1], host), CP_STATUS_FAILED);
  EXPECT_EQ(host.error, "thrown inside the module");
}

TEST(PluginExports, FrozenPluginExportsOnlyTheEntrySymbol) {
  int status = 0;
  const auto names = exported_symbols(CP_FROZEN_PLUGIN_PATH, status);
  ASSERT_EQ(status, 0) << CP_NM << " failed";
  EXPECT_EQ(names, (std::vector<std::string>{CP_PLUGIN_ENTRY_SYMBOL}));
}

TEST(PluginExports, SdkPluginExportsOnlyTheEntrySymbol) {
  int status = 0;
  const auto names = exported_symbols(CP_SDK_PLUGIN_PATH, status);
  ASSERT_EQ(status, 0) << CP_NM << " failed";
  EXPECT_EQ(names, (std::vector<std::string>{CP_PLUGIN_ENTRY_SYMBOL}));
}

}  // namespace
