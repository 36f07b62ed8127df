// Moving a running case from one version of its workflow to another, by a plan an admin writes
// (docs/migrations.md): which state each old state becomes, which fields are renamed or dropped,
// and values for fields the new version needs. Pure functions; the runtime stores the result.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "core/model.hpp"
#include "core/store.hpp"

namespace carepath {

// `fields:` in a plan: one old field renamed, or dropped with its value.
struct FieldMove {
  std::string field{};
  std::optional<std::string> rename{};  // the new name; nullopt when dropped
};

struct MigrationPlan {
  std::string name{};  // `migrate.name`, default "<workflow>-<from>-to-<to>"
  std::string workflow{};
  int from = 0;
  int to = 0;
  std::vector<std::pair<std::string, std::string>> states{};  // old -> new, in source order
  std::vector<FieldMove> fields{};
  boost::json::object set{};  // values for fields the case holds none for

  // The new state of `old_state`: its mapping, or the same name.
  std::string target_state(std::string_view old_state) const;
};

// What a plan does to one case. When `reasons` is not empty the case cannot move and stays as it
// is; the reasons name states and fields, never values.
struct CaseMigration {
  std::string from_state{};
  std::string to_state{};
  boost::json::object data{};          // the case data on the new version
  boost::json::object payload{};       // what changed, as a history payload (null: removed)
  std::vector<std::string> changed{};  // names of the fields that changed
  std::vector<std::string> reasons{};

  bool ok() const { return reasons.empty(); }
};

// Applies `plan` to `record` (a case on `from`): the state mapped, the fields renamed, dropped and
// set (set only where the case holds no value), then the result checked against `to`: the state
// exists, every field is declared with a valid value, and every required field holds one.
CaseMigration migrate_case_data(const MigrationPlan& plan, const Workflow& to,
                                const CaseRecord& record);

}  // namespace carepath
