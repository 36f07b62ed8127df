// The Runtime's consent events and the consents of a case (see core/consent.hpp for the rules).
#include "runtime/runtime.hpp"

namespace carepath::runtime {

Result<Runtime::Prepared> Runtime::prepare_consent(const Actor& actor, const CaseRecord& record,
                                                   const Workflow& workflow, ConsentAction action,
                                                   const FireRequest& request, Timestamp now) {
  const bool given = action == ConsentAction::given;
  auto [after, entry] =
      change_in_place(record, actor.user,
                      std::string(given ? kConsentGivenEvent : kConsentWithdrawnEvent), {}, now);
  const auto in_workflow = [&](Error e) {
    e.message = "workflow '" + workflow.name + "': " + e.message;
    return e;
  };
  if (given) {
    auto consent = parse_consent_given(workflow, request.data);
    if (!consent) {
      return in_workflow(consent.error());
    }
    give_consent(after.consents, *consent, actor.user, now);
  } else {
    auto withdrawal = parse_consent_withdrawal(workflow, request.data);
    if (!withdrawal) {
      return in_workflow(withdrawal.error());
    }
    if (auto withdrawn =
            withdraw_consent(after.consents, *withdrawal, actor.user, now, zone_.local_day(now));
        !withdrawn) {
      return withdrawn.error();
    }
  }
  entry.comment = request.comment;
  // The payload as checked: scope, evidence and reason are sealed at rest like sensitive fields.
  entry.payload = request.data;
  Prepared p;
  p.after = std::move(after);
  p.entry = std::move(entry);
  return p;
}

Result<CaseConsents> Runtime::consents(const Actor& actor, const std::string& id) {
  auto found = case_with_workflow(actor, id);
  if (!found) {
    return found.error();
  }
  const Timestamp now = clock_.now();
  const std::int64_t today = zone_.local_day(now);
  CaseConsents out;
  out.case_id = found->record.id;
  out.statuses = consent_statuses(found->record.consents, now, today);
  out.valid = valid_consents(found->record.consents, now, today);
  out.items = std::move(found->record.consents);
  return out;
}

}  // namespace carepath::runtime
