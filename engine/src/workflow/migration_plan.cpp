#include "workflow/migration_plan.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

#include <boost/json/object.hpp>
#include <yaml-cpp/yaml.h>

#include "core/fields.hpp"
#include "workflow/yaml_support.hpp"

namespace carepath::workflow {
namespace {

constexpr std::array<std::string_view, 4> kPlanKeys{"migrate", "states", "fields", "set"};
constexpr std::array<std::string_view, 4> kMigrateKeys{"workflow", "from", "to", "name"};
constexpr std::array<std::string_view, 2> kMoveKeys{"rename", "drop"};

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::vector<std::string> names_of(std::span<const std::string_view> keys) {
  return {keys.begin(), keys.end()};
}

std::vector<std::string> state_names(const Workflow& w) {
  std::vector<std::string> out;
  for (const State& s : w.states) {
    out.push_back(s.name);
  }
  return out;
}

std::vector<std::string> field_names(const Workflow& w) {
  std::vector<std::string> out;
  for (const Field& f : w.fields) {
    out.push_back(f.name);
  }
  return out;
}

bool plain(const YAML::Node& node) {
  return node.IsScalar() && node.Tag() == "?";
}

class PlanReader {
 public:
  PlanReader(std::string_view text, std::string file, const FindWorkflow& find)
      : text_(text), file_(std::move(file)), find_(find) {}

  PlanLoad read() {
    YAML::Node root;
    try {
      const auto documents = detail::load_documents(text_);
      if (!documents.later.empty()) {
        add(documents.later.front().mark, Severity::error,
            "a plan is one YAML document; found a second one");
      }
      root = documents.first;
    } catch (const YAML::Exception& e) {
      add(e.mark, Severity::error, "invalid YAML: " + e.msg);
      return finish();
    }
    if (!root.IsMap()) {
      add_at_start(
          "expected a migration plan: a map with 'migrate', and 'states', 'fields' or "
          "'set'; found " +
          std::string(detail::kind_name(root)));
      return finish();
    }
    const auto keys = entries(root, kPlanKeys);
    if (!keys.count("migrate")) {
      error(root,
            "the plan has no 'migrate'; expected migrate: { workflow: NAME, from: N, to: M }");
      return finish();
    }
    if (!read_migrate(root["migrate"])) {
      return finish();
    }
    if (keys.count("states")) {
      read_states(root["states"]);
    }
    if (keys.count("fields")) {
      read_fields(root["fields"]);
    }
    if (keys.count("set")) {
      read_set(root["set"]);
    }
    warn_about_stranded(root);
    return finish();
  }

