#include "core/consent.hpp"

#include <algorithm>

#include "core/strings.hpp"

namespace carepath {
namespace {

struct Problem {
  std::string field;
  std::string reason;
};

// What is wrong with the data of one consent event, collected so that one answer lists it all.
struct Problems {
  std::vector<std::string> missing;
  std::vector<std::string> unknown;
  std::vector<Problem> invalid;

  bool empty() const { return missing.empty() && unknown.empty() && invalid.empty(); }

  Error error(std::string_view event) const {
    if (unknown.empty() && invalid.empty()) {
      return Error{Errc::unprocessable,
                   std::string(event) + " needs " + join(missing),
                   {{"missing_fields", to_json_array(missing)}},
                   "missing-fields"};
    }
    boost::json::array listed;
    std::vector<std::string> names;
    for (const auto& name : missing) {
      listed.push_back(boost::json::object{{"field", name}, {"reason", "is required"}});
      names.push_back(name);
    }
    for (const auto& name : unknown) {
      listed.push_back(boost::json::object{{"field", name}, {"reason", "unknown member"}});
      names.push_back(name);
    }
    for (const auto& p : invalid) {
      listed.push_back(boost::json::object{{"field", p.field}, {"reason", p.reason}});
      names.push_back(p.field);
    }
    boost::json::object details{{"invalid_fields", std::move(listed)}};
    if (!missing.empty()) {
      details["missing_fields"] = to_json_array(missing);
    }
    if (!unknown.empty()) {
      details["unknown_fields"] = to_json_array(unknown);
    }
    return Error{Errc::unprocessable, std::string(event) + ": invalid fields: " + join(names),
                 std::move(details), "invalid-fields"};
  }
};

bool is_name(std::string_view s) {
  if (s.empty() || s.front() < 'a' || s.front() > 'z') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Characters (UTF-8 code points) in `text`.
std::size_t char_count(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// Accepts only the members in `allowed`; the others are unknown.
void check_members(const boost::json::object& data, std::span<const std::string_view> allowed,
                   Problems& problems) {
  for (const auto& member : data) {
    if (std::find(allowed.begin(), allowed.end(), member.key()) == allowed.end()) {
      problems.unknown.emplace_back(member.key());
    }
  }
}

// The consent name of `data`, checked against the workflow's declarations.
std::optional<std::string> read_consent_name(const Workflow& workflow,
                                             const boost::json::object& data, Problems& problems) {
  const auto* v = data.if_contains("consent");
  if (v == nullptr || v->is_null() || (v->is_string() && v->get_string().empty())) {
    problems.missing.emplace_back("consent");
    return std::nullopt;
  }
  if (!v->is_string() || !is_name(v->get_string())) {
    problems.invalid.push_back(
        {"consent", "must be a consent name (lower-case letters, digits and '_')"});
    return std::nullopt;
  }
  std::string name(v->get_string());
  if (workflow.consents_declared && workflow.find_consent(name) == nullptr) {
    std::vector<std::string> declared;
    for (const ConsentDef& c : workflow.consents) {
      declared.push_back(c.name);
    }
    problems.invalid.push_back({"consent", declared.empty()
                                               ? std::string("the workflow declares no consents")
                                               : "must be one of: " + join(declared)});
    return std::nullopt;
  }
  return name;
}

// An optional free-text member: a non-empty string of at most kMaxConsentTextSize characters.
std::optional<std::string> read_text(const boost::json::object& data, std::string_view name,
                                     Problems& problems) {
  const auto* v = data.if_contains(name);
  if (v == nullptr || v->is_null()) {
    return std::nullopt;
  }
  if (!v->is_string() || v->get_string().empty() ||
      char_count(v->get_string()) > kMaxConsentTextSize) {
    problems.invalid.push_back({std::string(name), "must be a non-empty string of at most " +
                                                       std::to_string(kMaxConsentTextSize) +
                                                       " characters"});
    return std::nullopt;
  }
  return std::string(v->get_string());
}

bool is_date(std::string_view text) {
  return text.size() == 10 && parse_date(text).has_value();
}

// Whether a record's `valid_until` still holds at `now`: a date through the end of that local
// day, an instant up to (not including) itself.
bool within(const boost::json::object& record, Timestamp now, std::int64_t today) {
  const auto* until = record.if_contains("valid_until");
  if (until == nullptr || !until->is_string()) {
    return true;
  }
  const std::string_view text = until->get_string();
  if (is_date(text)) {
    return today <= *parse_date(text);
  }
  const auto at = parse_datetime(text);
  return !at || now < *at;
}

std::string_view name_of(const boost::json::value& record) {
  if (!record.is_object()) {
    return {};
  }
  const auto* name = record.get_object().if_contains("consent");
  return name != nullptr && name->is_string() ? std::string_view(name->get_string())
                                              : std::string_view{};
}

// The newest record of `consent`, or null.
const boost::json::object* newest(const boost::json::array& consents, std::string_view consent) {
  for (auto it = consents.rbegin(); it != consents.rend(); ++it) {
    if (name_of(*it) == consent) {
      return &it->get_object();
    }
  }
  return nullptr;
}

ConsentStatus status_of(const boost::json::object& record, Timestamp now, std::int64_t today) {
  if (const auto* w = record.if_contains("withdrawn_at"); w != nullptr && !w->is_null()) {
    return ConsentStatus::withdrawn;
  }
  return within(record, now, today) ? ConsentStatus::valid : ConsentStatus::expired;
}

bool is_valid(const boost::json::array& consents, std::string_view consent, Timestamp now,
              std::int64_t today) {
  const boost::json::object* record = newest(consents, consent);
  return record != nullptr && status_of(*record, now, today) == ConsentStatus::valid;
}

}  // namespace

std::optional<ConsentAction> consent_action(std::string_view event) {
  if (event == kConsentGivenEvent) {
    return ConsentAction::given;
  }
  if (event == kConsentWithdrawnEvent) {
    return ConsentAction::withdrawn;
  }
  return std::nullopt;
}

Result<ConsentGiven> parse_consent_given(const Workflow& workflow,
                                         const boost::json::object& data) {
  static constexpr std::array<std::string_view, 5> kMembers{"consent", "given_by", "scope",
                                                            "evidence", "valid_until"};
  Problems problems;
  check_members(data, kMembers, problems);
  ConsentGiven given;
  given.consent = read_consent_name(workflow, data, problems).value_or("");

  const auto* by = data.if_contains("given_by");
  if (by == nullptr || by->is_null() || (by->is_string() && by->get_string().empty())) {
    problems.missing.emplace_back("given_by");
  } else if (!by->is_string() || std::find(kConsentGivers.begin(), kConsentGivers.end(),
                                           by->get_string()) == kConsentGivers.end()) {
    problems.invalid.push_back({"given_by", "must be one of: child, guardian, cwc_order"});
  } else {
    given.given_by = std::string(by->get_string());
  }

  given.scope = read_text(data, "scope", problems);
  given.evidence = read_text(data, "evidence", problems);

  if (const auto* until = data.if_contains("valid_until"); until != nullptr && !until->is_null()) {
    const bool ok =
        until->is_string() && (is_date(until->get_string()) || parse_datetime(until->get_string()));
    if (ok) {
      given.valid_until = std::string(until->get_string());
    } else {
      problems.invalid.push_back(
          {"valid_until", "must be a date (YYYY-MM-DD) or an RFC 3339 date-time"});
    }
  }
  if (!problems.empty()) {
    return problems.error(kConsentGivenEvent);
  }
  return given;
}

Result<ConsentWithdrawal> parse_consent_withdrawal(const Workflow& workflow,
                                                   const boost::json::object& data) {
  static constexpr std::array<std::string_view, 2> kMembers{"consent", "reason"};
  Problems problems;
  check_members(data, kMembers, problems);
  ConsentWithdrawal withdrawal;
  withdrawal.consent = read_consent_name(workflow, data, problems).value_or("");
  withdrawal.reason = read_text(data, "reason", problems);
  if (!problems.empty()) {
    return problems.error(kConsentWithdrawnEvent);
  }
  return withdrawal;
}

void give_consent(boost::json::array& consents, const ConsentGiven& given, std::string_view actor,
                  Timestamp now) {
  boost::json::object record;
  record["consent"] = given.consent;
  record["given_by"] = given.given_by;
  if (given.scope) {
    record["scope"] = *given.scope;
  }
  if (given.evidence) {
    record["evidence"] = *given.evidence;
  }
  record["given_at"] = format_timestamp(now);
  record["recorded_by"] = actor;
  if (given.valid_until) {
    record["valid_until"] = *given.valid_until;
  }
  consents.push_back(std::move(record));
}

Result<void> withdraw_consent(boost::json::array& consents, const ConsentWithdrawal& withdrawal,
                              std::string_view actor, Timestamp now, std::int64_t today) {
  boost::json::value* found = nullptr;
  for (auto it = consents.rbegin(); it != consents.rend(); ++it) {
    if (name_of(*it) == withdrawal.consent) {
      found = &*it;
      break;
    }
  }
  if (found == nullptr || status_of(found->get_object(), now, today) != ConsentStatus::valid) {
    const std::string why = found == nullptr ? "was never given"
                            : status_of(found->get_object(), now, today) == ConsentStatus::withdrawn
                                ? "was already withdrawn"
                                : "has expired";
    return Error{Errc::conflict,
                 "consent '" + withdrawal.consent + "' is not in force (it " + why +
                     "), so it cannot be withdrawn",
                 {{"consent", withdrawal.consent}},
                 "consent-not-given"};
  }
  auto& record = found->get_object();
  record["withdrawn_at"] = format_timestamp(now);
  record["withdrawn_by"] = actor;
  if (withdrawal.reason) {
    record["withdrawal_reason"] = *withdrawal.reason;
  }
  return {};
}

std::string_view consent_status_name(ConsentStatus status) {
  switch (status) {
    case ConsentStatus::valid:
      return "valid";
    case ConsentStatus::withdrawn:
      return "withdrawn";
    case ConsentStatus::expired:
      return "expired";
    case ConsentStatus::superseded:
      return "superseded";
  }
  return "valid";
}

std::vector<ConsentStatus> consent_statuses(const boost::json::array& consents, Timestamp now,
                                            std::int64_t today) {
  std::vector<ConsentStatus> out;
  out.reserve(consents.size());
  for (std::size_t i = 0; i < consents.size(); ++i) {
    const std::string_view name = name_of(consents[i]);
    const bool superseded =
        std::any_of(consents.begin() + static_cast<std::ptrdiff_t>(i) + 1, consents.end(),
                    [&](const boost::json::value& v) { return name_of(v) == name; });
    if (superseded) {
      out.push_back(ConsentStatus::superseded);
    } else if (consents[i].is_object()) {
      out.push_back(status_of(consents[i].get_object(), now, today));
    } else {
      out.push_back(ConsentStatus::expired);  // not a record the engine wrote: never in force
    }
  }
  return out;
}

std::vector<std::string> valid_consents(const boost::json::array& consents, Timestamp now,
                                        std::int64_t today) {
  std::vector<std::string> out;
  for (const auto& record : consents) {
    const std::string name(name_of(record));
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end() &&
        is_valid(consents, name, now, today)) {
      out.push_back(name);
    }
  }
  return out;
}

std::vector<std::string> missing_consents(std::span<const std::string> required,
                                          const boost::json::array& consents, Timestamp now,
                                          std::int64_t today) {
  std::vector<std::string> out;
  for (const auto& name : required) {
    if (!is_valid(consents, name, now, today)) {
      out.push_back(name);
    }
  }
  return out;
}

std::vector<std::string> consent_override_roles(const Workflow& workflow,
                                                std::string_view consent) {
  if (const ConsentDef* def = workflow.find_consent(consent)) {
    return def->override_by;
  }
  return {std::string(kDefaultConsentOverrideRole)};
}

Error consent_required_error(const Workflow& workflow, const std::string& where,
                             std::string_view event, const std::vector<std::string>& missing) {
  std::vector<std::string> roles;
  for (const auto& name : missing) {
    for (auto& role : consent_override_roles(workflow, name)) {
      if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
        roles.push_back(std::move(role));
      }
    }
  }
  std::string hint =
      "record it with the event consent_given (data: consent, given_by: child, guardian or "
      "cwc_order, and the evidence)";
  if (!roles.empty()) {
    hint += ", or, as " + join(roles, " or ") +
            ", fire the event again with consent_override: {\"reason\": \"...\"}";
  }
  return Error{Errc::conflict,
               where + ": event '" + std::string(event) + "' requires consent: " + join(missing) +
                   "; " + hint,
               {{"missing_consents", to_json_array(missing)},
                {"override_roles", to_json_array(roles)},
                {"hint", hint}},
               "consent-required"};
}

Result<void> check_consent_override(const Workflow& workflow, const Actor& actor,
                                    const std::vector<std::string>& missing) {
  std::vector<std::string> roles;
  std::vector<std::string> refused;
  for (const auto& name : missing) {
    const auto allowed = consent_override_roles(workflow, name);
    if (actor.has_any_role(allowed)) {
      continue;
    }
    refused.push_back(name);
    for (const auto& role : allowed) {
      if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
        roles.push_back(role);
      }
    }
  }
  if (refused.empty()) {
    return {};
  }
  return Error{
      Errc::forbidden,
      "consent " + join(refused) + " may be overridden only by: " +
          (roles.empty() ? std::string("nobody (override_by is empty)") : join(roles)),
      {{"required_roles", to_json_array(roles)}, {"missing_consents", to_json_array(refused)}},
      "forbidden"};
}

}  // namespace carepath
