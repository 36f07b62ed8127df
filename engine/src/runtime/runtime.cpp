#include "runtime/runtime.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/fields.hpp"
#include "core/log.hpp"
#include "core/strings.hpp"
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
    std::vector<std::string> names;
    for (const auto& p : problems) {
      names.push_back(p.field);
    }
    return Error{Errc::unprocessable,
                 "workflow '" + workflow.name + "': invalid fields: " + join(names),
                 {{"invalid_fields", to_json(problems)}},
                 "invalid-fields"};
  }
  return {};
}

}  // namespace

Runtime::Runtime(Store& store, const Clock& clock, const WorkflowRegistry& workflows)
    : store_(store), clock_(clock), workflows_(workflows) {
}

Result<std::shared_ptr<const Workflow>> Runtime::workflow_of(const CaseRecord& record) const {
  auto workflow = workflows_.find(record.workflow, record.workflow_version);
  if (!workflow) {
    return Error{Errc::internal, "case " + record.id + ": workflow '" + record.workflow +
                                     "' version " + std::to_string(record.workflow_version) +
                                     " is not loaded"};
  }
  return workflow;
}

Result<CaseRecord> Runtime::open_case(const Actor& actor, std::string_view workflow_name,
                                      const boost::json::object& data) {
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

  const Timestamp now = clock_.now();
  CaseRecord record;
  record.workflow = workflow->name;
  record.workflow_version = workflow->version;
  record.state = workflow->states[workflow->initial_state()].name;
  const auto changed = merge_payload(record.data, data);
  record.version = 1;
  record.created_at = now;
  record.updated_at = now;

  HistoryEntry opened;
  opened.at = now;
  opened.actor = actor.user;
  opened.event = "opened";
  opened.to = record.state;
  opened.version = 1;
  opened.changed = changed;
  opened.payload = record.data;

  for (int attempt = 1;; ++attempt) {
    // 128 random bits: unguessable. The code is random too, never derived from the child's
    // identity, and short enough to read out over the phone.
    record.id = security::random_hex(16);
    record.code = "CP-" + security::random_base32(4) + "-" + security::random_base32(4);
    auto created = store_.create_case(record, opened);
    if (created) {
      break;
    }
    if (created.error().code != Errc::conflict || attempt == kMaxCreateAttempts) {
      return created.error();
    }
  }
  log(LogLevel::info, "case opened",
      {{"case", record.id}, {"workflow", record.workflow}, {"actor", actor.user}});
  return record;
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
  if (!actor.has_any_role((*workflow)->roles)) {
    return forbidden_workflow(**workflow);
  }
  return record;
}

Result<CaseRecord> Runtime::update_case(const Actor& actor, const std::string& id,
                                        const boost::json::object& data,
                                        std::optional<std::int64_t> if_match,
                                        std::optional<std::string> comment) {
  for (int attempt = 1;; ++attempt) {
    auto record = get_case(actor, id);
    if (!record) {
      return record.error();
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

    CaseRecord after = *record;
    const auto changed = merge_payload(after.data, data);
    if (changed.empty() && !comment) {
      return record;  // nothing to change: no new version, no history entry
    }
    const Timestamp now = clock_.now();
    after.version = record->version + 1;
    after.updated_at = now;

    HistoryEntry entry;
    entry.at = now;
    entry.actor = actor.user;
    entry.event = "updated";
    entry.from = record->state;
    entry.to = record->state;
    entry.version = after.version;
    entry.changed = changed;
    entry.comment = comment;
    entry.payload = data;

    auto updated = store_.update_case(after, record->version, entry, std::nullopt);
    if (updated) {
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
    // A caller with no role in the workflow learns nothing about the case, not even its state
    // or possible events (the 409 below would tell them).
    if (actor.user != "system" && !actor.has_any_role((*workflow)->roles)) {
      return forbidden_workflow(**workflow);
    }
    const Timestamp now = clock_.now();
    auto plan = plan_transition(**workflow, record->state, record->data, request.event,
                                request.data, actor, day_number(now));
    if (!plan) {
      Error e = plan.error();
      e.message = "case " + id + ": " + e.message;
      return e;
    }

    CaseRecord after = *record;
    after.state = plan->to;
    after.data = std::move(plan->data);
    after.version = record->version + 1;
    after.updated_at = now;

    HistoryEntry entry;
    entry.at = now;
    entry.actor = actor.user;
    entry.event = request.event;
    entry.from = record->state;
    entry.to = after.state;
    entry.version = after.version;
    entry.changed = std::move(plan->changed);
    entry.comment = request.comment;
    entry.payload = request.data;

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
    auto updated = store_.update_case(after, record->version, entry, idempotency);
    if (updated) {
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

Result<CasePage> Runtime::list_cases(const Actor& actor, const CaseQuery& query) {
  auto page = store_.list_cases(query);
  if (!page) {
    return page.error();
  }
  // A caller sees only cases of workflows it holds a role in.
  std::erase_if(page->items, [&](const CaseRecord& r) {
    const auto workflow = workflows_.find(r.workflow, r.workflow_version);
    return !workflow || !actor.has_any_role(workflow->roles);
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

Result<std::vector<EventOption>> Runtime::transitions(const Actor& actor, const std::string& id) {
  auto record = get_case(actor, id);
  if (!record) {
    return record.error();
  }
  auto workflow = workflow_of(*record);
  if (!workflow) {
    return workflow.error();
  }
  return event_options(**workflow, record->state, record->data, actor, day_number(clock_.now()));
}

}  // namespace carepath::runtime
