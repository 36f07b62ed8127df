#include "runtime/builtin_steps.hpp"

#include <boost/json/parse.hpp>

namespace carepath::runtime {
namespace {

const std::string kCorePlugin = "core";
const std::string kCoreVersion = "0.1.0";

// An instance that always answers with the same fields.
class FixedOutput final : public StepInstance {
 public:
  explicit FixedOutput(boost::json::object output) : output_(std::move(output)) {}
  StepOutcome run(const StepInput& /*input*/) const override {
    return StepOutcome{StepStatus::ok, output_, {}};
  }

 private:
  boost::json::object output_;
};

constexpr std::string_view kSetSchema = R"({
  "type": "object",
  "properties": {"fields": {"type": "object", "description": "case fields to set"}},
  "required": ["fields"],
  "additionalProperties": false
})";

constexpr std::string_view kAssignSchema = R"({
  "type": "object",
  "properties": {
    "to": {"type": "string", "minLength": 1, "maxLength": 128,
           "description": "a user name, or role:<role>"},
    "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$",
              "description": "the case field that records the assignment"}
  },
  "required": ["to"],
  "additionalProperties": false
})";

}  // namespace

BuiltinStepType::BuiltinStepType(std::string name, std::string description,
                                 std::string_view schema_json, std::vector<std::string> reads,
                                 Factory factory)
    : name_(std::move(name)),
      description_(std::move(description)),
      schema_(boost::json::parse(schema_json)),
      reads_(std::move(reads)),
      factory_(std::move(factory)) {
}

const std::string& BuiltinStepType::plugin() const {
  return kCorePlugin;
}
const std::string& BuiltinStepType::plugin_version() const {
  return kCoreVersion;
}

std::unique_ptr<StepType> make_core_set() {
  return std::make_unique<BuiltinStepType>(
      "core.set", "Sets case fields to fixed values", kSetSchema, std::vector<std::string>{},
      [](const boost::json::object& config) -> Result<std::shared_ptr<const StepInstance>> {
        return std::make_shared<FixedOutput>(config.at("fields").as_object());
      });
}

std::unique_ptr<StepType> make_core_assign() {
  return std::make_unique<BuiltinStepType>(
      "core.assign", "Assigns the case to a user or a role", kAssignSchema,
      std::vector<std::string>{},
      [](const boost::json::object& config) -> Result<std::shared_ptr<const StepInstance>> {
        std::string field = "assigned_to";
        if (const auto* f = config.if_contains("field")) {
          field = f->as_string();
        }
        return std::make_shared<FixedOutput>(
            boost::json::object{{field, config.at("to").as_string()}});
      });
}

}  // namespace carepath::runtime
