#include "runtime/runtime.hpp"

#include <algorithm>
#include <iterator>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/fields.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/replay.hpp"
#include "core/strings.hpp"
#include "runtime/steps.hpp"
#include "security/random.hpp"

namespace carepath::runtime {
namespace {

// How often a change that lost a race with another change of the same case is re-planned on the
// fresh case before the caller is told to try again. Races on one case are rare (one child, a
// handful of staff), so a few attempts are plenty.
constexpr int kMaxAttempts = 8;
constexpr int kMaxCreateAttempts = 3;

// The remembered answer of an idempotent request is the case as that request left it.
std::string record_to_text(const CaseRecord& r) {
  return boost::json::serialize(boost::json::object{
      {"id", r.id},
      {"code", r.code},
      {"workflow", r.workflow},
      {"workflow_version", r.workflow_version},
      {"state", r.state},
      {"data", r.data},
      {"version", r.version},
      {"created_at", r.created_at},
      {"updated_at", r.updated_at},
  });
}

Result<CaseRecord> record_from_text(const std::string& text) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Error{Errc::storage, "stored idempotent answer is not valid JSON"};
  }
  const auto& o = v.get_object();
  try {
    CaseRecord r;
    r.id = o.at("id").as_string();
    r.code = o.at("code").as_string();
    r.workflow = o.at("workflow").as_string();
    r.workflow_version = static_cast<int>(o.at("workflow_version").to_number<std::int64_t>());
    r.state = o.at("state").as_string();
    r.data = o.at("data").as_object();
    r.version = o.at("version").to_number<std::int64_t>();
    r.created_at = o.at("created_at").to_number<std::int64_t>();
    r.updated_at = o.at("updated_at").to_number<std::int64_t>();
    return r;
  } catch (const std::exception&) {
    return Error{Errc::storage, "stored idempotent answer has an unexpected shape"};
  }
}

Error forbidden_workflow(const Workflow& workflow) {
  return Error{Errc::forbidden,
               "workflow '" + workflow.name + "': your token holds none of its roles (" +
                   join(workflow.roles) + ")",
               {{"required_roles", to_json_array(workflow.roles)}},
               "forbidden"};
}

// The answer for a case that does not exist, and for one the caller may not know exists: the
// same, so that a 404 tells nothing.
Error unknown_case(const std::string& id) {
  return make_error(Errc::not_found, "case '" + id + "' not found");
}

Error version_mismatch(const CaseRecord& record, std::int64_t expected) {
  return Error{Errc::precondition_failed,
               "case " + record.id + " is at version " + std::to_string(record.version) + ", not " +
                   std::to_string(expected) + "; reload it and try again",
               {{"current_version", record.version}},
               "version-mismatch"};
}

// Checks an edit of `payload` by `actor`: editable_by, then types and limits.
Result<void> check_edit(const Workflow& workflow, const Actor& actor,
                        const boost::json::object& payload) {
  if (auto forbidden = uneditable_fields(workflow, actor, payload); !forbidden.empty()) {
    return Error{Errc::forbidden,
                 "workflow '" + workflow.name + "': your roles may not edit: " + join(forbidden),
                 {{"forbidden_fields", to_json_array(forbidden)}},
                 "forbidden-fields"};
  }
  if (auto problems = validate_payload(workflow, payload); !problems.empty()) {
    return invalid_fields_error("workflow '" + workflow.name + "'", problems);
  }
  return {};
}

}  // namespace

CaseRecord with_data(const CaseRecord& record, boost::json::object data) {
  static_assert(sizeof(CaseRecord) == 368,
                "CaseRecord changed (size on x86-64 libstdc++): copy its new member here");
  CaseRecord out;
  out.id = record.id;
  out.code = record.code;
  out.workflow = record.workflow;
  out.workflow_version = record.workflow_version;
  out.state = record.state;
  out.data = std::move(data);
  out.version = record.version;
  out.created_at = record.created_at;
  out.updated_at = record.updated_at;
  out.data_key = record.data_key;
  out.blind_index = record.blind_index;
  out.assignee = record.assignee;
  out.placement = record.placement;
  out.consents = record.consents;
  out.closed_at = record.closed_at;
  out.erased_at = record.erased_at;
  return out;
}

InPlaceChange change_in_place(const CaseRecord& before, std::string actor, std::string event,
                              std::vector<std::string> changed, Timestamp now) {
  InPlaceChange change{before, {}};
  change.after.version = before.version + 1;
  change.after.updated_at = now;
  change.entry.at = now;
  change.entry.actor = std::move(actor);
  change.entry.event = std::move(event);
  change.entry.from = before.state;
  change.entry.to = before.state;
  change.entry.version = change.after.version;
  change.entry.changed = std::move(changed);
  return change;
}

Runtime::Runtime(Store& store, const Clock& clock, const WorkflowRegistry& workflows, TimeZone zone)
    : store_(store), clock_(clock), workflows_(workflows), zone_(std::move(zone)) {
}

