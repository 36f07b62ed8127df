// The catalog of step types: built-in steps added by the engine, and plugins loaded from shared
// libraries through the C ABI (carepath/plugin_abi.h) with Boost.DLL.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>
#include <carepath/plugin_abi.h>

#include "core/error.hpp"
#include "core/step.hpp"

namespace carepath::plugin_host {

// One step type of a plugin, as GET /v1/plugins shows it.
struct StepTypeInfo {
  std::string name;                  // "legal_aid.refer"
  std::string description;           // "" when the plugin gave none
  boost::json::value config_schema;  // null: the step takes no configuration
  std::vector<std::string> reads;    // case fields the step may read
};

struct PluginInfo {
  std::string name;            // "legal_aid"
  std::string version;         // the plugin's own version, "0.1.0"
  std::filesystem::path file;  // absolute; empty for a plugin linked into the engine
  int abi_major = 0;           // the ABI the plugin was compiled against
  int abi_minor = 0;
  std::vector<StepTypeInfo> step_types;  // in the plugin's order
  // Advice for the plugin's author; only check_plugin_file() fills it.
  std::vector<std::string> warnings;
};

// A plugin file that load_directory() refused, and why.
struct LoadProblem {
  std::filesystem::path file;
  std::string message;  // names the file, the plugin and the step where known; no case data
};

// The plugin files an operator approved: file name (not path) -> SHA-256 as hex. When one is
// given, any other file, or a listed file whose content changed, is refused before it is opened.
struct Allowlist {
  std::map<std::string, std::string> files;
};

// Where a plugin's code runs: in the engine (fast; a crash takes the engine down, a hang can
// only be abandoned) or in its own host process (`isolation: process`; a crash or hang fails
// the step and the host is restarted).
enum class Isolation { in_process = 1, process };

// Settings for one plugin file (carepath.yaml `plugin_settings:`).
struct PluginSettings {
  Isolation isolation = Isolation::in_process;
  std::int64_t timeout_ms = 0;  // 0: CallPolicy::step_timeout_ms
};

// How plugin step calls are limited and isolated. Built-in steps are not affected.
struct CallPolicy {
  // Time limit of one step call; 0: none (calls run on the caller's thread).
  std::int64_t step_timeout_ms = 30'000;
  // Per plugin: abandoned in-process calls that may still be running before the plugin's calls
  // fail fast as retryable.
  int max_abandoned = 4;
  // By plugin file name ("legal_aid.so").
  std::map<std::string, PluginSettings> plugins;
  // carepath-plugin-host, for plugins with Isolation::process.
  std::filesystem::path host_executable;
  // First wait before a failed plugin host is started again; doubles per failure in a row.
  std::int64_t restart_backoff_ms = 1000;
};

// Every step type the engine can run, and the libraries they come from.
//
// Libraries stay loaded while the Registry lives, and afterwards for as long as any step
// instance made from them lives: each instance keeps its library's handle.
//
// Thread-safety: add(), load(), add_linked() and load_directory() change the registry; call them
// while one thread owns it (start-up). The const members may then be called concurrently.
class Registry final : public StepCatalog {
 public:
  Registry();
  // Destroys the step types, then releases the libraries (which unload once their last
  // instance is gone).
  ~Registry() override;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  Registry(Registry&&) = delete;
  Registry& operator=(Registry&&) = delete;

  // Sets how plugins loaded from now on are called. Call before load() / load_directory().
  void set_policy(CallPolicy policy) { policy_ = std::move(policy); }
  const CallPolicy& policy() const { return policy_; }

  // Adds a built-in step type.
  // Errc::invalid_argument for a null type; Errc::conflict when its name is taken.
  Result<void> add(std::unique_ptr<StepType> type);

  // Loads one plugin file and registers all its step types, or none of them.
  // With `allow`, the file must be listed there with its SHA-256. A file whose settings ask for
  // Isolation::process is not opened here: a host process loads it and describes it.
  // Errc::plugin with a message that starts with the file's path and says what is wrong;
  // Errc::conflict when a step name (or the plugin's name) is taken already.
  Result<PluginInfo> load(const std::filesystem::path& file, const Allowlist* allow = nullptr);

  // Registers a plugin linked into the engine (CP_PLUGIN's `<plugin>_carepath_plugin_entry_v1`):
  // the same checks as load(), without a library. Errors as load(), without the path.
  Result<PluginInfo> add_linked(cp_plugin_entry_fn entry);

  // Loads every *.so file directly in `dir` (sorted by name; other files and subdirectories are
  // ignored). Each file that is refused is logged at error level and returned; the good ones stay
  // loaded. A missing or unreadable directory is one problem.
  std::vector<LoadProblem> load_directory(const std::filesystem::path& dir,
                                          const Allowlist* allow = nullptr);

  // After loading: every file named in the policy's per-plugin settings must have been loaded
  // or refused, else a typo would quietly run a plugin meant for `isolation: process` inside the
  // engine. Each one that was not is logged at error level and becomes a load problem (so
  // /readyz fails); returns them.
  std::vector<std::string> check_settings();

  // The loaded plugins in load order (built-in steps are not listed; see all()).
  std::vector<PluginInfo> plugins() const;

  const StepType* find(std::string_view name) const override;
  // Every step type, built-in and plugin, ordered by name.
  std::vector<const StepType*> all() const override;
  // Every problem load_directory() reported, in order.
  std::vector<std::string> load_problems() const override { return load_problems_; }

 private:
  Result<PluginInfo> register_plugin(cp_plugin_entry_fn entry, const std::filesystem::path& file,
                                     std::shared_ptr<const void> library);
  Result<PluginInfo> load_remote(const std::filesystem::path& file, const std::string& sha256,
                                 std::int64_t timeout_ms);
  // Conflicts of a plugin about to be registered with what is registered already.
  Result<void> check_conflicts(const std::string& plugin, const std::vector<std::string>& steps);
  std::int64_t timeout_of(const std::filesystem::path& file) const;

  // Declared first so it is destroyed last: see ~Registry().
  std::vector<std::shared_ptr<const void>> libraries_;
  std::vector<PluginInfo> plugins_;
  std::map<std::string, std::unique_ptr<StepType>, std::less<>> types_;
  std::vector<std::string> load_problems_;
  std::vector<std::string> tried_;  // file names load() was asked for
  CallPolicy policy_;
};

// What `carepath plugins check FILE.so` reports: loads the file into a throwaway Registry and,
// when it loads, adds warnings for things that work but are likely mistakes (a config schema
// that accepts unknown keys, a step without a description, a plugin without steps).
// Errors as Registry::load().
Result<PluginInfo> check_plugin_file(const std::filesystem::path& file);

}  // namespace carepath::plugin_host
