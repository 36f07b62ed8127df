// In-process step types for tests: a catalog whose steps run a function, so the runtime's step
// pipeline is tested without loading a .so.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "core/step.hpp"

namespace carepath::test {

using StepFunction = std::function<StepOutcome(const StepInput&)>;

class FakeStepType final : public StepType {
 public:
  FakeStepType(std::string name, std::vector<std::string> reads, StepFunction run,
               std::string_view schema = R"({"type": "object"})")
      : name_(std::move(name)),
        reads_(std::move(reads)),
        schema_(boost::json::parse(schema)),
        run_(std::make_shared<StepFunction>(std::move(run))) {}

  const std::string& name() const override { return name_; }
  const std::string& description() const override { return description_; }
  const boost::json::value& config_schema() const override { return schema_; }
  const std::vector<std::string>& reads() const override { return reads_; }
  const std::string& plugin() const override { return plugin_; }
  const std::string& plugin_version() const override { return version_; }
  Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& /*config*/) const override {
    return std::shared_ptr<const StepInstance>(std::make_shared<Instance>(run_));
  }

 private:
  class Instance final : public StepInstance {
   public:
    explicit Instance(std::shared_ptr<StepFunction> run) : run_(std::move(run)) {}
    StepOutcome run(const StepInput& input) const override { return (*run_)(input); }

   private:
    std::shared_ptr<StepFunction> run_;
  };

  std::string name_;
  std::string description_ = "a test step";
  std::string plugin_ = "test";
  std::string version_ = "0.0.1";
  std::vector<std::string> reads_;
  boost::json::value schema_;
  std::shared_ptr<StepFunction> run_;
};

class FakeCatalog final : public StepCatalog {
 public:
  void add(std::string name, std::vector<std::string> reads, StepFunction run) {
    auto type = std::make_unique<FakeStepType>(name, std::move(reads), std::move(run));
    types_[std::move(name)] = std::move(type);
  }
  const StepType* find(std::string_view name) const override {
    const auto it = types_.find(std::string(name));
    return it == types_.end() ? nullptr : it->second.get();
  }
  std::vector<const StepType*> all() const override {
    std::vector<const StepType*> out;
    for (const auto& [name, type] : types_) {
      out.push_back(type.get());
    }
    return out;
  }

 private:
  std::map<std::string, std::unique_ptr<StepType>> types_;
};

}  // namespace carepath::test