Result<std::shared_ptr<const Workflow>> Runtime::workflow_of(const CaseRecord& record) const {
  auto workflow = workflows_.find(record.workflow, record.workflow_version);
  if (!workflow) {
    // The registry holds every version in the database at start and each reload, so this is a
    // case another process (`carepath migrate`) moved to a version added since.
    return Error{Errc::unavailable,
                 "case " + record.id + " runs on workflow '" + record.workflow + "' version " +
                     std::to_string(record.workflow_version) +
                     ", which this server has not loaded; reload the workflows "
                     "(POST /v1/admin/workflows/reload, or SIGHUP) and try again",
                 {},
                 "workflow-version-not-loaded"};
  }
  return workflow;
}

Result<CaseRecord> Runtime::open_case(const Actor& actor, std::string_view workflow_name,
                                      const boost::json::object& data,
                                      const AnswerAudit& answer_audit) {
  const auto workflow = workflows_.latest(workflow_name);
  if (!workflow) {
    boost::json::array known;
    for (const auto& w : workflows_.all()) {
      if (std::find(known.begin(), known.end(), boost::json::value(w->name)) == known.end()) {
        known.emplace_back(w->name);
      }
    }
    return Error{Errc::not_found,
                 "unknown workflow '" + std::string(workflow_name) + "'",
                 {{"known_workflows", std::move(known)}},
                 "unknown-workflow"};
  }
  if (!actor.has_any_role(workflow->roles)) {
    return forbidden_workflow(*workflow);
  }
  if (auto checked = check_edit(*workflow, actor, data); !checked) {
    return checked.error();
  }
  if (auto missing = missing_required(*workflow, data); !missing.empty()) {
    return invalid_fields_error("workflow '" + workflow->name + "'", missing);
  }

  const Timestamp now = clock_.now();
  for (int attempt = 1;; ++attempt) {
    CaseRecord record;
    // 80 random bits after a per-run ordered prefix (see new_case_id): unguessable, and
    // written next to the previous new case. The code is random, never derived from the
    // child's identity, and short enough to read out over the phone.
    record.id = security::new_case_id();
    record.code = "CP-" + security::random_base32(4) + "-" + security::random_base32(4);
    record.workflow = workflow->name;
    record.workflow_version = workflow->version;
    record.state = workflow->states[workflow->initial_state()].name;
    auto changed = merge_payload(record.data, data);
    record.version = 1;
    record.created_at = now;
    record.updated_at = now;
    record.assignee = actor.user;  // until the case is assigned (see stamp_scope)

    // Opening a case enters its initial state: its on_enter steps run.
    auto effects = run_steps(*workflow, record, std::nullopt, std::nullopt, record.state, nullptr,
                             0, record.data, changed, 1, now);
    if (!effects) {
      return effects.error();
    }
    if (auto timed =
            add_time_effects(*workflow, record, std::nullopt, true, changed, now, *effects);
        !timed) {
      return timed.error();
    }

    HistoryEntry opened;
    opened.at = now;
    opened.actor = actor.user;
    opened.event = "opened";
    opened.to = record.state;
    opened.version = 1;
    opened.changed = changed;
    // What on_enter steps set is recorded with the request, so the history rebuilds the case.
    opened.payload = applied_payload(data, record.data, changed);

    if (answer_audit) {
      for (auto& row : answer_audit(record)) {
        effects->audit.push_back(std::move(row));
      }
    }
    auto created = store_.create_case(record, opened, *effects);
    if (created) {
      scheduled(*effects);
      log(LogLevel::info, "case opened",
          {{"case", record.id}, {"workflow", record.workflow}, {"actor", actor.user}});
      return record;
    }
    if (created.error().code != Errc::conflict || attempt == kMaxCreateAttempts) {
      return created.error();
    }
  }
}

bool Runtime::may_see(const Actor& actor, const CaseRecord& record,
                      const Workflow& workflow) const {
  return actor.user == kSystemUser ||
         (actor.has_any_role(workflow.roles) && may_see_case(actor, record, access_));
}

Result<CaseRecord> Runtime::get_case(const Actor& actor, const std::string& id) {
  auto record = store_.get_case(id);
  if (!record) {
    return record.error();
  }
  auto workflow = workflow_of(*record);
  if (!workflow) {
    return workflow.error();
  }
  if (!may_see(actor, *record, **workflow)) {
    return unknown_case(id);
  }
  return record;
}

std::unique_lock<std::mutex> Runtime::lock_case(const std::string& id) const {
  return std::unique_lock(case_locks_[std::hash<std::string>{}(id) % case_locks_.size()]);
}

