// The transition table at work: which row an event takes, for whom, and why not. Pure; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/actor.hpp"
#include "core/error.hpp"
#include "core/model.hpp"

namespace carepath {

struct TransitionPlan {
  const Transition* row = nullptr;
  std::string to;
  boost::json::object data;          // the case data after the payload is merged
  std::vector<std::string> changed;  // field names whose value changed
};

// Decides what firing `event` does to a case in `state` with `data`. The checks run in this
// order and the first that fails answers:
//   no row for (state, event)          Errc::conflict      details: allowed_events
//   actor holds none of the row roles  Errc::forbidden     (rows without roles: engine only)
//   payload may not be edited by actor Errc::forbidden     details: forbidden_fields
//   payload fields invalid             Errc::unprocessable details: invalid_fields
//   `requires` missing after merge     Errc::unprocessable details: missing_fields
//   every guard false                  Errc::conflict      details: guards
// Rows are tried in source order; the first whose requires are present and guard holds wins.
// An actor named "system" passes the role check (timers, clocks and steps use it).
Result<TransitionPlan> plan_transition(const Workflow& workflow, std::string_view state,
                                       const boost::json::object& data, std::string_view event,
                                       const boost::json::object& payload, const Actor& actor,
                                       std::int64_t today);

// One event the actor could fire now, and what stands in its way.
struct EventOption {
  std::string event;
  std::string to;  // the row that would be taken, or the first row the actor may fire
  std::vector<std::string> roles;
  std::vector<std::string> missing_fields;
  // Required consents not in force (core/consent.hpp); event_options leaves it empty, as it
  // does not see the case's consents: the runtime fills it in from `row`.
  std::vector<std::string> missing_consents;
  std::string guard;  // guard text of the row; empty when it has none
  bool guard_passed = true;
  std::string unset_field;  // a field the guard needed but the case lacks
  bool ready = false;       // firing it now with no payload would succeed
  // The row `to` comes from; owned by the workflow.
  const Transition* row = nullptr;
};

// Events leaving `state` that the actor may fire (by role), in source order, one per event.
std::vector<EventOption> event_options(const Workflow& workflow, std::string_view state,
                                       const boost::json::object& data, const Actor& actor,
                                       std::int64_t today);

// Names of the events leaving `state` that some caller can fire over the API (rows with roles).
std::vector<std::string> api_events(const Workflow& workflow, std::string_view state);

}  // namespace carepath
