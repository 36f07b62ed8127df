#include "core/migration.hpp"

#include <algorithm>

#include "core/fields.hpp"

namespace carepath {

std::string MigrationPlan::target_state(std::string_view old_state) const {
  const auto it = std::find_if(states.begin(), states.end(),
                               [&](const auto& mapping) { return mapping.first == old_state; });
  return it != states.end() ? it->second : std::string(old_state);
}

CaseMigration migrate_case_data(const MigrationPlan& plan, const Workflow& to,
                                const CaseRecord& record) {
  CaseMigration m;
  m.from_state = record.state;
  m.to_state = plan.target_state(record.state);
  m.data = record.data;
  const auto note_change = [&](const std::string& field, boost::json::value value) {
    m.payload[field] = std::move(value);
    if (std::find(m.changed.begin(), m.changed.end(), field) == m.changed.end()) {
      m.changed.push_back(field);
    }
  };

  if (!to.find_state(m.to_state)) {
    m.reasons.push_back(
        m.to_state == record.state
            ? "state '" + record.state + "' has no mapping under 'states', and " + "version " +
                  std::to_string(to.version) + " has no state of that name"
            : "state '" + record.state + "' maps to '" + m.to_state + "', which version " +
                  std::to_string(to.version) + " does not declare");
  }

  // Renames and drops first, all from the old data: `a -> b, b -> a` swaps.
  boost::json::object moved;
  for (const FieldMove& move : plan.fields) {
    const auto* value = record.data.if_contains(move.field);
    if (value == nullptr) {
      continue;
    }
    m.data.erase(move.field);
    note_change(move.field, nullptr);
    if (move.rename && !value->is_null()) {
      moved[*move.rename] = *value;
    }
  }
  for (auto& [key, value] : moved) {
    const std::string name(key);
    const auto* existing = m.data.if_contains(name);
    if (existing != nullptr && !existing->is_null()) {
      m.reasons.push_back("field '" + name +
                          "' already holds a value, and the plan renames another field to it");
      continue;
    }
    m.data[name] = value;
    note_change(name, value);
  }
  for (const auto& [key, value] : plan.set) {
    const std::string name(key);
    const auto* existing = m.data.if_contains(name);
    if (existing == nullptr || existing->is_null()) {
      m.data[name] = value;
      note_change(name, value);
    }
  }

  // The result against the new version. Reasons name fields, never their values.
  const std::string version = "version " + std::to_string(to.version);
  for (const auto& [key, value] : m.data) {
    if (to.find_field(key) == nullptr) {
      m.reasons.push_back("field '" + std::string(key) + "' is not declared in " + version +
                          "; rename or drop it under 'fields'");
    }
  }
  for (const FieldProblem& p : validate_payload(to, m.data)) {
    if (p.reason != "unknown field") {
      m.reasons.push_back("field '" + p.field + "' is not valid in " + version + ": " + p.reason);
    }
  }
  for (const FieldProblem& p : missing_required(to, m.data)) {
    m.reasons.push_back("field '" + p.field + "' is required in " + version +
                        " and the case holds no value; give one under 'set'");
  }
  return m;
}

}  // namespace carepath
