// The ABI <-> core adapter: a plugin's cp_step_type seen as a carepath::StepType, its instances
// as StepInstances, its cp_status answers as StepOutcomes.
#pragma once

#include <memory>
#include <string>

#include "core/step.hpp"
#include "plugin_host/descriptor.hpp"

namespace carepath::plugin_host {

// Everything an adapter and its instances need, shared between them.
//
// Ownership: `library` keeps the plugin's shared library loaded. The step type and each instance
// hold this struct, so the library cannot unload while any of them lives, even after the
// Registry is gone; the function pointers in `step.functions` point into it.
struct PluginStep {
  std::string plugin;
  std::string plugin_version;
  StepTypeDescriptor step;
  std::shared_ptr<const void> library;  // null for plugins linked into the engine
};

// Caps on what a plugin may write in one call; more is treated as a broken plugin.
inline constexpr std::size_t kMaxOutputBytes = std::size_t{16} << 20U;
inline constexpr std::size_t kMaxMessageBytes = 4096;  // error texts are truncated, not refused

// Makes the StepType for one step of a loaded plugin.
std::unique_ptr<StepType> make_plugin_step_type(std::shared_ptr<const PluginStep> step);

}  // namespace carepath::plugin_host