Result<CaseRecord> Runtime::update_case(const Actor& actor, const std::string& id,
                                        const boost::json::object& data,
                                        std::optional<std::int64_t> if_match,
                                        const std::optional<std::string>& comment) {
  const auto case_lock = lock_case(id);
  for (int attempt = 1;; ++attempt) {
    auto record = get_case(actor, id);
    if (!record) {
      return record.error();
    }
    if (record->erased_at) {
      return case_erased(*record);
    }
    if (if_match && *if_match != record->version) {
      return version_mismatch(*record, *if_match);
    }
    auto workflow = workflow_of(*record);
    if (!workflow) {
      return workflow.error();
    }
    const Workflow& wf = **workflow;
    if (auto checked = check_edit(wf, actor, data); !checked) {
      return checked.error();
    }
    const auto state = wf.find_state(record->state);
    if (state && wf.states[*state].final) {
      return Error{Errc::conflict,
                   "case " + id + " is in final state '" + record->state +
                       "'; its record can no longer be edited",
                   {{"state", record->state}},
                   "case-final"};
    }

    boost::json::object merged = record->data;
    const auto changed = merge_payload(merged, data);
    if (changed.empty() && !comment) {
      return record;  // nothing to change: no new version, no history entry
    }
    const Timestamp now = clock_.now();
    auto [after, entry] = change_in_place(*record, actor.user, "updated", changed, now);
    after.data = std::move(merged);
    entry.comment = comment;
    entry.payload = data;

    CaseEffects effects;
    if (auto timed = add_time_effects(wf, after, std::nullopt, false, changed, now, effects);
        !timed) {
      return timed.error();
    }
    auto updated = store_.update_case(after, record->version, entry, std::nullopt, effects);
    if (updated) {
      scheduled(effects);
      log(LogLevel::info, "case updated", {{"case", id}, {"actor", actor.user}});
      return after;
    }
    // Another change won the race. Without If-Match the caller asked for "apply my edit to the
    // case as it is", so plan again on the fresh case.
    if (updated.error().code != Errc::precondition_failed || if_match || attempt == kMaxAttempts) {
      return updated.error();
    }
  }
}

Result<FireResult> Runtime::fire(const Actor& actor, const std::string& id,
                                 const FireRequest& request) {
  const auto case_lock = lock_case(id);
  for (int attempt = 1;; ++attempt) {
    auto record = store_.get_case(id);
    if (!record) {
      return record.error();
    }
    if (request.idempotency_key) {
      auto previous = store_.find_idempotency(id, actor.user, *request.idempotency_key);
      if (!previous) {
        return previous.error();
      }
      if (*previous) {
        if ((*previous)->request_hash != request.request_hash) {
          return Error{Errc::unprocessable,
                       "Idempotency-Key was already used for a different request on case " + id +
                           "; use a new key for a new request",
                       {},
                       "idempotency-key-reused"};
        }
        auto first = record_from_text((*previous)->response);
        if (!first) {
          return first.error();
        }
        return FireResult{std::move(*first), true};
      }
    }
    if (request.if_match && *request.if_match != record->version) {
      return version_mismatch(*record, *request.if_match);
    }
    auto workflow = workflow_of(*record);
    if (!workflow) {
      return workflow.error();
    }
    // A caller who may not see the case learns nothing about it, not even that it exists, its
    // state or its possible events (the 409 below would tell them).
    if (!may_see(actor, *record, **workflow)) {
      return unknown_case(id);
    }
    if (record->erased_at) {
      return case_erased(*record);
    }
    const Timestamp now = clock_.now();
    const auto action = adjustment_action(request.event);
    const auto consent = consent_action(request.event);
    auto prepared =
        action    ? prepare_adjustment(actor, *record, **workflow, *action, request, now)
        : consent ? prepare_consent(actor, *record, **workflow, *consent, request, now)
                  : prepare_transition(actor, *record, **workflow, request.event, request.data,
                                       request.comment, now, nullptr, request.consent_override);
    if (!prepared) {
      Error e = prepared.error();
      e.message = "case " + id + ": " + e.message;
      return e;
    }
    CaseRecord& after = prepared->after;

    std::optional<IdempotencyRecord> idempotency;
    if (request.idempotency_key) {
      idempotency = IdempotencyRecord{id,
                                      actor.user,
                                      *request.idempotency_key,
                                      request.request_hash,
                                      200,
                                      record_to_text(after),
                                      now};
    }
    if (request.answer_audit) {
      for (auto& row : request.answer_audit(after)) {
        prepared->effects.audit.push_back(std::move(row));
      }
    }
    auto updated =
        store_.update_case(after, record->version, prepared->entry, idempotency, prepared->effects);
    if (updated) {
      scheduled(prepared->effects);
      metrics::engine().transitions.add({after.workflow, request.event});
      log(LogLevel::info, "transition",
          {{"case", id},
           {"event", request.event},
           {"from", record->state},
           {"to", after.state},
           {"actor", actor.user}});
      return FireResult{std::move(after), false};
    }
    // Lost a race: either another change of this case (re-plan on the fresh case unless the
    // caller pinned the version), or a concurrent request with the same Idempotency-Key (the
    // next attempt finds its record and answers as it did).
    const Errc code = updated.error().code;
    const bool retry = (code == Errc::precondition_failed && !request.if_match) ||
                       (code == Errc::conflict && request.idempotency_key);
    if (!retry || attempt == kMaxAttempts) {
      return updated.error();
    }
  }
}

