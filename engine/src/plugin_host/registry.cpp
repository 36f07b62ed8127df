#include "plugin_host/registry.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include <boost/dll/shared_library.hpp>

#include "core/log.hpp"
#include "plugin_host/adapter.hpp"
#include "plugin_host/descriptor.hpp"
#include "plugin_host/host_api.hpp"
#include "plugin_host/remote.hpp"
#include "security/digest.hpp"

namespace carepath::plugin_host {
namespace {

namespace fs = std::filesystem;

// Entry symbols of later ABI majors, looked for only to explain why a file is not a plugin for
// this engine.
constexpr int kLastMajorToRecognise = 9;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return s;
}

// The file's bytes, or nullopt when it cannot be read to the end.
std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return std::nullopt;
  }
  return bytes;
}

// Boost.DLL's message is "boost::dll::shared_library::load() failed (dlerror system message:
// <what dlerror said>): <errno text>"; people need only the part from dlerror.
std::string load_failure(const std::exception& e) {
  std::string what = e.what();
  constexpr std::string_view kMarker = "(dlerror system message: ";
  const auto begin = what.find(kMarker);
  if (begin == std::string::npos) {
    return what;
  }
  const auto start = begin + kMarker.size();
  const auto end = what.rfind(')');
  if (end == std::string::npos || end < start) {
    return what.substr(start);
  }
  return what.substr(start, end - start);
}

PluginInfo info_of(const PluginDescriptor& d, const fs::path& file) {
  PluginInfo info;
  info.name = d.name;
  info.version = d.version;
  info.file = file;
  info.abi_major = d.abi_major;
  info.abi_minor = d.abi_minor;
  for (const auto& step : d.step_types) {
    info.step_types.push_back(
        StepTypeInfo{step.name, step.description, step.config_schema, step.reads});
  }
  return info;
}

// Whether the top-level schema describes an object but lets unknown keys through, so a typo in
// a workflow's `with:` block would be silently ignored.
bool accepts_unknown_keys(const boost::json::value& schema) {
  if (!schema.is_object()) {
    return false;
  }
  const auto& s = schema.get_object();
  const auto* type = s.if_contains("type");
  const bool object_schema =
      (type != nullptr && type->is_string() && type->get_string() == "object") ||
      s.contains("properties") || s.contains("required");
  if (!object_schema) {
    return false;
  }
  const auto* additional = s.if_contains("additionalProperties");
  return additional == nullptr || !additional->is_bool() || additional->get_bool();
}

}  // namespace

Registry::Registry() = default;

Registry::~Registry() {
  // Step types first: they hold the libraries their functions live in. Instances made from them
  // may still be held by workflows; they hold their library too, so it unloads after the last.
  types_.clear();
  plugins_.clear();
  libraries_.clear();
}

Result<void> Registry::add(std::unique_ptr<StepType> type) {
  if (type == nullptr) {
    return make_error(Errc::invalid_argument, "no step type to add");
  }
  const std::string& name = type->name();
  if (types_.find(name) != types_.end()) {
    return make_error(Errc::conflict, "step '" + name + "' is already registered");
  }
  std::string key = name;
  types_.emplace(std::move(key), std::move(type));
  return {};
}

