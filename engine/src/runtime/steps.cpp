#include "runtime/steps.hpp"

#include <charconv>
#include <vector>

#include "core/fields.hpp"
#include "core/strings.hpp"

namespace carepath::runtime {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == separator) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::optional<std::size_t> parse_index(std::string_view text) {
  std::size_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

const StepCall* at(const std::vector<StepCall>& calls, std::string_view index) {
  const auto i = parse_index(index);
  return i && *i < calls.size() ? &calls[*i] : nullptr;
}

}  // namespace

std::string enter_ref(std::string_view state, std::size_t index) {
  return "enter/" + std::string(state) + "/" + std::to_string(index);
}

std::string exit_ref(std::string_view state, std::size_t index) {
  return "exit/" + std::string(state) + "/" + std::to_string(index);
}

std::string row_ref(std::string_view state, std::string_view event, std::size_t row,
                    std::size_t index) {
  return "row/" + std::string(state) + "/" + std::string(event) + "/" + std::to_string(row) + "/" +
         std::to_string(index);
}

const StepCall* resolve_step(const Workflow& workflow, std::string_view ref) {
  const auto parts = split(ref, '/');
  if (parts.size() < 3) {
    return nullptr;
  }
  const auto state = workflow.find_state(parts[1]);
  if (!state) {
    return nullptr;
  }
  if (parts[0] == "enter" && parts.size() == 3) {
    return at(workflow.states[*state].on_enter, parts[2]);
  }
  if (parts[0] == "exit" && parts.size() == 3) {
    return at(workflow.states[*state].on_exit, parts[2]);
  }
  if (parts[0] == "row" && parts.size() == 5) {
    const auto event = workflow.find_event(parts[2]);
    const auto row = parse_index(parts[3]);
    if (!event || !row) {
      return nullptr;
    }
    const auto rows = workflow.rows(*state, *event);
    return *row < rows.size() ? at(rows[*row].steps, parts[4]) : nullptr;
  }
  return nullptr;
}

boost::json::object step_input(const CaseRecord& record, const boost::json::object& data,
                               const StepCall& call, const std::optional<std::string>& event,
                               const std::optional<std::string>& from, const std::string& to) {
  return step_input(record, record.state, data, call, event, from, to);
}

boost::json::object step_input(const CaseRecord& record, std::string_view state,
                               const boost::json::object& data, const StepCall& call,
                               const std::optional<std::string>& event,
                               const std::optional<std::string>& from, const std::string& to) {
  // Built member by member into objects sized up front: no initializer lists of value_ref
  // (each member made twice) on a path every synchronous step call takes. Key order as
  // documented in plugin_abi.h.
  boost::json::object visible(call.reads.size());
  for (const auto& name : call.reads) {
    if (const auto* v = data.if_contains(name); v != nullptr && !v->is_null()) {
      visible.emplace(name, *v);
    }
  }
  auto optional = [](const std::optional<std::string>& s) {
    return s ? boost::json::value(*s) : boost::json::value(nullptr);
  };
  boost::json::object case_info(5);
  case_info.emplace("id", record.id);
  case_info.emplace("code", record.code);
  case_info.emplace("workflow", record.workflow);
  case_info.emplace("workflow_version", record.workflow_version);
  case_info.emplace("state", state);
  boost::json::object input(5);
  input.emplace("case", std::move(case_info));
  input.emplace("event", optional(event));
  input.emplace("from", optional(from));
  input.emplace("to", to);
  input.emplace("data", std::move(visible));
  return input;
}

Result<void> check_step_output(const Workflow& workflow, const StepCall& call,
                               const boost::json::object& output) {
  std::vector<std::string> undeclared;
  for (const auto& [key, value] : output) {
    if (workflow.find_field(key) == nullptr) {
      undeclared.emplace_back(key);
    }
  }
  if (!undeclared.empty()) {
    return Error{
        Errc::plugin,
        "step '" + call.type + "' wrote fields the workflow does not declare: " + join(undeclared),
        {{"step", call.type}, {"undeclared_fields", to_json_array(undeclared)}},
        "step-output-invalid"};
  }
  if (auto problems = validate_payload(workflow, output); !problems.empty()) {
    std::vector<std::string> names;
    names.reserve(problems.size());
    for (const auto& p : problems) {
      names.push_back(p.field);
    }
    return Error{Errc::plugin,
                 "step '" + call.type + "' wrote invalid values for: " + join(names),
                 {{"step", call.type}, {"invalid_fields", to_json(problems)}},
                 "step-output-invalid"};
  }
  return {};
}

}  // namespace carepath::runtime
