// vocational.assess_interest: suggests a vocational track from age, schooling and interests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <carepath/plugin.hpp>

namespace vocational {

constexpr std::string_view kAssessInterestSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "min_age": {
      "description": "Youngest age, in whole years, for vocational training; the step vetoes below it",
      "type": "integer",
      "minimum": 0,
      "maximum": 25,
      "default": 14
    }
  }
})json";

// One call reads `age`, `education_level` and `interests` and answers ok with `vocational_track`
// and `vocational_assessed: true`. The track is that of the first interest (most wanted first)
// that matches a keyword of a track whose schooling requirement is met; "other" when none does.
// docs/plugins.md lists the keywords. computer_basics and retail need upper_primary (class 6) or
// above, since those courses assume the child reads and does sums comfortably; an unset
// education_level counts as "none".
//
// Vetoes when `age` is unset or below `min_age` (default 14: from 14 the Child and Adolescent
// Labour (Prohibition and Regulation) Act, 1986, as amended in 2016, treats a child as an
// adolescent who may work in non-hazardous occupations).
//
// Thread-safety: run() only reads what the constructor set.
class AssessInterestStep final : public carepath::sdk::Step {
 public:
  // Throws std::invalid_argument when the config is not valid for kAssessInterestSchema.
  explicit AssessInterestStep(std::string_view config_json);

  carepath::sdk::Outcome run(carepath::sdk::Call& call, std::string_view input_json) override;

 private:
  std::int64_t min_age_ = 14;
};

}  // namespace vocational
