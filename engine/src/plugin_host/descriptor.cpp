#include "plugin_host/descriptor.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <set>

#include <boost/json/parse.hpp>

#include "core/json_schema.hpp"

namespace carepath::plugin_host {
namespace {

// Where each struct ended in ABI 1.0. A plugin's struct_size may not be smaller; members
// appended in later minors are read only when struct_size covers them (none exist yet).
constexpr std::size_t kPluginSize10 = offsetof(cp_plugin, step_type_count) + sizeof(std::size_t);
constexpr std::size_t kStepTypeSize10 =
    offsetof(cp_step_type, destroy) + sizeof(cp_step_type::destroy);

// Bounds on what a descriptor may declare, so that a corrupt count is refused instead of being
// walked into unmapped memory. Far above anything a real plugin needs.
constexpr std::size_t kMaxStepTypes = 256;
constexpr std::size_t kMaxReads = 1024;
constexpr std::size_t kMaxNameLength = 64;
constexpr std::size_t kMaxVersionLength = 64;
// Schemas are checked to 64 levels by check_schema(); the parser must not stop before that.
constexpr std::size_t kMaxSchemaJsonDepth = 256;

constexpr std::string_view kNameRule = "lower-case letters, digits and '_', starting with a letter";

// A checker's message that quotes the plugin's schema (a keyword, a pointer into it) is cut to
// this many bytes.
constexpr std::size_t kMaxQuotedMessage = 300;

// Plugin-supplied text as it may appear in a message: printable ASCII (anything else becomes
// '?'), at most `max` bytes. Plugin-supplied text is never case data, but a broken plugin can
// hand over any bytes.
std::string excerpt(std::string_view s, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == max) {
      out += "...";
      break;
    }
    const char c = s[i];
    out += c >= 0x20 && c < 0x7f ? c : '?';
  }
  return out;
}

std::string excerpt(const char* s) {
  return excerpt(std::string_view(s), kMaxNameLength);
}

Error plugin_error(std::string message) {
  return make_error(Errc::plugin, std::move(message));
}

// Copies a struct the plugin declared as `declared` bytes into a zero-filled host struct, so
// members past what the plugin knows read as NULL/0 ("not offered").
template <class T>
T read_struct(const T* source, std::uint32_t declared) {
  T copy{};
  std::memcpy(&copy, source, std::min<std::size_t>(declared, sizeof(T)));
  return copy;
}

std::uint32_t declared_size(const void* source) {
  std::uint32_t size = 0;
  std::memcpy(&size, source, sizeof size);  // every ABI struct starts with uint32_t struct_size
  return size;
}

bool is_step_name(std::string_view plugin, std::string_view step) {
  return step.size() > plugin.size() + 1 && step.substr(0, plugin.size()) == plugin &&
         step[plugin.size()] == '.' && is_name(step.substr(plugin.size() + 1)) &&
         step.size() <= plugin.size() + 1 + kMaxNameLength;
}

Result<StepTypeDescriptor> read_step_type(const std::string& plugin, std::size_t index,
                                          const cp_step_type* source) {
  const std::string where = "plugin '" + plugin + "': step type #" + std::to_string(index);
  if (source == nullptr) {
    return plugin_error(where + " is NULL");
  }
  const std::uint32_t size = declared_size(source);
  if (size < kStepTypeSize10) {
    return plugin_error(where + ": descriptor is too small (" + std::to_string(size) +
                        " bytes; ABI 1.0 needs at least " + std::to_string(kStepTypeSize10) + ")");
  }
  const cp_step_type st = read_struct(source, size);
  if (st.name == nullptr) {
    return plugin_error(where + " has no name");
  }

  StepTypeDescriptor out;
  out.name = st.name;
  const std::string step = "plugin '" + plugin + "': step '" + excerpt(st.name) + "'";
  if (out.name.rfind("core.", 0) == 0) {
    return plugin_error(step + ": the 'core.' prefix is reserved for built-in steps");
  }
  if (!is_step_name(plugin, out.name)) {
    return plugin_error(step + " must be named '" + plugin + ".<step>' (" + std::string(kNameRule) +
                        ")");
  }
  if (st.description != nullptr) {
    out.description = st.description;
  }

  if (st.config_schema != nullptr) {
    boost::json::parse_options options;
    options.max_depth = kMaxSchemaJsonDepth;
    boost::system::error_code ec;
    out.config_schema = boost::json::parse(st.config_schema, ec, {}, options);
    if (ec) {
      return plugin_error(step + ": config_schema is not valid JSON (" + ec.message() + ")");
    }
    auto checked = check_schema(out.config_schema);
    if (!checked) {
      // The checker quotes keywords and pointers of the schema as they are.
      return plugin_error(
          step + ": config_schema: " + excerpt(checked.error().message, kMaxQuotedMessage));
    }
  }

  if (st.read_count > 0 && st.reads == nullptr) {
    return plugin_error(step + " declares " + std::to_string(st.read_count) +
                        " reads but gives no list");
  }
  if (st.read_count > kMaxReads) {
    return plugin_error(step + " declares too many reads (" + std::to_string(st.read_count) +
                        "; at most " + std::to_string(kMaxReads) + ")");
  }
  for (std::size_t i = 0; i < st.read_count; ++i) {
    if (st.reads[i] == nullptr || !is_name(st.reads[i])) {
      return plugin_error(step + ": reads #" + std::to_string(i) + " ('" +
                          (st.reads[i] == nullptr ? std::string("NULL") : excerpt(st.reads[i])) +
                          "') is not a field name (" + std::string(kNameRule) + ")");
    }
    out.reads.emplace_back(st.reads[i]);
  }

  if (st.create == nullptr) {
    return plugin_error(step + " has no create function");
  }
  if (st.run == nullptr) {
    return plugin_error(step + " has no run function");
  }
  if (st.destroy == nullptr) {
    return plugin_error(step + " has no destroy function");
  }
  out.functions = StepFunctions{st.create, st.run, st.destroy};
  return out;
}

}  // namespace

