#include "api/mapping.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <boost/json/array.hpp>

#include "core/consent.hpp"
#include "core/duration.hpp"
#include "core/fields.hpp"
#include "core/outcome.hpp"
#include "core/strings.hpp"
#include "core/time.hpp"

namespace carepath::api {
namespace {

boost::json::value optional_string(const std::optional<std::string>& text) {
  return text ? boost::json::value(*text) : boost::json::value(nullptr);
}

boost::json::value text_or_null(const std::string& text) {
  return text.empty() ? boost::json::value(nullptr) : boost::json::value(text);
}

// Limits are doubles in the model; an integral one is written as an integer so that an integer
// field reads `"min": 0`, not `"min": 0.0`.
boost::json::value limit_to_json(double limit) {
  constexpr double kLargestExact = 9007199254740992.0;  // 2^53
  if (std::trunc(limit) == limit && std::fabs(limit) <= kLargestExact) {
    return static_cast<std::int64_t>(limit);
  }
  return limit;
}

boost::json::object field_to_json(const Field& field, const Workflow& workflow) {
  boost::json::object out;
  out["name"] = field.name;
  out["type"] = field_type_name(field.type);
  if (field.min) {
    out["min"] = limit_to_json(*field.min);
  }
  if (field.max) {
    out["max"] = limit_to_json(*field.max);
  }
  if (!field.values.empty()) {
    out["values"] = to_json_array(field.values);
  }
  out["sensitivity"] = sensitivity_name(field.sensitivity);
  out["visible_to"] = to_json_array(visible_roles(field, workflow.roles));
  out["editable_by"] =
      to_json_array(field.editable_by.empty() ? workflow.roles : field.editable_by);
  return out;
}

boost::json::object transition_to_json(const Transition& row, const Workflow& workflow) {
  boost::json::object out;
  out["event"] = workflow.events.at(row.on);
  out["to"] = workflow.states.at(row.to).name;
  out["roles"] = to_json_array(row.roles);
  out["requires"] = to_json_array(row.required_fields);
  out["requires_consent"] = to_json_array(row.required_consents);
  out["when"] = row.when ? boost::json::value(row.when->text()) : boost::json::value(nullptr);
  if (row.counts_as) {
    out["counts_as"] = outcome_name(*row.counts_as);
  }
  return out;
}

}  // namespace

boost::json::object consents_to_json(const std::string& case_id, const boost::json::array& records,
                                     const std::vector<ConsentStatus>& statuses,
                                     const std::vector<std::string>& valid) {
  boost::json::array items;
  for (std::size_t i = 0; i < records.size(); ++i) {
    boost::json::object item =
        records[i].is_object() ? records[i].get_object() : boost::json::object{};
    if (i < statuses.size()) {
      item["status"] = consent_status_name(statuses[i]);
    }
    items.emplace_back(std::move(item));
  }
  return boost::json::object{
      {"case_id", case_id}, {"items", std::move(items)}, {"valid", to_json_array(valid)}};
}

boost::json::object case_to_json(const CaseRecord& record, const Workflow& workflow,
                                 const Actor& actor, bool break_glass) {
  // Sized up front: a list answer builds fifty of these, and growing them member by member
  // rehashed each object several times.
  boost::json::object data(record.data.size());
  boost::json::array redacted;
  for (const auto& member : record.data) {
    const Field* field = workflow.find_field(member.key());
    if (field && (break_glass || field_visible(*field, actor))) {
      data.emplace(member.key(), member.value());
    } else {
      redacted.emplace_back(member.key());
    }
  }
  constexpr std::size_t kMembers = 11;
  boost::json::object out(kMembers);
  out.emplace("id", record.id);
  out.emplace("code", record.code);
  out.emplace("workflow", record.workflow);
  out.emplace("workflow_version", record.workflow_version);
  out.emplace("state", record.state);
  out.emplace("data", std::move(data));
  out.emplace("version", record.version);
  out.emplace("created_at", format_timestamp(record.created_at));
  out.emplace("updated_at", format_timestamp(record.updated_at));
  out.emplace("redacted_fields", std::move(redacted));
  // Erased (POST /v1/cases/{id}/erase): the values above sensitivity `none` are gone for good.
  out.emplace("erased_at", record.erased_at
                               ? boost::json::value(format_timestamp(*record.erased_at))
                               : boost::json::value(nullptr));
  return out;
}

std::vector<std::string> sensitive_fields_shown(const CaseRecord& record, const Workflow& workflow,
                                                const Actor& actor, bool break_glass) {
  std::vector<std::string> names;
  for (const auto& member : record.data) {
    const Field* field = workflow.find_field(member.key());
    if (field && field->sensitivity != Sensitivity::none &&
        (break_glass || field_visible(*field, actor))) {
      names.emplace_back(member.key());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> restricted_fields(const CaseRecord& record, const Workflow& workflow,
                                           const Actor& actor) {
  std::vector<std::string> names;
  for (const auto& member : record.data) {
    const Field* field = workflow.find_field(member.key());
    if (field && !field_visible(*field, actor)) {
      names.emplace_back(member.key());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

boost::json::object audit_record_to_json(const AuditRecord& record) {
  boost::json::array fields;
  for (const auto& name : record.fields) {
    fields.emplace_back(name);
  }
  boost::json::object out;
  out["seq"] = record.seq;
  out["at"] = format_timestamp(record.at);
  out["actor"] = record.actor;
  out["action"] = record.action;
  out["case_id"] = record.case_id ? boost::json::value(*record.case_id) : nullptr;
  out["fields"] = std::move(fields);
  out["reason"] = record.reason ? boost::json::value(*record.reason) : nullptr;
  out["details"] = record.details;
  out["hash"] = record.hash;
  return out;
}

boost::json::object history_entry_to_json(const HistoryEntry& entry) {
  boost::json::object out;
  out["seq"] = entry.seq;
  out["at"] = format_timestamp(entry.at);
  out["actor"] = entry.actor;
  out["event"] = entry.event;
  out["from"] = optional_string(entry.from);
  out["to"] = entry.to;
  out["version"] = entry.version;
  out["changed"] = to_json_array(entry.changed);
  out["comment"] = optional_string(entry.comment);
  if (!entry.trigger.empty()) {
    out["trigger"] = entry.trigger;
  }
  if (adjustment_action(entry.event)) {
    out["clock"] = entry.payload;  // {clock, reason, by}: checked when it was recorded
  }
  if (consent_action(entry.event)) {
    out["consent"] = entry.payload;  // {consent, given_by, scope, ...}: checked when recorded
  }
  return out;
}

namespace {

boost::json::value optional_instant(const std::optional<Timestamp>& t) {
  return t ? boost::json::value(format_timestamp(*t)) : boost::json::value(nullptr);
}

boost::json::value optional_ms(const std::optional<std::int64_t>& ms) {
  return ms ? boost::json::value(*ms) : boost::json::value(nullptr);
}

boost::json::value optional_span(const std::optional<std::int64_t>& ms) {
  return ms ? boost::json::value(describe_span_ms(*ms)) : boost::json::value(nullptr);
}

// One CSV field: quoted when it holds a separator, a quote or a line break.
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(text);
  }
  std::string out = "\"";
  for (const char c : text) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  out += '"';
  return out;
}

}  // namespace

boost::json::object clock_status_to_json(const ClockStatus& clock) {
  boost::json::object out;
  out["name"] = clock.name;
  out["title"] = clock.title;
  out["state"] = clock.state;
  out["started"] = optional_instant(clock.started);
  out["due"] = optional_instant(clock.due);
  out["warn_at"] = optional_instant(clock.warn_at);
  out["stopped"] = optional_instant(clock.stopped);
  out["remaining_ms"] = optional_ms(clock.remaining_ms);
  out["remaining"] = optional_span(clock.remaining_ms);
  out["excluded_ms"] = clock.excluded_ms;
  out["paused"] = clock.state == "paused" || (clock.pause_kind.has_value() && !clock.stopped);
  out["pause_kind"] = optional_string(clock.pause_kind);
  out["warned_at"] = optional_instant(clock.warned_at);
  out["breached_at"] = optional_instant(clock.breached_at);
  out["log"] = clock.log;
  return out;
}

boost::json::object schedule_row_to_json(const ScheduleRow& row) {
  boost::json::object out;
  out["kind"] = row.kind;
  out["name"] = row.name;
  out["title"] = row.title;
  out["due"] = optional_instant(row.due);
  out["actual"] = optional_instant(row.actual);
  out["status"] = row.status;
  out["late_ms"] = optional_ms(row.late_ms);
  out["late"] = optional_span(row.late_ms);
  out["note"] = optional_string(row.note);
  return out;
}

std::string schedule_to_csv(const std::vector<ScheduleRow>& rows) {
  std::string out = "kind,name,title,due,actual,status,late,note\r\n";
  for (const ScheduleRow& row : rows) {
    const std::string fields[] = {
        row.kind,
        row.name,
        row.title,
        row.due ? format_timestamp(*row.due) : "",
        row.actual ? format_timestamp(*row.actual) : "",
        row.status,
        row.late_ms ? describe_span_ms(*row.late_ms) : "",
        row.note.value_or(""),
    };
    bool first = true;
    for (const std::string& field : fields) {
      out += first ? "" : ",";
      out += csv_field(field);
      first = false;
    }
    out += "\r\n";
  }
  return out;
}

boost::json::array workflow_summaries(const std::vector<std::shared_ptr<const Workflow>>& all) {
  boost::json::array items;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t end = i;
    boost::json::array versions;
    while (end < all.size() && all[end]->name == all[i]->name) {
      versions.emplace_back(all[end]->version);
      ++end;
    }
    const Workflow& latest = *all[end - 1];
    boost::json::object item;
    item["name"] = latest.name;
    item["title"] = latest.title;
    item["latest_version"] = latest.version;
    item["versions"] = std::move(versions);
    items.emplace_back(std::move(item));
    i = end;
  }
  return items;
}

boost::json::object workflow_to_json(const Workflow& workflow, const std::vector<int>& versions) {
  boost::json::array version_list;
  for (const int v : versions) {
    version_list.emplace_back(v);
  }
  boost::json::array fields;
  for (const auto& field : workflow.fields) {
    fields.emplace_back(field_to_json(field, workflow));
  }
  boost::json::array states;
  for (StateId id = 0; id < workflow.states.size(); ++id) {
    const State& state = workflow.states[id];
    boost::json::array transitions;
    for (const auto& row : workflow.rows_from(id)) {
      transitions.emplace_back(transition_to_json(row, workflow));
    }
    boost::json::object item;
    item["name"] = state.name;
    item["initial"] = state.initial;
    item["final"] = state.final;
    if (state.outcome) {
      item["outcome"] = outcome_name(*state.outcome);
    }
    item["transitions"] = std::move(transitions);
    states.emplace_back(std::move(item));
  }
  boost::json::object out;
  out["name"] = workflow.name;
  out["version"] = workflow.version;
  out["versions"] = std::move(version_list);
  out["title"] = workflow.title;
  out["roles"] = to_json_array(workflow.roles);
  out["fields"] = std::move(fields);
  out["states"] = std::move(states);
  boost::json::array consents;
  for (const ConsentDef& c : workflow.consents) {
    consents.emplace_back(boost::json::object{{"name", c.name},
                                              {"title", c.title},
                                              {"description", c.description},
                                              {"override_by", to_json_array(c.override_by)}});
  }
  out["consents"] = std::move(consents);
  return out;
}

boost::json::object event_option_to_json(const EventOption& option) {
  boost::json::object guard;
  guard["when"] = text_or_null(option.guard);
  guard["passed"] = option.guard_passed;
  guard["unset_field"] = text_or_null(option.unset_field);
  boost::json::object out;
  out["event"] = option.event;
  out["to"] = option.to;
  out["roles"] = to_json_array(option.roles);
  out["missing_fields"] = to_json_array(option.missing_fields);
  out["missing_consents"] = to_json_array(option.missing_consents);
  out["guard"] = std::move(guard);
  out["ready"] = option.ready;
  return out;
}

namespace {

boost::json::value optional_time(const std::optional<Timestamp>& t) {
  return t ? boost::json::value(format_timestamp(*t)) : boost::json::value(nullptr);
}

}  // namespace

boost::json::object incident_to_json(const IncidentRecord& incident) {
  return boost::json::object{{"id", incident.id},
                             {"step", incident.step_type},
                             {"message", incident.message},
                             {"attempts", incident.attempts},
                             {"status", incident.status},
                             {"created_at", format_timestamp(incident.created_at)},
                             {"resolved_at", optional_time(incident.resolved_at)}};
}

boost::json::object notification_to_json(const NotificationRecord& notification) {
  return boost::json::object{{"id", notification.id},
                             {"case_id", notification.case_id},
                             {"workflow", notification.workflow},
                             {"role", notification.role},
                             {"kind", notification.kind},
                             {"subject", notification.subject},
                             {"due_at", format_timestamp(notification.due_at)},
                             {"created_at", format_timestamp(notification.created_at)},
                             {"acknowledged_at", optional_time(notification.acknowledged_at)},
                             {"acknowledged_by", optional_string(notification.acknowledged_by)}};
}

boost::json::object task_to_json(const TaskRecord& task) {
  return boost::json::object{
      {"id", task.id},
      {"token", task.token},
      {"step", task.step_type},
      {"status", task.status},
      {"description", task.description},
      {"on_complete",
       task.on_complete ? boost::json::value(*task.on_complete) : boost::json::value(nullptr)},
      {"created_at", format_timestamp(task.created_at)},
      {"closed_at", optional_time(task.closed_at)}};
}

boost::json::object plugins_to_json(const StepCatalog& steps) {
  std::map<std::string, boost::json::object> plugins;
  for (const StepType* type : steps.all()) {
    auto& plugin = plugins[type->plugin()];
    if (plugin.empty()) {
      plugin = boost::json::object{{"name", type->plugin()},
                                   {"version", type->plugin_version()},
                                   {"steps", boost::json::array{}}};
    }
    plugin["steps"].as_array().push_back(
        boost::json::object{{"name", type->name()},
                            {"description", type->description()},
                            {"config_schema", type->config_schema()},
                            {"reads", to_json_array(type->reads())}});
  }
  boost::json::array items;
  for (auto& [name, plugin] : plugins) {
    items.emplace_back(std::move(plugin));
  }
  return boost::json::object{{"items", std::move(items)}};
}

}  // namespace carepath::api
