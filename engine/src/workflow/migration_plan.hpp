// Migration plans (docs/migrations.md): the YAML an admin writes to move running cases from one
// version of a workflow to another, read and checked against both versions with file:line:col
// diagnostics, before any case is touched.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/migration.hpp"
#include "core/model.hpp"
#include "workflow/loader.hpp"

namespace carepath::workflow {

// The compiled version `version` of workflow `name` (0: its newest), or null when unknown.
using FindWorkflow =
    std::function<std::shared_ptr<const Workflow>(const std::string& name, int version)>;

struct PlanLoad {
  std::optional<MigrationPlan> plan{};  // nullopt when any error
  std::shared_ptr<const Workflow> from{};
  std::shared_ptr<const Workflow> to{};
  std::vector<Diagnostic> diagnostics{};  // errors and warnings in file order

  bool ok() const { return plan.has_value(); }
};

// Reads `text` (YAML; JSON is YAML too) and checks it against the two versions `find` knows:
// `migrate: {workflow, from, to, name}` (name optional), `states:` old -> new, `fields:` old ->
// {rename: new} or {drop: true}, `set:` field -> value. Errors: unknown keys, unknown workflows,
// versions, states and fields, a rename onto a field the new version does not declare, a `set`
// value the new version's field refuses. Warnings name what would keep cases from moving: an old
// state with no counterpart, an old field the new version lacks, a new required field without a
// value. Never throws (except std::bad_alloc). `file_name` is used in diagnostics.
PlanLoad load_migration_plan(std::string_view text, const std::string& file_name,
                             const FindWorkflow& find);

// The keys a plan allows at its top level (`where` = "plan"), in `migrate:` ("migrate") and in a
// field move ("field").
std::span<const std::string_view> plan_keys(std::string_view where);

}  // namespace carepath::workflow
