// The catalog of step types: built-in steps added by the engine, and plugins loaded from shared
// libraries through the C ABI (carepath/plugin_abi.h) with Boost.DLL.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
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

  // Adds a built-in step type.
  // Errc::invalid_argument for a null type; Errc::conflict when its name is taken.
  Result<void> add(std::unique_ptr<StepType> type);

  // Loads one plugin file and registers all its step types, or none of them.
  // With `allow`, the file must be listed there with its SHA-256.
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

  // Declared first so it is destroyed last: see ~Registry().
  std::vector<std::shared_ptr<const void>> libraries_;
  std::vector<PluginInfo> plugins_;
  std::map<std::string, std::unique_ptr<StepType>, std::less<>> types_;
  std::vector<std::string> load_problems_;
};

// What `carepath plugins check FILE.so` reports: loads the file into a throwaway Registry and,
// when it loads, adds warnings for things that work but are likely mistakes (a config schema
// that accepts unknown keys, a step without a description, a plugin without steps).
// Errors as Registry::load().
Result<PluginInfo> check_plugin_file(const std::filesystem::path& file);

}  // namespace carepath::plugin_host
