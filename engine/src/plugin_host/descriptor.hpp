// Reading a plugin's descriptor across the C ABI: every member checked, every string copied, so
// nothing is registered from a plugin that is wrong in any part.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>
#include <carepath/plugin_abi.h>

#include "core/error.hpp"

namespace carepath::plugin_host {

// The plugin's functions for one step type; all three are non-null once read_descriptor() passed.
struct StepFunctions {
  decltype(cp_step_type::create) create = nullptr;
  decltype(cp_step_type::run) run = nullptr;
  decltype(cp_step_type::destroy) destroy = nullptr;
};

struct StepTypeDescriptor {
  std::string name;                  // "<plugin>.<step>"
  std::string description;           // "" when the plugin gave none
  boost::json::value config_schema;  // passed check_schema(); null: the step takes no `with:`
  std::vector<std::string> reads;
  StepFunctions functions;
};

struct PluginDescriptor {
  std::string name;
  std::string version;
  std::uint16_t abi_major = 0;
  std::uint16_t abi_minor = 0;
  std::vector<StepTypeDescriptor> step_types;  // in the plugin's order
};

// Checks and copies what an entry function returned. Reads no struct member beyond the
// struct_size the plugin declared.
// Errc::plugin saying what is wrong ("plugin 'x' needs ABI 1.7, this engine has 1.0; ..."), or
// Errc::conflict when the plugin declares one step name twice. Messages name the plugin and step
// but never quote more than a short, printable excerpt of what the plugin supplied.
Result<PluginDescriptor> read_descriptor(const cp_plugin* plugin);

// [a-z][a-z0-9_]*: plugin names, step names after the dot, and case field names.
bool is_name(std::string_view s);

}  // namespace carepath::plugin_host
