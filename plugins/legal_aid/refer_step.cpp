#include "refer_step.hpp"

#include <array>
#include <cstdio>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "dates.hpp"
#include "json_input.hpp"

namespace legal_aid {
namespace {

using carepath::sdk::Outcome;

// The referral number's prefix for each provider.
std::string prefix_of(std::string_view provider) {
  if (provider == "dlsa") {
    return "DLSA";
  }
  if (provider == "slsa") {
    return "SLSA";
  }
  return "NGO";  // ngo_panel
}

}  // namespace

std::string referral_number(std::string_view prefix, std::string_view key) {
  constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
  constexpr std::uint64_t kFnvPrime = 1099511628211ULL;
  std::uint64_t hash = kFnvOffset;
  for (const char c : key) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  const auto folded = static_cast<std::uint32_t>((hash >> 32U) ^ (hash & 0xFFFFFFFFU));
  std::array<char, 16> hex{};
  std::snprintf(hex.data(), hex.size(), "%08X", static_cast<unsigned>(folded));
  return std::string(prefix) + "-" + hex.data();
}

ReferStep::ReferStep(std::string_view config_json) {
  const boost::json::object config =
      parse_config(config_json, {"provider", "due_days", "office", "confirm"});
  provider_ = config_enum(config, "provider", {"dlsa", "slsa", "ngo_panel"});
  prefix_ = prefix_of(provider_);
  due_days_ = config_integer(config, "due_days", 1, 365, 30);
  office_ = config_string(config, "office", 200);
  confirm_ = config_enum(config, "confirm", {"await_provider", "immediate"}, "await_provider") ==
                     "immediate"
                 ? Confirm::immediate
                 : Confirm::await_provider;
}

Outcome ReferStep::run(carepath::sdk::Call& call, std::string_view input_json) {
  try {
    parse_input_data(input_json);  // reads nothing, but refuses input that is not a step input
  } catch (const BadInput& e) {
    return Outcome::failed(e.what());
  }
  const std::string_view key = call.idempotency_key();
  if (key.empty()) {
    return Outcome::failed(
        "the engine offered no idempotency key; legal_aid.refer needs one so that a retry keeps "
        "its referral number");
  }

  const std::chrono::sys_days today = today_utc();
  const std::string number = referral_number(prefix_, key);
  const std::string referral_date = format_date(today);
  const std::string due_date = format_date(today + std::chrono::days{due_days_});

  if (confirm_ == Confirm::immediate) {
    call.log(carepath::sdk::LogLevel::info, "legal-aid referral made to provider " + provider_);
    return Outcome::ok(boost::json::serialize(boost::json::object{
        {"legal_referral_no", number},
        {"legal_referral_date", referral_date},
        {"legal_referral_due", due_date},
    }));
  }

  boost::json::object task{
      {"title", "Confirm legal-aid referral"},
      {"provider", provider_},
  };
  if (office_) {
    task["office"] = *office_;
  }
  task["referral_no"] = number;
  task["referral_date"] = referral_date;
  task["due_date"] = due_date;
  call.log(carepath::sdk::LogLevel::info,
           "legal-aid referral made to provider " + provider_ + "; waiting for its confirmation");
  return Outcome::pending(boost::json::serialize(task));
}

}  // namespace legal_aid
