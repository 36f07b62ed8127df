// Object-level authorisation: which cases a caller may know exist. Field-level need-to-know is
// field_visible (core/fields.hpp); this decides the case as a whole.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/actor.hpp"
#include "core/model.hpp"
#include "core/store.hpp"

namespace carepath {

// The organisation's switch (config `own_cases_only`).
struct AccessPolicy {
  // Callers without the supervisor role and without homes on their token see only the cases
  // they hold (see holds_case).
  bool own_cases_only = false;
};

// The role that oversees: it sees every case, or, when its token names homes, its homes' cases.
inline constexpr std::string_view kSupervisorRole = "supervisor";

// The assignee values that mean `actor`: its user name, "team:<team>" for each of its teams
// and "role:<role>" for each of its roles (core.assign's "to").
std::vector<std::string> holder_names(const Actor& actor);

// Whether the case is assigned to `actor` (one of holder_names), or, unassigned, was opened by it.
bool holds_case(const Actor& actor, const CaseRecord& record);

// Whether `actor` may know the case exists. Roles in the workflow are checked by the caller; this
// adds the scope: a token with homes sees the cases placed in those homes and the ones it holds;
// otherwise, with own_cases_only, a caller without the supervisor role sees the ones it holds;
// otherwise every case.
bool may_see_case(const Actor& actor, const CaseRecord& record, const AccessPolicy& policy);

// The same rule as a filter for a store query: nullopt when the actor sees every case.
std::optional<CaseQuery::Scope> scope_filter(const Actor& actor, const AccessPolicy& policy);

// Sets record.assignee and record.placement from the workflow's assignment and placement fields
// (see Workflow::assignment_field). An assignee already set is kept while the assignment field
// holds no value: a case nobody was assigned stays with whoever opened it.
void stamp_scope(const Workflow& workflow, CaseRecord& record);

}  // namespace carepath