Result<Runtime::Prepared> Runtime::prepare_transition(
    const Actor& actor, const CaseRecord& record, const Workflow& workflow,
    const std::string& event, const boost::json::object& data,
    const std::optional<std::string>& comment, Timestamp now,
    const std::vector<ClockRecord>* clocks, const std::optional<std::string>& consent_override) {
  if (record.erased_at) {
    return case_erased(record);  // fire() and timers both come through here
  }
  auto plan = plan_transition(workflow, record.state, record.data, event, data, actor,
                              zone_.local_day(now));
  if (!plan) {
    return plan.error();
  }
  // Consents are decided on the row the plan took (a guard may choose between rows), before any
  // step runs: without them nothing happens, unless a role of the consents' override_by
  // overrides them with a reason, which is audited in the same commit.
  const auto missing =
      missing_consents(plan->row->required_consents, record.consents, now, zone_.local_day(now));
  if (!missing.empty()) {
    const std::string where = "workflow '" + workflow.name + "': state '" + record.state + "'";
    if (!consent_override) {
      return consent_required_error(workflow, where, event, missing);
    }
    if (auto allowed = check_consent_override(workflow, actor, missing); !allowed) {
      Error e = allowed.error();
      e.message = where + ": " + e.message;
      return e;
    }
  }
  Prepared p;
  p.after = with_data(record, std::move(plan->data));
  p.after.state = plan->to;
  // The anchor of `retain: ... after closed`: when the case entered a final state.
  if (const auto to = workflow.find_state(p.after.state); to && workflow.states[*to].final) {
    if (p.after.state != record.state || !p.after.closed_at) {
      p.after.closed_at = now;
    }
  } else {
    p.after.closed_at.reset();
  }
  p.after.version = record.version + 1;
  p.after.updated_at = now;
  const auto rows = workflow.rows(*workflow.find_state(record.state), plan->row->on);
  auto effects = run_steps(workflow, record, event, record.state, p.after.state, plan->row,
                           static_cast<std::size_t>(plan->row - rows.data()), p.after.data,
                           plan->changed, p.after.version, now);
  if (!effects) {
    return effects.error();
  }
  p.effects = std::move(*effects);
  // A row back to its own state does not leave it: its timers keep running.
  const bool entered = p.after.state != record.state;
  if (auto timed = add_time_effects(workflow, p.after, event, entered, plan->changed, now,
                                    p.effects, clocks);
      !timed) {
    return timed.error();
  }

  p.entry.at = now;
  p.entry.actor = actor.user;
  p.entry.event = event;
  p.entry.from = record.state;
  p.entry.to = p.after.state;
  p.entry.version = p.after.version;
  p.entry.changed = std::move(plan->changed);
  p.entry.comment = comment;
  // With what the transition's synchronous steps set, so that the history rebuilds the case.
  p.entry.payload = applied_payload(data, p.after.data, p.entry.changed);
  if (!missing.empty()) {
    // The history names the consents overridden; the reason is in the audit trail only.
    p.entry.trigger = boost::json::object{{"kind", "consent_override"},
                                          {"consents", to_json_array(missing)},
                                          {"audit_action", kAuditConsentOverride}};
    AuditRecord overridden;
    overridden.at = now;
    overridden.actor = actor.user;
    overridden.action = std::string(kAuditConsentOverride);
    overridden.case_id = record.id;
    overridden.fields = missing;
    overridden.reason = *consent_override;
    overridden.details = boost::json::object{{"event", event},
                                             {"from", record.state},
                                             {"to", p.after.state},
                                             {"version", p.after.version}};
    p.effects.audit.push_back(std::move(overridden));
  }
  return p;
}

