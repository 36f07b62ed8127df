// medical.check: compares the examinations required with those recorded as done.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <carepath/plugin.hpp>

namespace medical {

constexpr std::string_view kCheckSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["checks"],
  "properties": {
    "checks": {
      "description": "The examinations required",
      "type": "array",
      "minItems": 1,
      "uniqueItems": true,
      "items": {
        "type": "string",
        "enum": ["general", "nutrition", "sti", "hiv", "pregnancy", "dental", "vision",
                 "mental_health", "vaccination"]
      }
    },
    "cleared_when_done": {
      "description": "The examinations that must be done for medical_cleared; each must be in checks; default: all of checks",
      "type": "array",
      "minItems": 1,
      "uniqueItems": true,
      "items": {
        "type": "string",
        "enum": ["general", "nutrition", "sti", "hiv", "pregnancy", "dental", "vision",
                 "mental_health", "vaccination"]
      }
    }
  }
})json";

// One call compares the configured `checks` with the case field `medical_checks_done` and answers
// ok with `medical_checks_due` (the checks not done, in config order), `medical_cleared` (every
// check in `cleared_when_done` is done) and `medical_follow_up_needed` (`medical_flags` is not
// empty). Never vetoes: the workflow guards on the fields it writes.
//
// A flag never withholds clearance. A child on treatment is cleared for the care plan once the
// examinations are done, and `medical_follow_up_needed` keeps the treatment in view; a home whose
// rule differs guards on both fields.
//
// Thread-safety: run() only reads what the constructor set.
class CheckStep final : public carepath::sdk::Step {
 public:
  // Throws std::invalid_argument when the config is not valid for kCheckSchema, or when
  // `cleared_when_done` names a check that is not in `checks`.
  explicit CheckStep(std::string_view config_json);

  carepath::sdk::Outcome run(carepath::sdk::Call& call, std::string_view input_json) override;

 private:
  std::vector<std::string> checks_;             // in config order
  std::vector<std::string> cleared_when_done_;  // a subset of checks_
};

}  // namespace medical