bool is_name(std::string_view s) {
  if (s.empty() || s.front() < 'a' || s.front() > 'z') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Result<PluginDescriptor> read_descriptor(const cp_plugin* plugin) {
  if (plugin == nullptr) {
    return plugin_error("the entry function returned no descriptor (the plugin refused to load)");
  }
  const std::uint32_t size = declared_size(plugin);
  if (size < kPluginSize10) {
    return plugin_error("descriptor is too small (" + std::to_string(size) +
                        " bytes; ABI 1.0 needs at least " + std::to_string(kPluginSize10) + ")");
  }
  const cp_plugin p = read_struct(plugin, size);
  // A different major may lay the struct out differently: trust nothing past the version.
  if (p.abi_major != CP_ABI_MAJOR) {
    return plugin_error("built for ABI " + std::to_string(p.abi_major) + "." +
                        std::to_string(p.abi_minor) + ", this engine has " +
                        std::to_string(CP_ABI_MAJOR) + "." + std::to_string(CP_ABI_MINOR) +
                        "; rebuild the plugin against this engine's SDK");
  }
  if (p.name == nullptr) {
    return plugin_error("the plugin has no name");
  }
  PluginDescriptor out;
  out.name = p.name;
  if (!is_name(out.name) || out.name.size() > kMaxNameLength) {
    return plugin_error("plugin name '" + excerpt(p.name) + "' is invalid: use " +
                        std::string(kNameRule) + ", at most " + std::to_string(kMaxNameLength) +
                        " characters");
  }
  const std::string who = "plugin '" + out.name + "'";
  if (p.abi_minor > CP_ABI_MINOR) {
    return plugin_error(who + " needs ABI " + std::to_string(CP_ABI_MAJOR) + "." +
                        std::to_string(p.abi_minor) + ", this engine has " +
                        std::to_string(CP_ABI_MAJOR) + "." + std::to_string(CP_ABI_MINOR) +
                        "; upgrade the engine");
  }
  if (out.name == "core") {
    return plugin_error(who + ": the name is reserved for built-in steps");
  }
  out.abi_major = p.abi_major;
  out.abi_minor = p.abi_minor;
  if (p.version == nullptr) {
    return plugin_error(who + " has no version");
  }
  out.version = p.version;
  const bool printable = std::all_of(out.version.begin(), out.version.end(),
                                     [](char c) { return c > 0x20 && c < 0x7f; });
  if (out.version.empty() || out.version.size() > kMaxVersionLength || !printable) {
    return plugin_error(who + ": version '" + excerpt(p.version) +
                        "' is invalid: use 1 to 64 printable characters without spaces");
  }

  if (p.step_type_count > 0 && p.step_types == nullptr) {
    return plugin_error(who + " declares " + std::to_string(p.step_type_count) +
                        " step types but gives no table");
  }
  if (p.step_type_count > kMaxStepTypes) {
    return plugin_error(who + " declares too many step types (" +
                        std::to_string(p.step_type_count) + "; at most " +
                        std::to_string(kMaxStepTypes) + ")");
  }
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < p.step_type_count; ++i) {
    auto step = read_step_type(out.name, i, p.step_types[i]);
    if (!step) {
      return step.error();
    }
    if (!names.insert(step->name).second) {
      return make_error(Errc::conflict, who + ": step '" + step->name + "' is declared twice");
    }
    out.step_types.push_back(std::move(*step));
  }
  return out;
}

}  // namespace carepath::plugin_host