Result<CasePage> Runtime::list_cases(const Actor& actor, const CaseQuery& query) {
  if (query.match) {
    // Duplicate detection compares identifying fields through the blind index, and only for a
    // caller who may see the field: the answer says whether a child with that name exists.
    std::vector<std::string> identifying;
    bool indexed = false;
    bool visible = false;
    for (const auto& w : workflows_.all()) {
      if (query.workflow && w->name != *query.workflow) {
        continue;
      }
      for (const Field& f : w->fields) {
        if (f.sensitivity != Sensitivity::identifying) {
          continue;
        }
        if (std::find(identifying.begin(), identifying.end(), f.name) == identifying.end()) {
          identifying.push_back(f.name);
        }
        if (f.name == query.match->field) {
          indexed = true;
          visible = visible || (actor.has_any_role(w->roles) && field_visible(f, actor));
        }
      }
    }
    if (!indexed) {
      return Error{Errc::invalid_argument,
                   "invalid query parameters: match",
                   {{"invalid_params",
                     boost::json::array{boost::json::object{
                         {"name", "match"},
                         {"reason", "compares identifying fields only: " + join(identifying)}}}}},
                   "invalid-params"};
    }
    if (!visible) {
      return Error{Errc::forbidden,
                   "your roles may not see '" + query.match->field + "', so may not search by it",
                   {},
                   "forbidden"};
    }
  }
  CaseQuery scoped = query;
  scoped.scope = scope_filter(actor, access_);
  auto page = store_.list_cases(scoped);
  if (!page) {
    return page.error();
  }
  // A caller sees only cases of workflows it holds a role in and within its scope (the store
  // filtered by scope already; this is the same rule, case by case), and finds by a field only
  // cases whose workflow lets it see that field.
  std::erase_if(page->items, [&](const CaseRecord& r) {
    const auto workflow = workflows_.find(r.workflow, r.workflow_version);
    if (!workflow || !may_see(actor, r, *workflow)) {
      return true;
    }
    const Field* field = query.match ? workflow->find_field(query.match->field) : nullptr;
    return query.match && (field == nullptr || !field_visible(*field, actor));
  });
  return page;
}

Result<HistoryPage> Runtime::history(const Actor& actor, const std::string& id, std::size_t limit,
                                     const std::optional<std::string>& cursor) {
  if (auto record = get_case(actor, id); !record) {
    return record.error();
  }
  return store_.history(id, limit, cursor);
}

Result<std::vector<HistoryEntry>> Runtime::whole_history(const Actor& actor,
                                                         const std::string& id) {
  if (auto record = get_case(actor, id); !record) {
    return record.error();
  }
  constexpr std::size_t kPage = 500;  // the store's largest page
  std::vector<HistoryEntry> entries;
  std::optional<std::string> cursor;
  do {
    auto page = store_.history(id, kPage, cursor);
    if (!page) {
      return page.error();
    }
    std::move(page->items.begin(), page->items.end(), std::back_inserter(entries));
    cursor = page->next_cursor;
  } while (cursor);
  return entries;
}

Result<Runtime::CaseAndWorkflow> Runtime::case_with_workflow(const Actor& actor,
                                                             const std::string& id) {
  auto record = get_case(actor, id);
  if (!record) {
    return record.error();
  }
  auto workflow = workflow_of(*record);
  if (!workflow) {
    return workflow.error();
  }
  return CaseAndWorkflow{std::move(*record), std::move(*workflow)};
}

Result<std::vector<EventOption>> Runtime::transitions(const Actor& actor, const std::string& id) {
  auto found = case_with_workflow(actor, id);
  if (!found) {
    return found.error();
  }
  const Timestamp now = clock_.now();
  auto options = event_options(*found->workflow, found->record.state, found->record.data, actor,
                               zone_.local_day(now));
  for (EventOption& option : options) {
    if (option.row != nullptr) {
      option.missing_consents = missing_consents(option.row->required_consents,
                                                 found->record.consents, now, zone_.local_day(now));
      option.ready = option.ready && option.missing_consents.empty();
    }
  }
  return options;
}

namespace {

constexpr std::int64_t kMaxBackoffMs = 3'600'000;
constexpr int kMaxJobApplyAttempts = 8;

// backoff, 2 x backoff, 4 x backoff, ... capped at an hour.
std::int64_t backoff_for(const OutboxJob& job, int attempts) {
  std::int64_t delay = std::max<std::int64_t>(job.backoff_ms, 0);
  for (int i = 1; i < attempts && delay < kMaxBackoffMs; ++i) {
    delay *= 2;
  }
  return std::min(delay, kMaxBackoffMs);
}

TaskRecord make_task(const CaseRecord& record, const StepCall& call, const std::string& ref,
                     boost::json::object description, Timestamp now) {
  TaskRecord task;
  task.id = security::random_id_hex(8);
  // The token is the credential of whoever completes the task: 192 random bits.
  task.token = security::random_hex(24);
  task.case_id = record.id;
  task.step_type = call.type;
  task.step_ref = ref;
  task.on_complete = call.on_complete;
  task.description = std::move(description);
  task.status = "open";
  task.created_at = now;
  return task;
}

// The `result` label of carepath_step_results_total: a step that ran (or handed over a task) is
// "ok", one that asked to be retried "retry", anything else "failed".
std::string_view step_result_label(StepStatus status) {
  switch (status) {
    case StepStatus::ok:
    case StepStatus::pending:
      return "ok";
    case StepStatus::retryable:
      return "retry";
    default:
      return "failed";
  }
}

Error step_error(const StepCall& call, const StepOutcome& outcome) {
  switch (outcome.status) {
    case StepStatus::veto:
      return Error{Errc::conflict,
                   "step '" + call.type + "' refused the transition: " + outcome.message,
                   {{"step", call.type}, {"reason", outcome.message}},
                   "step-vetoed"};
    case StepStatus::retryable:
      return Error{Errc::unavailable,
                   "step '" + call.type + "' failed for now, try again later: " + outcome.message,
                   {{"step", call.type}, {"reason", outcome.message}},
                   "step-failed"};
    default:
      return Error{Errc::plugin,
                   "step '" + call.type + "' failed: " + outcome.message,
                   {{"step", call.type}, {"reason", outcome.message}},
                   "step-failed"};
  }
}

}  // namespace

