// Steps as the engine sees them: a catalog of step types (from plugins or built in), configured
// instances, and what one run answers. Plugins sit behind these interfaces (plugin_host adapts the
// C ABI to them), so core and runtime are tested with in-process fakes.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.hpp"

namespace carepath {

enum class StepStatus { ok = 1, failed, retryable, pending, veto };

struct StepOutcome {
  StepStatus status = StepStatus::failed;
  boost::json::object output;  // ok: case fields to set; pending: the task's description
  std::string message;         // failed, retryable, veto: why, for people (never field values)
};

struct StepInput {
  std::string idempotency_key;  // the same for every attempt of this call
  boost::json::object input;    // the shape documented on cp_step_type::run in plugin_abi.h
};

// A step type configured with one `with:` block.
//
// Thread-safety: run() may be called from several threads at once.
class StepInstance {
 public:
  virtual ~StepInstance() = default;
  virtual StepOutcome run(const StepInput& input) const = 0;
};

class StepType {
 public:
  virtual ~StepType() = default;
  virtual const std::string& name() const = 0;  // "<plugin>.<step>"
  virtual const std::string& description() const = 0;
  // The JSON Schema of the `with:` block; null when the step takes no configuration.
  virtual const boost::json::value& config_schema() const = 0;
  // Case fields the step may read; it is given no others.
  virtual const std::vector<std::string>& reads() const = 0;
  // The plugin that supplies it ("core" for built-in steps) and that plugin's version.
  virtual const std::string& plugin() const = 0;
  virtual const std::string& plugin_version() const = 0;
  // Makes an instance for a `with:` block already valid against config_schema().
  // Errc::plugin with the step's own message when it refuses the configuration.
  virtual Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& config) const = 0;
};

// Every step type the engine can run, by name.
//
// Thread-safety: const member functions may be called concurrently once loading is done.
class StepCatalog {
 public:
  virtual ~StepCatalog() = default;
  virtual const StepType* find(std::string_view name) const = 0;
  virtual std::vector<const StepType*> all() const = 0;
  // Why plugin files the engine was configured with did not load; empty when all did. GET
  // /readyz reports the engine not ready while there is any.
  virtual std::vector<std::string> load_problems() const { return {}; }
};

}  // namespace carepath
