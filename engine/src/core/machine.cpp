#include "core/machine.hpp"

#include <algorithm>

#include <boost/container/small_vector.hpp>

#include "core/fields.hpp"
#include "core/strings.hpp"

namespace carepath {
namespace {

constexpr std::string_view kSystemActor = "system";

bool may_fire(const Transition& row, const Actor& actor) {
  if (actor.user == kSystemActor) {
    return true;
  }
  // A row without roles is for the engine alone: deny by default.
  return !row.roles.empty() && actor.has_any_role(row.roles);
}

bool is_set(const boost::json::object& data, const std::string& name) {
  const auto* v = data.if_contains(name);
  return v != nullptr && !v->is_null();
}

std::vector<std::string> missing_of(const Transition& row, const boost::json::object& data) {
  std::vector<std::string> missing;
  for (const auto& name : row.required_fields) {
    if (!is_set(data, name)) {
      missing.push_back(name);
    }
  }
  return missing;
}

std::string prefix(const Workflow& workflow, std::string_view state) {
  return "workflow '" + workflow.name + "': state '" + std::string(state) + "': ";
}

}  // namespace

std::vector<std::string> api_events(const Workflow& workflow, std::string_view state) {
  std::vector<std::string> names;
  const auto id = workflow.find_state(state);
  if (!id) {
    return names;
  }
  for (const Transition& row : workflow.rows_from(*id)) {
    const std::string& name = workflow.events[row.on];
    if (!row.roles.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  return names;
}

Result<TransitionPlan> plan_transition(const Workflow& workflow, std::string_view state,
                                       const boost::json::object& data, std::string_view event,
                                       const boost::json::object& payload, const Actor& actor,
                                       std::int64_t today) {
  const auto state_id = workflow.find_state(state);
  if (!state_id) {
    return Error{Errc::internal, prefix(workflow, state) + "state is not in the workflow"};
  }
  const auto event_id = workflow.find_event(event);
  const auto rows = event_id ? workflow.rows(*state_id, *event_id) : std::span<const Transition>{};
  if (rows.empty()) {
    const auto allowed = api_events(workflow, state);
    return Error{Errc::conflict,
                 prefix(workflow, state) + "no transition for event '" + std::string(event) +
                     "'; possible events: " + (allowed.empty() ? "none" : join(allowed)),
                 {{"state", std::string(state)}, {"allowed_events", to_json_array(allowed)}},
                 "no-transition"};
  }

  // Rows of one (state, event) are few: no allocation for them.
  boost::container::small_vector<const Transition*, 8> candidates;
  for (const Transition& row : rows) {
    if (may_fire(row, actor)) {
      candidates.push_back(&row);
    }
  }
  if (candidates.empty()) {
    std::vector<std::string> roles;
    for (const Transition& row : rows) {
      for (const auto& r : row.roles) {
        if (std::find(roles.begin(), roles.end(), r) == roles.end()) {
          roles.push_back(r);
        }
      }
    }
    // Rows without roles belong to the engine (timers, clocks, steps): deny by default.
    return Error{Errc::forbidden,
                 prefix(workflow, state) + "event '" + std::string(event) +
                     (roles.empty() ? std::string("' is fired only by the engine itself")
                                    : "' may be fired only by: " + join(roles)),
                 {{"required_roles", to_json_array(roles)}},
                 "forbidden"};
  }

  if (auto forbidden = uneditable_fields(workflow, actor, payload); !forbidden.empty()) {
    return Error{Errc::forbidden,
                 prefix(workflow, state) + "your roles may not edit: " + join(forbidden),
                 {{"forbidden_fields", to_json_array(forbidden)}},
                 "forbidden-fields"};
  }
  if (auto problems = validate_payload(workflow, payload); !problems.empty()) {
    return invalid_fields_error(
        "workflow '" + workflow.name + "': state '" + std::string(state) + "'", problems);
  }

  TransitionPlan plan;
  plan.data = data;
  plan.changed = merge_payload(plan.data, payload);

  // Rows are tried in source order. A row blocked by missing fields or a false guard gives way
  // to the next; when none is taken, missing fields are reported before guards.
  std::vector<std::string> missing;
  boost::json::array guards;
  const GuardContext context{plan.data, today};
  for (const Transition* row : candidates) {
    auto row_missing = missing_of(*row, plan.data);
    if (!row_missing.empty()) {
      for (auto& m : row_missing) {
        if (std::find(missing.begin(), missing.end(), m) == missing.end()) {
          missing.push_back(std::move(m));
        }
      }
      continue;
    }
    if (row->when) {
      const GuardOutcome outcome = row->when->evaluate(context);
      if (!outcome.value) {
        boost::json::object g{
            {"to", workflow.states[row->to].name}, {"when", row->when->text()}, {"result", false}};
        g["unset_field"] = outcome.unset_field.empty() ? boost::json::value(nullptr)
                                                       : boost::json::value(outcome.unset_field);
        g["reason"] = outcome.unset_field.empty()
                          ? std::string("guard is false")
                          : "guard reads unset field '" + outcome.unset_field + "'";
        guards.push_back(std::move(g));
        continue;
      }
    }
    plan.row = row;
    plan.to = workflow.states[row->to].name;
    return plan;
  }
  if (!missing.empty()) {
    return Error{Errc::unprocessable,
                 prefix(workflow, state) + "event '" + std::string(event) +
                     "' needs fields: " + join(missing),
                 {{"missing_fields", to_json_array(missing)}},
                 "missing-fields"};
  }
  std::string detail =
      prefix(workflow, state) + "no guard of event '" + std::string(event) + "' holds";
  for (const auto& g : guards) {
    detail += "; '" + std::string(g.as_object().at("when").as_string()) + "' is false";
  }
  return Error{Errc::conflict, std::move(detail), {{"guards", std::move(guards)}}, "guard-failed"};
}

std::vector<EventOption> event_options(const Workflow& workflow, std::string_view state,
                                       const boost::json::object& data, const Actor& actor,
                                       std::int64_t today) {
  std::vector<EventOption> options;
  const auto state_id = workflow.find_state(state);
  if (!state_id) {
    return options;
  }
  const GuardContext context{data, today};
  const auto rows = workflow.rows_from(*state_id);
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t end = i;
    while (end < rows.size() && rows[end].on == rows[i].on) {
      ++end;
    }
    std::optional<EventOption> first;  // the first row the actor may fire: reported if none ready
    for (std::size_t k = i; k < end; ++k) {
      const Transition& row = rows[k];
      if (!may_fire(row, actor) || actor.user == kSystemActor) {
        continue;
      }
      EventOption option;
      option.event = workflow.events[row.on];
      option.to = workflow.states[row.to].name;
      option.row = &row;
      option.roles = row.roles;
      option.missing_fields = missing_of(row, data);
      if (row.when) {
        option.guard = row.when->text();
        if (option.missing_fields.empty()) {
          const GuardOutcome outcome = row.when->evaluate(context);
          option.guard_passed = outcome.value;
          option.unset_field = outcome.unset_field;
        } else {
          option.guard_passed = false;
        }
      }
      option.ready = option.missing_fields.empty() && option.guard_passed;
      if (option.ready) {
        first = std::move(option);
        break;
      }
      if (!first) {
        first = std::move(option);
      }
    }
    if (first) {
      options.push_back(std::move(*first));
    }
    i = end;
  }
  return options;
}

}  // namespace carepath