void Runtime::scheduled(const CaseEffects& effects) const {
  if (!effects.jobs.empty() && on_scheduled_) {
    on_scheduled_();
  }
  if (!effects.timers.empty() && on_timers_) {
    on_timers_();
  }
}

Result<CaseEffects> Runtime::run_steps(const Workflow& workflow, const CaseRecord& before,
                                       const std::optional<std::string>& event,
                                       const std::optional<std::string>& from,
                                       const std::string& to, const Transition* row,
                                       std::size_t row_index, boost::json::object& data,
                                       std::vector<std::string>& changed, std::int64_t new_version,
                                       Timestamp now) {
  struct Planned {
    const StepCall* call;
    std::string ref;
  };
  std::vector<Planned> calls;
  // A row back to its own state is an internal transition (recording a visit, a hearing): it runs
  // its own steps but does not leave or re-enter the state, so on_exit and on_enter stay quiet.
  const bool internal = from && *from == to;
  if (from && !internal) {
    const State& state = workflow.states[*workflow.find_state(*from)];
    for (std::size_t i = 0; i < state.on_exit.size(); ++i) {
      calls.push_back({&state.on_exit[i], exit_ref(*from, i)});
    }
  }
  if (row != nullptr && event) {
    for (std::size_t i = 0; i < row->steps.size(); ++i) {
      calls.push_back({&row->steps[i], row_ref(*from, *event, row_index, i)});
    }
  }
  const State& target = workflow.states[*workflow.find_state(to)];
  for (std::size_t i = 0; !internal && i < target.on_enter.size(); ++i) {
    calls.push_back({&target.on_enter[i], enter_ref(to, i)});
  }

  CaseEffects effects;
  const std::int64_t today = zone_.local_day(now);
  for (const auto& [call, ref] : calls) {
    if (call->when && !call->when->evaluate(GuardContext{data, today}).value) {
      continue;
    }
    const std::string key = before.id + "/" + std::to_string(new_version) + "/" + ref;
    if (call->async) {
      OutboxJob job;
      job.case_id = before.id;
      job.workflow = workflow.name;
      job.workflow_version = workflow.version;
      job.step_ref = ref;
      job.step_type = call->type;
      job.event = event;
      job.from = from;
      job.to = to;
      job.idempotency_key = key;
      job.max_attempts = call->retry.max_attempts;
      job.backoff_ms = call->retry.backoff_ms;
      job.next_at = now;
      job.status = "pending";
      job.created_at = now;
      effects.jobs.push_back(std::move(job));
      continue;
    }
    // The case as the step sees it: in the target state (no copy of the record for that).
    StepOutcome outcome =
        call->instance->run(StepInput{key, step_input(before, to, data, *call, event, from, to)});
    metrics::engine().step_results.add({call->type, step_result_label(outcome.status)});
    switch (outcome.status) {
      case StepStatus::ok: {
        if (auto checked = check_step_output(workflow, *call, outcome.output); !checked) {
          return checked.error();
        }
        for (auto& name : merge_payload(data, outcome.output)) {
          if (std::find(changed.begin(), changed.end(), name) == changed.end()) {
            changed.push_back(std::move(name));
          }
        }
        break;
      }
      case StepStatus::pending:
        effects.tasks.push_back(make_task(before, *call, ref, std::move(outcome.output), now));
        break;
      default:
        return step_error(*call, outcome);
    }
  }
  return effects;
}