Result<PluginInfo> Registry::load(const fs::path& file, const Allowlist* allow) {
  std::error_code ec;
  fs::path path = fs::absolute(file, ec);
  if (ec) {
    path = file;
  }
  tried_.push_back(path.filename().string());
  const std::string where = "plugin file '" + path.string() + "': ";
  const auto refuse = [&where](std::string reason) {
    return make_error(Errc::plugin, where + std::move(reason));
  };

  if (!fs::exists(path, ec)) {
    return refuse("does not exist");
  }
  if (!fs::is_regular_file(path, ec)) {
    return refuse("is not a regular file");
  }
  // Before dlopen: loading runs the library's initialisers, so an unapproved file must not get
  // that far.
  std::string approved;  // the allowlisted SHA-256, which a plugin host checks again
  if (allow != nullptr) {
    const auto listed = allow->files.find(path.filename().string());
    if (listed == allow->files.end()) {
      return refuse("is not in the plugin allowlist");
    }
    const auto bytes = read_file(path);
    if (!bytes) {
      return refuse("cannot be read");
    }
    if (security::sha256_hex(*bytes) != lower(listed->second)) {
      return refuse("its SHA-256 does not match the plugin allowlist");
    }
    approved = lower(listed->second);
  }
  if (const auto settings = policy_.plugins.find(path.filename().string());
      settings != policy_.plugins.end() && settings->second.isolation == Isolation::process) {
    return load_remote(path, approved, timeout_of(path));
  }

  std::shared_ptr<boost::dll::shared_library> library;
  try {
    library = std::make_shared<boost::dll::shared_library>(
        path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return refuse("cannot be loaded: " + load_failure(e));
  }
  if (!library->has(CP_PLUGIN_ENTRY_SYMBOL)) {
    for (int major = CP_ABI_MAJOR + 1; major <= kLastMajorToRecognise; ++major) {
      if (library->has("carepath_plugin_entry_v" + std::to_string(major))) {
        return refuse("is built for ABI " + std::to_string(major) + ", this engine has " +
                      std::to_string(CP_ABI_MAJOR) + "." + std::to_string(CP_ABI_MINOR) +
                      "; use a build of the plugin for ABI " + std::to_string(CP_ABI_MAJOR));
      }
    }
    return refuse("is not a carepath plugin: it does not export " +
                  std::string(CP_PLUGIN_ENTRY_SYMBOL));
  }
  auto& entry = library->get<std::remove_pointer_t<cp_plugin_entry_fn>>(CP_PLUGIN_ENTRY_SYMBOL);

  auto registered = register_plugin(&entry, path, library);
  if (!registered) {
    Error error = registered.error();
    error.message = where + error.message;
    return error;
  }
  return registered;
}

Result<PluginInfo> Registry::add_linked(cp_plugin_entry_fn entry) {
  if (entry == nullptr) {
    return make_error(Errc::invalid_argument, "no plugin entry function to add");
  }
  return register_plugin(entry, {}, nullptr);
}

Result<PluginInfo> Registry::register_plugin(cp_plugin_entry_fn entry, const fs::path& file,
                                             std::shared_ptr<const void> library) {
  const cp_plugin* descriptor = nullptr;
  try {
    descriptor = entry(host_api());
  } catch (...) {
    return make_error(Errc::plugin, "the entry function threw an exception");
  }
  auto read = read_descriptor(descriptor);
  if (!read) {
    return read.error();
  }
  PluginDescriptor& d = *read;

  std::vector<std::string> names;
  for (const auto& step : d.step_types) {
    names.push_back(step.name);
  }
  if (auto free = check_conflicts(d.name, names); !free) {
    return free.error();
  }

  PluginInfo info = info_of(d, file);
  auto limits = std::make_shared<CallLimits>();
  limits->timeout_ms = file.empty() ? policy_.step_timeout_ms : timeout_of(file);
  limits->max_abandoned = policy_.max_abandoned;
  for (auto& step : d.step_types) {
    std::string name = step.name;
    auto shared = std::make_shared<const PluginStep>(
        PluginStep{d.name, d.version, std::move(step), library, limits});
    types_.emplace(std::move(name), make_plugin_step_type(std::move(shared)));
  }
  if (library != nullptr) {
    libraries_.push_back(std::move(library));
  }
  plugins_.push_back(info);
  const std::string file_text = file.string();
  log(LogLevel::info, "plugin loaded",
      {{"plugin", info.name}, {"version", info.version}, {"file", file_text}});
  return info;
}

Result<void> Registry::check_conflicts(const std::string& plugin,
                                       const std::vector<std::string>& steps) {
  // Every conflict is found before anything is registered: a plugin loads whole or not at all.
  for (const auto& loaded : plugins_) {
    if (loaded.name == plugin) {
      return make_error(Errc::conflict,
                        "plugin '" + plugin + "' is already loaded" +
                            (loaded.file.empty() ? std::string(" (linked into the engine)")
                                                 : " from '" + loaded.file.string() + "'"));
    }
  }
  for (const auto& step : steps) {
    if (const auto taken = types_.find(step); taken != types_.end()) {
      return make_error(Errc::conflict, "plugin '" + plugin + "': step '" + step +
                                            "' is already registered by plugin '" +
                                            taken->second->plugin() + "'");
    }
  }
  return {};
}

std::int64_t Registry::timeout_of(const fs::path& file) const {
  const auto settings = policy_.plugins.find(file.filename().string());
  if (settings != policy_.plugins.end() && settings->second.timeout_ms > 0) {
    return settings->second.timeout_ms;
  }
  return policy_.step_timeout_ms;
}

Result<PluginInfo> Registry::load_remote(const fs::path& file, const std::string& sha256,
                                         std::int64_t timeout_ms) {
  RemoteOptions options;
  options.host_executable = policy_.host_executable;
  options.plugin_file = file;
  options.sha256 = sha256;
  // A host needs a limit to be killed at; "no limit" still gets one, of an hour.
  options.timeout_ms = timeout_ms > 0 ? timeout_ms : 3'600'000;
  options.restart_backoff_ms = policy_.restart_backoff_ms;
  if (options.host_executable.empty()) {
    return make_error(Errc::plugin, "plugin file '" + file.string() +
                                        "': isolation: process needs the carepath-plugin-host "
                                        "program, and none is configured");
  }
  auto remote = start_remote_plugin(options);
  if (!remote) {
    return remote.error();
  }
  std::vector<std::string> names;
  for (const auto& type : remote->step_types) {
    names.push_back(type->name());
  }
  if (auto free = check_conflicts(remote->name, names); !free) {
    Error error = free.error();
    error.message = "plugin file '" + file.string() + "': " + error.message;
    return error;
  }
  PluginInfo info;
  info.name = remote->name;
  info.version = remote->version;
  info.file = file;
  info.abi_major = remote->abi_major;
  info.abi_minor = remote->abi_minor;
  for (auto& type : remote->step_types) {
    info.step_types.push_back(
        StepTypeInfo{type->name(), type->description(), type->config_schema(), type->reads()});
    std::string name = type->name();
    types_.emplace(std::move(name), std::move(type));
  }
  plugins_.push_back(info);
  const std::string file_text = file.string();
  log(LogLevel::info, "plugin loaded",
      {{"plugin", info.name},
       {"version", info.version},
       {"file", file_text},
       {"isolation", "process"}});
  return info;
}

std::vector<LoadProblem> Registry::load_directory(const fs::path& dir, const Allowlist* allow) {
  std::vector<LoadProblem> problems;
  const auto report = [this, &problems](const fs::path& file, std::string message) {
    const std::string file_text = file.string();
    log(LogLevel::error, message, {{"file", file_text}});
    load_problems_.push_back(message);
    problems.push_back(LoadProblem{file, std::move(message)});
  };

  std::error_code ec;
  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    report(dir, "plugin directory '" + dir.string() + "' cannot be read: " + ec.message());
    return problems;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      break;
    }
    const fs::path& path = it->path();
    std::error_code type_ec;
    if (path.extension() == ".so" && fs::is_regular_file(path, type_ec)) {
      files.push_back(path);
    }
  }
  if (ec) {
    report(dir, "plugin directory '" + dir.string() + "' cannot be read: " + ec.message());
    return problems;
  }
  std::sort(files.begin(), files.end());

  for (const auto& file : files) {
    auto loaded = load(file, allow);
    if (!loaded) {
      report(file, loaded.error().message);
    }
  }
  return problems;
}

