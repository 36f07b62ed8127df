// legal_aid.refer: refers a case to a legal-aid provider.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <carepath/plugin.hpp>

namespace legal_aid {

constexpr std::string_view kReferSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["provider"],
  "properties": {
    "provider": {
      "description": "dlsa (District Legal Services Authority), slsa (State Legal Services Authority) or ngo_panel (a partner NGO's panel lawyer)",
      "type": "string",
      "enum": ["dlsa", "slsa", "ngo_panel"]
    },
    "due_days": {
      "description": "Days from the referral to the date by which the provider should respond",
      "type": "integer",
      "minimum": 1,
      "maximum": 365,
      "default": 30
    },
    "office": {
      "description": "The office or panel referred to, for people, e.g. DLSA Kolkata; goes into the task only",
      "type": "string",
      "minLength": 1,
      "maxLength": 200
    },
    "confirm": {
      "description": "await_provider: pending until the provider confirms; immediate: ok at once, writing the referral fields",
      "type": "string",
      "enum": ["await_provider", "immediate"],
      "default": "await_provider"
    }
  }
})json";

// How the step answers once the referral is made.
enum class Confirm {
  await_provider = 1,  // pending, with a task to record the provider's confirmation
  immediate,           // ok, with legal_referral_no, legal_referral_date, legal_referral_due
};

// One call makes one referral: a referral number derived from the call's idempotency key (so a
// retry gets the same number), today's date (UTC) and a due date `due_days` later. It answers
// pending with a "Confirm legal-aid referral" task, or, with `confirm: immediate`, ok with the
// referral fields. Reads no case fields.
//
// Thread-safety: run() only reads what the constructor set.
class ReferStep final : public carepath::sdk::Step {
 public:
  // Throws std::invalid_argument when the config is not valid for kReferSchema.
  explicit ReferStep(std::string_view config_json);

  carepath::sdk::Outcome run(carepath::sdk::Call& call, std::string_view input_json) override;

 private:
  std::string provider_;  // "dlsa"
  std::string prefix_;    // of the referral number: "DLSA"
  std::int64_t due_days_ = 30;
  std::optional<std::string> office_;
  Confirm confirm_ = Confirm::await_provider;
};

// "DLSA-3F09A1C2": `prefix`, a hyphen and 8 upper-case hex digits of the 64-bit FNV-1a hash of
// `key`, folded to 32 bits. Stable across platforms and releases: a retry after an upgrade must
// still get the number the first attempt got.
std::string referral_number(std::string_view prefix, std::string_view key);

}  // namespace legal_aid
