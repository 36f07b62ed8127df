// legal_aid.record_hearing: records that a hearing about the child took place.
#pragma once

#include <string>
#include <string_view>

#include <carepath/plugin.hpp>

namespace legal_aid {

constexpr std::string_view kRecordHearingSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["court"],
  "properties": {
    "court": {
      "description": "cwc (Child Welfare Committee), jjb (Juvenile Justice Board), sessions_court or high_court",
      "type": "string",
      "enum": ["cwc", "jjb", "sessions_court", "high_court"]
    }
  }
})json";

// One call counts one hearing before the configured court: ok with `last_hearing_court` and
// `hearing_count` (the count read, or 0 when unset, plus one). Reads `hearing_count` and
// `next_hearing_date`.
//
// Vetoes when `next_hearing_date` is set but before today (UTC): the date the court fixed at this
// hearing has not been entered yet, and the count would move on with a stale date beside it. An
// unset date is accepted, since a matter's last hearing (judgment, disposal, the CWC's final
// order) fixes no next date; a workflow that needs one lists it in `requires`, which the engine
// checks and reports as a missing field before any step runs.
//
// Thread-safety: run() only reads what the constructor set.
class RecordHearingStep final : public carepath::sdk::Step {
 public:
  // Throws std::invalid_argument when the config is not valid for kRecordHearingSchema.
  explicit RecordHearingStep(std::string_view config_json);

  carepath::sdk::Outcome run(carepath::sdk::Call& call, std::string_view input_json) override;

 private:
  std::string court_;  // "cwc"
};

}  // namespace legal_aid