std::vector<std::string> Registry::check_settings() {
  std::vector<std::string> problems;
  for (const auto& [file, settings] : policy_.plugins) {
    if (std::find(tried_.begin(), tried_.end(), file) != tried_.end()) {
      continue;
    }
    std::string message = "plugin_settings names '" + file +
                          "', which is in no plugin directory; check the file name";
    log(LogLevel::error, message, {{"file", file}});
    load_problems_.push_back(message);
    problems.push_back(std::move(message));
  }
  return problems;
}

std::vector<PluginInfo> Registry::plugins() const {
  return plugins_;
}

const StepType* Registry::find(std::string_view name) const {
  const auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second.get();
}

std::vector<const StepType*> Registry::all() const {
  std::vector<const StepType*> out;
  out.reserve(types_.size());
  for (const auto& [name, type] : types_) {
    out.push_back(type.get());
  }
  return out;
}

Result<PluginInfo> check_plugin_file(const fs::path& file) {
  Registry registry;
  auto loaded = registry.load(file);
  if (!loaded) {
    return loaded.error();
  }
  PluginInfo info = *loaded;
  if (info.step_types.empty()) {
    info.warnings.push_back("plugin '" + info.name + "' declares no step types");
  }
  for (const auto& step : info.step_types) {
    if (step.description.empty()) {
      info.warnings.push_back("step '" + step.name + "' has no description");
    }
    if (accepts_unknown_keys(step.config_schema)) {
      info.warnings.push_back("step '" + step.name +
                              "': config schema accepts unknown keys; add "
                              "\"additionalProperties\": false so a misspelt key in a "
                              "workflow's `with:` block is refused when the workflow loads");
    }
  }
  return info;
}

}  // namespace carepath::plugin_host
