// The ABI <-> core adapter: a plugin's cp_step_type seen as a carepath::StepType, its instances
// as StepInstances, its cp_status answers as StepOutcomes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/step.hpp"
#include "plugin_host/descriptor.hpp"

namespace carepath::plugin_host {

// How long one plugin's step calls may take, shared by all its step types and instances.
//
// In-process calls run on a helper thread; one that has not returned after `timeout_ms` is
// abandoned: the caller gets StepStatus::retryable, the thread is left to finish (native code
// cannot be pre-empted) and keeps the instance and its library alive until it does. While
// `max_abandoned` abandoned calls of the plugin are still running, its calls fail fast as
// retryable instead of tying up more threads.
struct CallLimits {
  std::int64_t timeout_ms = 0;  // 0: no limit; the call runs on the caller's thread
  int max_abandoned = 4;
  std::atomic<int> outstanding{0};          // abandoned calls still running
  std::atomic<std::uint64_t> abandoned{0};  // calls abandoned since the plugin loaded
};

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
  std::shared_ptr<CallLimits> limits;   // null: no limit
};

// Caps on what a plugin may write in one call; more is treated as a broken plugin.
inline constexpr std::size_t kMaxOutputBytes = std::size_t{16} << 20U;
inline constexpr std::size_t kMaxMessageBytes = 4096;  // error texts are truncated, not refused

// The input with `data` cut down to the fields in `reads`: the ABI promises a plugin sees no
// others.
boost::json::object restrict_input(const boost::json::object& input,
                                   const std::vector<std::string>& reads);

// Checks a `with:` block against a step type's schema (or that a step without one gets none).
// Errc::invalid_argument naming the step and each problem.
Result<void> check_config(const StepType& type, const boost::json::object& config);

// "30s", "1500ms": a time limit as messages show it.
std::string duration_text(std::int64_t ms);

// Makes the StepType for one step of a loaded plugin.
std::unique_ptr<StepType> make_plugin_step_type(std::shared_ptr<const PluginStep> step);

}  // namespace carepath::plugin_host
