// Consent: what the child, a guardian or a CWC order agreed to, recorded on a case with the
// consent_given and consent_withdrawn events, and the transitions that require it
// (`requires_consent` in YAML). Pure; no I/O.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/actor.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "core/time.hpp"

namespace carepath {

// The two events that record consent. Reserved: a workflow may not declare them.
inline constexpr std::string_view kConsentGivenEvent = "consent_given";
inline constexpr std::string_view kConsentWithdrawnEvent = "consent_withdrawn";

// Who may give a consent: the child herself, a guardian, or a CWC order standing in for both.
inline constexpr std::array<std::string_view, 3> kConsentGivers{"child", "guardian", "cwc_order"};

// The longest `scope`, `evidence` and withdrawal `reason`, in characters.
inline constexpr std::size_t kMaxConsentTextSize = 500;

// The roles that may override a consent the workflow does not name roles for.
inline constexpr std::string_view kDefaultConsentOverrideRole = "supervisor";

// Members that may hold identifying words, and are sealed at rest: in a consent record, and in
// the payload of a consent event.
inline constexpr std::array<std::string_view, 3> kConsentRecordSensitive{"scope", "evidence",
                                                                         "withdrawal_reason"};
inline constexpr std::array<std::string_view, 3> kConsentPayloadSensitive{"scope", "evidence",
                                                                          "reason"};

enum class ConsentAction { given = 1, withdrawn };

// The action of a consent event; nullopt for any other event.
std::optional<ConsentAction> consent_action(std::string_view event);

// The data of consent_given, checked.
struct ConsentGiven {
  std::string consent{};
  std::string given_by{};  // one of kConsentGivers
  std::optional<std::string> scope{};
  std::optional<std::string> evidence{};     // a reference to the signed form or the CWC order
  std::optional<std::string> valid_until{};  // "YYYY-MM-DD" (through that day) or RFC 3339
};

// The data of consent_withdrawn, checked.
struct ConsentWithdrawal {
  std::string consent{};
  std::optional<std::string> reason{};
};

// Check the data of consent_given {consent, given_by, scope?, evidence?, valid_until?} and of
// consent_withdrawn {consent, reason?}. When the workflow declares `consents:`, `consent` must
// be one of them. Errc::unprocessable: "missing-fields" (missing_fields) when members are only
// missing, else "invalid-fields" (invalid_fields [{field, reason}] for every missing, unknown or
// invalid member, and unknown_fields). Messages name members, never their values.
Result<ConsentGiven> parse_consent_given(const Workflow& workflow, const boost::json::object& data);
Result<ConsentWithdrawal> parse_consent_withdrawal(const Workflow& workflow,
                                                   const boost::json::object& data);

// Appends the record of `given` to `consents`: {consent, given_by, scope?, evidence?, given_at,
// recorded_by, valid_until?}. A consent given again gets a new record; the newest one counts.
void give_consent(boost::json::array& consents, const ConsentGiven& given, std::string_view actor,
                  Timestamp now);

// Marks the newest record of the consent withdrawn (withdrawn_at, withdrawn_by,
// withdrawal_reason?). Errc::conflict ("consent-not-given", details.consent) when that consent
// is not valid at `now`: never given, already withdrawn, or expired.
// `today`: the organisation's local day of `now` (a date `valid_until` counts in it).
Result<void> withdraw_consent(boost::json::array& consents, const ConsentWithdrawal& withdrawal,
                              std::string_view actor, Timestamp now, std::int64_t today);

enum class ConsentStatus {
  valid = 1,
  withdrawn,
  expired,     // past its valid_until
  superseded,  // a newer record of the same consent counts instead
};

// "valid", "withdrawn", "expired" or "superseded".
std::string_view consent_status_name(ConsentStatus status);

// The status of each record of `consents`, in the same order.
std::vector<ConsentStatus> consent_statuses(const boost::json::array& consents, Timestamp now,
                                            std::int64_t today);

// Names of the consents valid at `now`, in the order they were first given.
std::vector<std::string> valid_consents(const boost::json::array& consents, Timestamp now,
                                        std::int64_t today);

// The names of `required` not valid at `now`, in `required`'s order.
std::vector<std::string> missing_consents(std::span<const std::string> required,
                                          const boost::json::array& consents, Timestamp now,
                                          std::int64_t today);

// Who may override `consent`: its declared `override_by`, or [supervisor] when the workflow
// declares no such consent.
std::vector<std::string> consent_override_roles(const Workflow& workflow, std::string_view consent);

// The 409 ("consent-required") of a transition taken without `missing`: the detail names them
// and says how to fix it; details: missing_consents, override_roles, hint. `where` names the
// workflow and state.
Error consent_required_error(const Workflow& workflow, const std::string& where,
                             std::string_view event, const std::vector<std::string>& missing);

// Whether `actor` may override every consent of `missing`: Errc::forbidden naming the roles
// (required_roles, missing_consents) unless it holds one of consent_override_roles() for each.
Result<void> check_consent_override(const Workflow& workflow, const Actor& actor,
                                    const std::vector<std::string>& missing);

}  // namespace carepath
