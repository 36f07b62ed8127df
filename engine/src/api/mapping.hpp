// The JSON shapes of the API's answers: cases, history entries, workflows and next events.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/actor.hpp"
#include "core/consent.hpp"
#include "core/machine.hpp"
#include "core/model.hpp"
#include "core/schedule.hpp"
#include "core/step.hpp"
#include "core/store.hpp"

namespace carepath::api {

// {"id", "code", "workflow", "workflow_version", "state", "data", "version", "created_at",
//  "updated_at", "redacted_fields"}. `data` holds only the fields `actor` may see; the names of
// the others that are set are listed in `redacted_fields`. A member of `data` the workflow
// does not declare is treated as invisible (deny by default). With `break_glass` (a
// supervisor's audited emergency access) every declared field is shown.
boost::json::object case_to_json(const CaseRecord& record, const Workflow& workflow,
                                 const Actor& actor, bool break_glass = false);

// The names of the fields in case_to_json's `data` whose sensitivity is above `none`: what a
// "case.read" audit row records when the answer shows them to `actor`. Sorted by name.
std::vector<std::string> sensitive_fields_shown(const CaseRecord& record, const Workflow& workflow,
                                                const Actor& actor, bool break_glass = false);

// The names of the set fields `actor` may not see (their `visible_to`), sorted: what a
// break-glass read reveals.
std::vector<std::string> restricted_fields(const CaseRecord& record, const Workflow& workflow,
                                           const Actor& actor);

// {"seq", "at", "actor", "action", "case_id", "fields", "reason", "details", "hash"}; `at` as
// RFC 3339 UTC, case_id and reason null when absent.
boost::json::object audit_record_to_json(const AuditRecord& record);

// Every member always present; `from` and `comment` are null when absent. The stored payload is
// never included: `changed` names what changed without the values. Entries the engine made on
// its own carry `trigger` (the timer or clock deadline, when it was due and how late it fired);
// clock adjustments carry `clock` ({clock, reason, by}) and consent events `consent` ({consent,
// given_by, scope, evidence, valid_until} or {consent, reason}), which are not case fields.
boost::json::object history_entry_to_json(const HistoryEntry& entry);

// GET /v1/cases/{id}/consents: {"case_id", "items": [each record with its "status"], "valid":
// [names in force]}; `statuses` holds one status per record (core/consent.hpp).
boost::json::object consents_to_json(const std::string& case_id, const boost::json::array& records,
                                     const std::vector<ConsentStatus>& statuses,
                                     const std::vector<std::string>& valid);

// {"name", "title", "state", "started", "due", "warn_at", "stopped", "remaining_ms",
//  "remaining", "excluded_ms", "paused", "pause_kind", "warned_at", "breached_at", "log"};
// instants as RFC 3339 UTC strings, null when unknown.
boost::json::object clock_status_to_json(const ClockStatus& clock);

// {"kind", "name", "title", "due", "actual", "status", "late_ms", "late", "note"}.
boost::json::object schedule_row_to_json(const ScheduleRow& row);

// The same rows as CSV (RFC 4180, CRLF line ends, a header line), for a spreadsheet.
std::string schedule_to_csv(const std::vector<ScheduleRow>& rows);

// {"name", "title", "latest_version", "versions"} for each workflow name, in name order.
// Requires: `all` is ordered by name then version (WorkflowRegistry::all()).
boost::json::array workflow_summaries(const std::vector<std::shared_ptr<const Workflow>>& all);

// The full description of one workflow version; `versions` lists every loaded version of it.
// An empty visible_to or editable_by is written out as the workflow's roles, which is what it
// means, so that no client reads `[]` as "nobody".
boost::json::object workflow_to_json(const Workflow& workflow, const std::vector<int>& versions);

// {"event", "to", "roles", "missing_fields", "missing_consents", "guard": {"when", "passed",
// "unset_field"}, "ready"}.
boost::json::object event_option_to_json(const EventOption& option);

// {"id", "step", "message", "attempts", "status", "created_at", "resolved_at"}.
boost::json::object incident_to_json(const IncidentRecord& incident);

// {"id", "case_id", "workflow", "role", "kind", "subject", "due_at", "created_at",
//  "acknowledged_at", "acknowledged_by"}; instants as RFC 3339 UTC strings, the last two null
// until it is acknowledged. A notification holds no case field values, so neither does this.
boost::json::object notification_to_json(const NotificationRecord& notification);

// {"id", "token", "step", "status", "description", "on_complete", "created_at", "closed_at"}.
// The token is shown to callers who may see the case: they hand it to whoever completes the task.
boost::json::object task_to_json(const TaskRecord& task);

// {"items": [{"name", "version", "steps": [{"name", "description", "config_schema", "reads"}]}]},
// plugins in name order; built-in steps appear under the plugin "core".
boost::json::object plugins_to_json(const StepCatalog& steps);

}  // namespace carepath::api
