#include "record_hearing_step.hpp"

#include <cstdint>
#include <limits>
#include <optional>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "dates.hpp"
#include "json_input.hpp"

namespace legal_aid {

using carepath::sdk::Outcome;

RecordHearingStep::RecordHearingStep(std::string_view config_json) {
  const boost::json::object config = parse_config(config_json, {"court"});
  court_ = config_enum(config, "court", {"cwc", "jjb", "sessions_court", "high_court"});
}

Outcome RecordHearingStep::run(carepath::sdk::Call& /*call*/, std::string_view input_json) {
  std::int64_t count = 0;
  std::optional<std::string> next_hearing;
  try {
    const boost::json::object data = parse_input_data(input_json);
    count = whole_number_field(data, "hearing_count").value_or(0);
    next_hearing = string_field(data, "next_hearing_date");
  } catch (const BadInput& e) {
    return Outcome::failed(e.what());
  }
  if (count < 0 || count == std::numeric_limits<std::int64_t>::max()) {
    return Outcome::failed("case field 'hearing_count' is not a count of hearings");
  }

  if (next_hearing) {
    const std::optional<std::chrono::sys_days> date = parse_date(*next_hearing);
    if (!date) {
      return Outcome::failed("case field 'next_hearing_date' is not a date (YYYY-MM-DD)");
    }
    if (*date < today_utc()) {
      return Outcome::veto(
          "case field 'next_hearing_date' is in the past; enter the date the court fixed at this "
          "hearing, then record the hearing again");
    }
  }

  return Outcome::ok(boost::json::serialize(boost::json::object{
      {"last_hearing_court", court_},
      {"hearing_count", count + 1},
  }));
}

}  // namespace legal_aid
