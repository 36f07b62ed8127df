// Calendar dates as workflow files and the API write them ("YYYY-MM-DD"), and today's date.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace legal_aid {

// Today's date on the machine's clock, in UTC. The step input carries no clock, so the steps read
// the system clock; in India (UTC+05:30) this is still yesterday until 05:30.
std::chrono::sys_days today_utc();

// "2026-11-22" as a day; nullopt unless the text is exactly YYYY-MM-DD and a real date.
std::optional<std::chrono::sys_days> parse_date(std::string_view text);

// The day as "YYYY-MM-DD". Requires: the year is within 0..9999.
std::string format_date(std::chrono::sys_days day);

}  // namespace legal_aid
