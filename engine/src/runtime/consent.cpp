// The Runtime's consent events and the consents of a case (see core/consent.hpp for the rules).
#include "runtime/runtime.hpp"

namespace carepath::runtime {

Result<Runtime::Prepared> Runtime::prepare_consent(const Actor& actor, const CaseRecord& record,
                                                   const Workflow& workflow, ConsentAction action,
                                                   const FireRequest& request, Timestamp now) {
  const std::int64_t today = zone_.local_day(now);
  Prepared p;
  p.after = record;
  if (action == ConsentAction::given) {
    auto given = parse_consent_given(workflow, request.data);
    if (!given) {
      Error e = given.error();
      e.message = "workflow '" + workflow.name + "': " + e.message;
      return e;
    }
    give_consent(p.after.consents, *given, actor.user, now);
  } else {
    auto withdrawal = parse_consent_withdrawal(workflow, request.data);
    if (!withdrawal) {
      Error e = withdrawal.error();
      e.message = "workflow '" + workflow.name + "': " + e.message;
      return e;
    }
    if (auto withdrawn = withdraw_consent(p.after.consents, *withdrawal, actor.user, now, today);
        !withdrawn) {
      return withdrawn.error();
    }
  }
  p.after.version = record.version + 1;
  p.after.updated_at = now;
  p.entry.at = now;
  p.entry.actor = actor.user;
  p.entry.event =
      std::string(action == ConsentAction::given ? kConsentGivenEvent : kConsentWithdrawnEvent);
  p.entry.from = record.state;
  p.entry.to = record.state;
  p.entry.version = p.after.version;
  p.entry.comment = request.comment;
  // The payload as checked: scope, evidence and reason are sealed at rest like sensitive fields.
  p.entry.payload = request.data;
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
