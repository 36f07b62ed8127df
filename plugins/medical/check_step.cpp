#include "check_step.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "json_input.hpp"

namespace medical {
namespace {

using carepath::sdk::Outcome;

constexpr std::array<std::string_view, 9> kExaminations = {
    "general", "nutrition", "sti",           "hiv",        "pregnancy",
    "dental",  "vision",    "mental_health", "vaccination"};

bool contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

}  // namespace

CheckStep::CheckStep(std::string_view config_json) {
  const boost::json::object config = parse_config(config_json, {"checks", "cleared_when_done"});
  auto checks = config_enum_list(config, "checks", kExaminations);
  if (!checks) {
    throw std::invalid_argument("with: missing required key 'checks'");
  }
  checks_ = std::move(*checks);
  auto cleared_when_done = config_enum_list(config, "cleared_when_done", kExaminations);
  cleared_when_done_ = cleared_when_done ? std::move(*cleared_when_done) : checks_;
  for (const std::string& check : cleared_when_done_) {
    if (!contains(checks_, check)) {
      throw std::invalid_argument("with.cleared_when_done: '" + check + "' is not in with.checks");
    }
  }
}

Outcome CheckStep::run(carepath::sdk::Call& /*call*/, std::string_view input_json) {
  std::vector<std::string> done;
  std::size_t flag_count = 0;
  try {
    const boost::json::object data = parse_input_data(input_json);
    done = string_list_field(data, "medical_checks_done");
    flag_count = list_field_size(data, "medical_flags");
  } catch (const BadInput& e) {
    return Outcome::failed(e.what());
  }

  boost::json::array due;
  for (const std::string& check : checks_) {
    if (!contains(done, check)) {
      due.emplace_back(check);
    }
  }
  const bool cleared = std::all_of(cleared_when_done_.begin(), cleared_when_done_.end(),
                                   [&](const std::string& check) { return contains(done, check); });

  return Outcome::ok(boost::json::serialize(boost::json::object{
      {"medical_checks_due", std::move(due)},
      {"medical_cleared", cleared},
      {"medical_follow_up_needed", flag_count > 0},
  }));
}

}  // namespace medical
