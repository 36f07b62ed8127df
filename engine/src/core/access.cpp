#include "core/access.hpp"

#include <algorithm>

namespace carepath {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::vector<std::string> holder_names(const Actor& actor) {
  std::vector<std::string> names;
  names.reserve(1 + actor.teams.size() + actor.roles.size());
  names.push_back(actor.user);
  for (const auto& team : actor.teams) {
    names.push_back("team:" + team);
  }
  for (const auto& role : actor.roles) {
    names.push_back("role:" + role);
  }
  return names;
}

bool holds_case(const Actor& actor, const CaseRecord& record) {
  return !record.assignee.empty() && contains(holder_names(actor), record.assignee);
}

bool may_see_case(const Actor& actor, const CaseRecord& record, const AccessPolicy& policy) {
  if (!actor.homes.empty()) {
    return (record.placement && contains(actor.homes, *record.placement)) ||
           holds_case(actor, record);
  }
  if (policy.own_cases_only && !actor.has_role(kSupervisorRole)) {
    return holds_case(actor, record);
  }
  return true;
}

std::optional<CaseQuery::Scope> scope_filter(const Actor& actor, const AccessPolicy& policy) {
  if (!actor.homes.empty()) {
    return CaseQuery::Scope{holder_names(actor), actor.homes};
  }
  if (policy.own_cases_only && !actor.has_role(kSupervisorRole)) {
    return CaseQuery::Scope{holder_names(actor), {}};
  }
  return std::nullopt;
}

void stamp_scope(const Workflow& workflow, CaseRecord& record) {
  if (const Field* field = workflow.assignment_field()) {
    const auto* value = record.data.if_contains(field->name);
    if (value != nullptr && value->is_string() && !value->as_string().empty()) {
      record.assignee = value->as_string();
    }
  }
  record.placement.reset();
  if (const Field* field = workflow.placement_field()) {
    const auto* value = record.data.if_contains(field->name);
    if (value != nullptr && value->is_string() && !value->as_string().empty()) {
      record.placement = std::string(value->as_string());
    }
  }
}

}  // namespace carepath