 private:
  // The keys of `map`, each checked against `allowed` and reported once when unknown or repeated.
  std::map<std::string, YAML::Node> entries(const YAML::Node& map,
                                            std::span<const std::string_view> allowed) {
    std::map<std::string, YAML::Node> out;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        error(kv.first, "expected a key that is a single value");
        continue;
      }
      const std::string& key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        error(kv.first, "unknown key " + in_quotes(key) + "; " +
                            detail::expected_one_of(key, names_of(allowed)));
        continue;
      }
      if (!out.emplace(key, kv.second).second) {
        error(kv.first, "duplicate key " + in_quotes(key));
      }
    }
    return out;
  }

  std::optional<int> read_version(const std::map<std::string, YAML::Node>& keys,
                                  const YAML::Node& map, const std::string& key) {
    const auto it = keys.find(key);
    if (it == keys.end()) {
      error(map, "'migrate' has no " + in_quotes(key) + "; expected a version number");
      return std::nullopt;
    }
    const YAML::Node& node = it->second;
    int value = 0;
    if (plain(node)) {
      const std::string& s = node.Scalar();
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
      if (ec == std::errc() && end == s.data() + s.size() && value >= 1) {
        return value;
      }
    }
    error(node, "expected a version number (1, 2, ...) for " + in_quotes(key));
    return std::nullopt;
  }

  bool read_migrate(const YAML::Node& node) {
    if (!node.IsMap()) {
      error(node, "expected migrate: { workflow: NAME, from: N, to: M }; found " +
                      std::string(detail::kind_name(node)));
      return false;
    }
    const auto keys = entries(node, kMigrateKeys);
    const auto name_it = keys.find("workflow");
    if (name_it == keys.end() || !name_it->second.IsScalar()) {
      error(name_it == keys.end() ? node : name_it->second,
            "'migrate' needs 'workflow': the name of the workflow whose cases move");
      return false;
    }
    plan_.workflow = name_it->second.Scalar();
    const auto from = read_version(keys, node, "from");
    const auto to = read_version(keys, node, "to");
    if (!from || !to) {
      return false;
    }
    plan_.from = *from;
    plan_.to = *to;
    if (plan_.from == plan_.to) {
      error(keys.at("to"), "'from' and 'to' are the same version; a plan moves cases between two");
      return false;
    }
    if (const auto it = keys.find("name"); it != keys.end()) {
      if (!it->second.IsScalar() || it->second.Scalar().empty()) {
        error(it->second, "expected a name for the plan, such as aftercare-1-to-2");
      } else {
        plan_.name = it->second.Scalar();
      }
    }
    if (plan_.name.empty()) {
      plan_.name =
          plan_.workflow + "-" + std::to_string(plan_.from) + "-to-" + std::to_string(plan_.to);
    }
    from_ = find_(plan_.workflow, plan_.from);
    to_ = find_(plan_.workflow, plan_.to);
    if (!find_(plan_.workflow, 0) && !from_ && !to_) {
      error(name_it->second, "unknown workflow " + in_quotes(plan_.workflow));
      return false;
    }
    if (!from_) {
      error(keys.at("from"), "workflow " + in_quotes(plan_.workflow) + " has no version " +
                                 std::to_string(plan_.from));
    }
    if (!to_) {
      error(keys.at("to"), "workflow " + in_quotes(plan_.workflow) + " has no version " +
                               std::to_string(plan_.to) +
                               "; load it first (add the file to the workflows directory)");
    }
    return from_ && to_;
  }

  // Whether `w` declares field `name`; reports it at `at` when not.
  bool known_field(const YAML::Node& at, const Workflow& w, const std::string& name) {
    if (w.find_field(name) != nullptr) {
      return true;
    }
    error(at, "version " + std::to_string(w.version) + " has no field " + in_quotes(name) + "; " +
                  detail::expected_one_of(name, field_names(w)));
    return false;
  }

  // The field a `fields:` or `set:` key names, when `w` declares it; nullopt (reported) otherwise.
  std::optional<std::string> declared_field(const YAML::Node& key, const Workflow& w) {
    if (!key.IsScalar()) {
      error(key, "expected a field name");
      return std::nullopt;
    }
    if (!known_field(key, w, key.Scalar())) {
      return std::nullopt;
    }
    return key.Scalar();
  }

  // Whether `w` declares state `name`; reports it at `at` when not.
  bool known_state(const YAML::Node& at, const Workflow& w, const std::string& name) {
    if (w.find_state(name)) {
      return true;
    }
    error(at, "version " + std::to_string(w.version) + " has no state " + in_quotes(name) + "; " +
                  detail::expected_one_of(name, state_names(w)));
    return false;
  }

  // A section that maps names to something: false (reported unless empty) when it is not a map.
  bool is_section(const YAML::Node& node, const std::string& expected) {
    if (node.IsNull()) {
      return false;
    }
    if (!node.IsMap()) {
      error(node, expected);
      return false;
    }
    return true;
  }

  void read_states(const YAML::Node& node) {
    if (!is_section(node, "expected 'states' to map old state names to new ones")) {
      return;
    }
    for (const auto& kv : node) {
      if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
        error(kv.first.IsScalar() ? kv.second : kv.first,
              "expected old_state: new_state, two state names");
        continue;
      }
      const std::string& old_state = kv.first.Scalar();
      const std::string& new_state = kv.second.Scalar();
      bool ok = known_state(kv.first, *from_, old_state);
      ok = known_state(kv.second, *to_, new_state) && ok;
      const bool repeated = std::any_of(plan_.states.begin(), plan_.states.end(),
                                        [&](const auto& m) { return m.first == old_state; });
      if (repeated) {
        error(kv.first, "state " + in_quotes(old_state) + " is mapped twice");
        ok = false;
      }
      if (ok) {
        plan_.states.emplace_back(old_state, new_state);
      }
    }
  }

  void read_fields(const YAML::Node& node) {
    if (!is_section(node,
                    "expected 'fields' to map old field names to { rename: NEW } or { drop: "
                    "true }")) {
      return;
    }
    for (const auto& kv : node) {
      const auto field = declared_field(kv.first, *from_);
      if (!field) {
        continue;
      }
      if (!kv.second.IsMap()) {
        error(kv.second,
              "expected { rename: NEW_NAME } or { drop: true } for field " + in_quotes(*field));
        continue;
      }
      const auto keys = entries(kv.second, kMoveKeys);
      FieldMove move{*field, std::nullopt};
      if (keys.size() != 1) {
        if (keys.empty() || keys.size() == 2) {
          error(kv.second,
                "field " + in_quotes(*field) + " needs exactly one of 'rename' or 'drop'");
        }
        continue;
      }
      if (const auto it = keys.find("rename"); it != keys.end()) {
        if (!it->second.IsScalar()) {
          error(it->second, "expected the field's new name");
          continue;
        }
        const std::string& target = it->second.Scalar();
        if (!known_field(it->second, *to_, target)) {
          continue;
        }
        move.rename = target;
      } else {
        const YAML::Node& drop = keys.at("drop");
        if (!plain(drop) || drop.Scalar() != "true") {
          error(drop, "expected drop: true (the field's values are removed from every case)");
          continue;
        }
      }
      plan_.fields.push_back(std::move(move));
    }
  }

  void read_set(const YAML::Node& node) {
    if (!is_section(node, "expected 'set' to map field names to values")) {
      return;
    }
    for (const auto& kv : node) {
      const auto declared = declared_field(kv.first, *to_);
      if (!declared) {
        continue;
      }
      const std::string& field = *declared;
      auto value = detail::node_as_json(kv.second);
      if (!value) {
        error(kv.second,
              "the value for " + in_quotes(field) + " is not valid: " + value.error().message);
        continue;
      }
      if (value->is_null()) {
        error(kv.second, "expected a value for " + in_quotes(field) + "; found nothing");
        continue;
      }
      boost::json::object one{{field, *value}};
      const auto problems = validate_payload(*to_, one);
      if (!problems.empty()) {
        // The reason names the rule, never the value: a plan may set a sensitive field.
        error(kv.second, "the value for " + in_quotes(field) + " is not valid in version " +
                             std::to_string(plan_.to) + ": " + problems.front().reason);
        continue;
      }
      plan_.set[field] = std::move(*value);
    }
  }

  // Warnings for what the dry run would report case by case.
  void warn_about_stranded(const YAML::Node& root) {
    if (!from_ || !to_) {
      return;
    }
    for (const State& s : from_->states) {
      const std::string target = plan_.target_state(s.name);
      if (!to_->find_state(target)) {
        warning(root, "cases in state " + in_quotes(s.name) + " cannot move: version " +
                          std::to_string(plan_.to) + " has no state of that name; map it under " +
                          "'states'");
      }
    }
    for (const Field& f : from_->fields) {
      const bool moved = std::any_of(plan_.fields.begin(), plan_.fields.end(),
                                     [&](const FieldMove& m) { return m.field == f.name; });
      if (!moved && to_->find_field(f.name) == nullptr) {
        warning(root, "field " + in_quotes(f.name) + " is not in version " +
                          std::to_string(plan_.to) +
                          "; cases holding a value for it cannot move: rename or drop it under "
                          "'fields'");
      }
    }
    for (const Field& f : to_->fields) {
      const bool given =
          plan_.set.contains(f.name) || from_->find_field(f.name) != nullptr ||
          std::any_of(plan_.fields.begin(), plan_.fields.end(),
                      [&](const FieldMove& m) { return m.rename && *m.rename == f.name; });
      if (f.required && !given) {
        warning(root, "field " + in_quotes(f.name) + " is required in version " +
                          std::to_string(plan_.to) +
                          " and no case can hold it yet; give it a value under 'set'");
      }
    }
  }

  void add(const YAML::Mark& mark, Severity severity, std::string message) {
    const SourcePos pos = detail::position_in(text_, mark);
    diagnostics_.push_back(Diagnostic{file_, pos.line, pos.column, severity, std::move(message)});
  }
  void add_at_start(std::string message) {
    diagnostics_.push_back(Diagnostic{file_, 1, 1, Severity::error, std::move(message)});
  }
  void error(const YAML::Node& at, std::string message) {
    add(at.Mark(), Severity::error, std::move(message));
  }
  void warning(const YAML::Node& at, std::string message) {
    add(at.Mark(), Severity::warning, std::move(message));
  }

  PlanLoad finish() {
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                       return a.line != b.line ? a.line < b.line : a.column < b.column;
                     });
    PlanLoad out;
    const bool failed =
        std::any_of(diagnostics_.begin(), diagnostics_.end(),
                    [](const Diagnostic& d) { return d.severity == Severity::error; });
    if (!failed) {
      out.plan = std::move(plan_);
      out.from = from_;
      out.to = to_;
    }
    out.diagnostics = std::move(diagnostics_);
    return out;
  }

  std::string_view text_;
  std::string file_;
  const FindWorkflow& find_;
  MigrationPlan plan_{};
  std::shared_ptr<const Workflow> from_{};
  std::shared_ptr<const Workflow> to_{};
  std::vector<Diagnostic> diagnostics_{};
};

}  // namespace

PlanLoad load_migration_plan(std::string_view text, const std::string& file_name,
                             const FindWorkflow& find) {
  return PlanReader(text, file_name, find).read();
}

std::span<const std::string_view> plan_keys(std::string_view where) {
  if (where == "plan") {
    return kPlanKeys;
  }
  if (where == "migrate") {
    return kMigrateKeys;
  }
  if (where == "field") {
    return kMoveKeys;
  }
  return {};
}

}  // namespace carepath::workflow
