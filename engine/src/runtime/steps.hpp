// Where a step call sits in a workflow (its "step ref"), and the input a step is given.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "core/model.hpp"
#include "core/store.hpp"

namespace carepath::runtime {

// "enter/<state>/<i>", "exit/<state>/<i>", "row/<state>/<event>/<row>/<i>": stable for a given
// workflow version, so an outbox job written before a restart finds its call again.
std::string enter_ref(std::string_view state, std::size_t index);
std::string exit_ref(std::string_view state, std::size_t index);
std::string row_ref(std::string_view state, std::string_view event, std::size_t row,
                    std::size_t index);

// The call a ref names, or nullptr.
const StepCall* resolve_step(const Workflow& workflow, std::string_view ref);

// The step's input (see cp_step_type::run in plugin_abi.h): case identity, the transition, and
// only the fields the step declared it reads.
boost::json::object step_input(const CaseRecord& record, const boost::json::object& data,
                               const StepCall& call, const std::optional<std::string>& event,
                               const std::optional<std::string>& from, const std::string& to);
// The same for the case `record` in `state` (a synchronous step sees the case in the target
// state before it is stored).
boost::json::object step_input(const CaseRecord& record, std::string_view state,
                               const boost::json::object& data, const StepCall& call,
                               const std::optional<std::string>& event,
                               const std::optional<std::string>& from, const std::string& to);

// Checks a step's output: only declared fields, each valid. Errc::plugin naming the step and the
// field (never the value).
Result<void> check_step_output(const Workflow& workflow, const StepCall& call,
                               const boost::json::object& output);

}  // namespace carepath::runtime