Result<void> Runtime::run_job(const OutboxJob& job) {
  const Timestamp now = clock_.now();
  JobResult result;
  result.attempts = job.attempts + 1;
  result.next_at = now;

  auto record = store_.get_case(job.case_id);
  if (!record) {
    return record.error();
  }
  if (record->erased_at) {
    // Claimed before the erasure cancelled it: it must not run on what is left of the case.
    result.status = "cancelled";
    result.last_error = "the case was erased";
    return store_.finish_job(job.id, result);
  }
  const auto workflow = workflows_.find(job.workflow, job.workflow_version);
  const StepCall* call = workflow ? resolve_step(*workflow, job.step_ref) : nullptr;
  auto open_incident = [&](std::string message) {
    result.status = "incident";
    result.last_error = message;
    result.incident = IncidentRecord{security::random_id_hex(8),
                                     job.case_id,
                                     job.id,
                                     job.step_type,
                                     std::move(message),
                                     result.attempts,
                                     "open",
                                     now,
                                     {}};
  };
  if (call == nullptr) {
    open_incident("step '" + job.step_type + "' is no longer in workflow '" + job.workflow +
                  "' version " + std::to_string(job.workflow_version));
    return store_.finish_job(job.id, result);
  }

  StepOutcome outcome = call->instance->run(StepInput{
      job.idempotency_key, step_input(*record, record->data, *call, job.event, job.from, job.to)});
  if (outcome.status == StepStatus::ok) {
    if (auto checked = check_step_output(*workflow, *call, outcome.output); !checked) {
      outcome = StepOutcome{StepStatus::failed, {}, checked.error().message};
    }
  }
  const bool will_retry =
      outcome.status == StepStatus::retryable && result.attempts < job.max_attempts;
  metrics::engine().step_results.add(
      {job.step_type,
       will_retry ? "retry"
                  : step_result_label(outcome.status == StepStatus::retryable ? StepStatus::failed
                                                                              : outcome.status)});
  switch (outcome.status) {
    case StepStatus::ok:
    case StepStatus::pending:
      result.status = "done";
      break;
    case StepStatus::retryable:
      if (result.attempts < job.max_attempts) {
        result.status = "pending";
        result.next_at = now + backoff_for(job, result.attempts);
        result.last_error = outcome.message;
        log(LogLevel::warning, "step will be retried",
            {{"case", job.case_id},
             {"step", job.step_type},
             {"attempt", std::to_string(result.attempts)}});
        return store_.finish_job(job.id, result);
      }
      open_incident("step '" + job.step_type + "' failed " + std::to_string(result.attempts) +
                    " times; last: " + outcome.message);
      log(LogLevel::error, "step retries exhausted; incident opened",
          {{"case", job.case_id}, {"step", job.step_type}});
      return store_.finish_job(job.id, result);
    default:
      open_incident("step '" + job.step_type + "' failed: " + outcome.message);
      log(LogLevel::error, "step failed; incident opened",
          {{"case", job.case_id}, {"step", job.step_type}});
      return store_.finish_job(job.id, result);
  }

  // The step ran once; its result is applied to the case as it is now. If another change wins
  // the race, the same result is applied again to the fresh case, never by running the step again.
  for (int attempt = 1;; ++attempt) {
    CaseRecord after = *record;
    HistoryEntry entry;
    entry.at = now;
    entry.actor = "system";
    entry.from = record->state;
    entry.to = record->state;
    entry.comment = job.step_type;
    if (outcome.status == StepStatus::ok) {
      entry.event = "step_completed";
      entry.changed = merge_payload(after.data, outcome.output);
      entry.payload = outcome.output;
      result.effects = {};
      // A date the step set may be what an `at:` timer waits for.
      if (auto timed = add_time_effects(*workflow, after, std::nullopt, false, entry.changed, now,
                                        result.effects);
          !timed) {
        return timed.error();
      }
    } else {
      entry.event = "step_pending";
      result.effects.tasks = {make_task(*record, *call, job.step_ref, outcome.output, now)};
    }
    after.version = record->version + 1;
    after.updated_at = now;
    entry.version = after.version;
    result.change = CaseChange{after, record->version, entry};
    auto finished = store_.finish_job(job.id, result);
    if (finished || finished.error().code != Errc::precondition_failed ||
        attempt == kMaxJobApplyAttempts) {
      if (finished) {
        scheduled(result.effects);
        log(LogLevel::info, entry.event == "step_completed" ? "step completed" : "step pending",
            {{"case", job.case_id}, {"step", job.step_type}});
      }
      return finished;
    }
    record = store_.get_case(job.case_id);
    if (!record) {
      return record.error();
    }
    if (record->erased_at) {
      result.change.reset();
      result.effects = {};
      result.status = "cancelled";
      result.last_error = "the case was erased";
      return store_.finish_job(job.id, result);
    }
  }
}

Result<std::vector<TaskRecord>> Runtime::tasks(const Actor& actor, const std::string& id) {
  if (auto record = get_case(actor, id); !record) {
    return record.error();
  }
  return store_.tasks(id);
}

Result<std::vector<IncidentRecord>> Runtime::incidents(const Actor& actor, const std::string& id) {
  if (auto record = get_case(actor, id); !record) {
    return record.error();
  }
  return store_.incidents(id);
}

Result<void> Runtime::retry_incident(const Actor& actor, const std::string& id,
                                     const std::string& incident_id) {
  if (auto record = get_case(actor, id); !record) {
    return record.error();
  }
  if (auto retried = store_.retry_incident(id, incident_id, clock_.now()); !retried) {
    return retried.error();
  }
  log(LogLevel::info, "incident retried",
      {{"case", id}, {"incident", incident_id}, {"actor", actor.user}});
  if (on_scheduled_) {
    on_scheduled_();
  }
  return {};
}

