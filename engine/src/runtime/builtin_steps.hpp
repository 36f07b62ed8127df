// The built-in `core.*` steps that need no plugin: core.set and core.assign. (core.webhook needs
// an HTTP client and lives in api/webhook.hpp.)
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/step.hpp"

namespace carepath::runtime {

// A StepType whose instances are made by a function; the shape every built-in step shares.
class BuiltinStepType final : public StepType {
 public:
  using Factory =
      std::function<Result<std::shared_ptr<const StepInstance>>(const boost::json::object&)>;

  BuiltinStepType(std::string name, std::string description, std::string_view schema_json,
                  std::vector<std::string> reads, Factory factory);

  const std::string& name() const override { return name_; }
  const std::string& description() const override { return description_; }
  const boost::json::value& config_schema() const override { return schema_; }
  const std::vector<std::string>& reads() const override { return reads_; }
  const std::string& plugin() const override;
  const std::string& plugin_version() const override;
  Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& config) const override {
    return factory_(config);
  }

 private:
  std::string name_;
  std::string description_;
  boost::json::value schema_;
  std::vector<std::string> reads_;
  Factory factory_;
};

// core.set: `with: {fields: {name: value, ...}}` sets those case fields.
std::unique_ptr<StepType> make_core_set();
// core.assign: `with: {to: "asha" | "role:counsellor", field: assigned_to}` records who holds the
// case in a field the workflow declares (default `assigned_to`).
std::unique_ptr<StepType> make_core_assign();

}  // namespace carepath::runtime