namespace {

Result<TaskRecord> find_open_task(Store& store, const std::string& token) {
  auto task = store.find_task(token);
  if (!task) {
    return task.error();
  }
  if (!*task) {
    return Error{Errc::not_found, "no task with this token", {}, "not-found"};
  }
  if ((*task)->status == "cancelled") {
    // Erasure cancels a case's open tasks: say so, as every other write to the case does.
    if (auto record = store.get_case((*task)->case_id); record && record->erased_at) {
      return case_erased(*record);
    }
  }
  if ((*task)->status != "open") {
    return Error{Errc::conflict,
                 "task " + (*task)->id + " is already " + (*task)->status,
                 {},
                 "task-closed"};
  }
  return std::move(**task);
}

}  // namespace

Result<CaseRecord> Runtime::close_task(const Actor& actor, const TaskRecord& task,
                                       const std::string& status, const std::string& event,
                                       const boost::json::object& data,
                                       std::optional<std::string> comment,
                                       const std::optional<IncidentRecord>& incident) {
  for (int attempt = 1;; ++attempt) {
    auto record = store_.get_case(task.case_id);
    if (!record) {
      return record.error();
    }
    if (record->erased_at) {
      return case_erased(*record);
    }
    auto workflow = workflow_of(*record);
    if (!workflow) {
      return workflow.error();
    }
    if (auto problems = validate_payload(**workflow, data); !problems.empty()) {
      return invalid_fields_error("task " + task.id, problems);
    }
    const Timestamp now = clock_.now();
    CaseRecord after = *record;
    HistoryEntry entry;
    entry.at = now;
    entry.actor = actor.user;
    entry.event = event;
    entry.from = record->state;
    entry.to = record->state;
    entry.changed = merge_payload(after.data, data);
    // Copied, not moved: the loop may build the entry again for a fresh case.
    entry.comment = comment ? comment : std::optional<std::string>(task.step_type);
    entry.payload = data;
    after.version = record->version + 1;
    after.updated_at = now;
    entry.version = after.version;
    // Data the task brings may be a date an `at:` timer waits for.
    CaseEffects effects;
    if (auto timed =
            add_time_effects(**workflow, after, std::nullopt, false, entry.changed, now, effects);
        !timed) {
      return timed.error();
    }
    auto closed = store_.close_task(task.id, status, now, CaseChange{after, record->version, entry},
                                    effects, incident);
    if (closed) {
      scheduled(effects);
      log(LogLevel::info, "task closed",
          {{"case", after.id}, {"task", task.id}, {"status", status}, {"actor", actor.user}});
      return after;
    }
    // Another change of the case won the race: apply the same result to the fresh case.
    if (closed.error().code != Errc::precondition_failed || attempt == kMaxAttempts) {
      return closed.error();
    }
  }
}

Result<CaseRecord> Runtime::complete_task(const Actor& actor, const std::string& token,
                                          const boost::json::object& data,
                                          std::optional<std::string> comment) {
  auto task = find_open_task(store_, token);
  if (!task) {
    return task.error();
  }
  auto after = close_task(actor, *task, "completed", "task_completed", data, std::move(comment),
                          std::nullopt);
  if (!after || !task->on_complete) {
    return after;
  }
  // The reaction belongs to the workflow: the engine fires it through the same pipeline.
  const Actor system{"system", {}};
  auto fired = fire(system, after->id, FireRequest{*task->on_complete});
  if (!fired) {
    log(LogLevel::warning, "on_complete event was not taken",
        {{"case", after->id},
         {"event", *task->on_complete},
         {"reason", errc_name(fired.error().code)}});
    return after;
  }
  return fired->record;
}

Result<CaseRecord> Runtime::fail_task(const Actor& actor, const std::string& token,
                                      const std::string& reason) {
  auto task = find_open_task(store_, token);
  if (!task) {
    return task.error();
  }
  const IncidentRecord incident{security::random_id_hex(8),
                                task->case_id,
                                0,
                                task->step_type,
                                "task failed: " + reason,
                                1,
                                "open",
                                clock_.now(),
                                {}};
  return close_task(actor, *task, "failed", "task_failed", {}, task->step_type + ": " + reason,
                    incident);
}

Result<void> Runtime::audit(std::vector<AuditRecord> records) {
  const Timestamp now = clock_.now();
  for (auto& record : records) {
    if (record.at == 0) {
      record.at = now;
    }
  }
  return store_.append_audit(records);
}

Result<AuditPage> Runtime::audit_page(const Actor& actor, const AuditQuery& query) {
  if (!actor.has_role("auditor")) {
    return Error{Errc::forbidden,
                 "the audit trail is for the 'auditor' role",
                 {{"required_roles", boost::json::array{"auditor"}}},
                 "forbidden"};
  }
  return store_.audit_page(query);
}

}  // namespace carepath::runtime
