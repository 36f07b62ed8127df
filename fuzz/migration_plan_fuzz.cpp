// Fuzz target: migration plans (YAML or JSON) through load_migration_plan, checked against the
// test workflows (home 1 and 2 from tests/migration, aftercare 1 from tests/migration and 2 from
// workflows/); a plan that loads is applied to a case in every state of its old version, once
// empty and once with a value in every field.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/fields.hpp"
#include "core/migration.hpp"
#include "core/store.hpp"
#include "fuzz/fuzz_support.hpp"
#include "workflow/migration_plan.hpp"

namespace {

using namespace carepath;

const std::vector<std::shared_ptr<const Workflow>>& workflows() {
  static const auto loaded = [] {
    static const fuzz::AnyStepCatalog steps;
    std::vector<std::shared_ptr<const Workflow>> out;
    const auto dir = fuzz::source_dir();
    for (const auto& path :
         {dir / "tests/migration/v1/home.yaml", dir / "tests/migration/v2/home.yaml",
          dir / "tests/migration/aftercare-v1.yaml", dir / "tests/migration/aftercare-v2.yaml",
          dir / "workflows/aftercare.yaml"}) {
      auto r = workflow::load_workflow_file(path, &steps);
      FUZZ_CHECK(r.ok());
      out.push_back(r.workflow);
    }
    return out;
  }();
  return loaded;
}

std::shared_ptr<const Workflow> find(const std::string& name, int version) {
  std::shared_ptr<const Workflow> found;
  for (const auto& w : workflows()) {
    if (w->name == name &&
        (version == 0 ? (!found || w->version > found->version) : w->version == version)) {
      found = w;
    }
  }
  return found;
}

// A value for every field of `w`, each one its declaration accepts.
boost::json::object full_data(const Workflow& w) {
  boost::json::object data;
  for (const auto& f : w.fields) {
    switch (f.type) {
      case FieldType::string:
      case FieldType::text:
        data[f.name] = "invented";
        break;
      case FieldType::integer:
        data[f.name] = f.min ? static_cast<std::int64_t>(*f.min) : std::int64_t{1};
        break;
      case FieldType::number:
        data[f.name] = f.min ? *f.min : 1.5;
        break;
      case FieldType::boolean:
        data[f.name] = true;
        break;
      case FieldType::date:
        data[f.name] = "2026-01-01";
        break;
      case FieldType::datetime:
        data[f.name] = "2026-01-01T00:00:00Z";
        break;
      case FieldType::enumeration:
        if (!f.values.empty()) {
          data[f.name] = f.values.front();
        }
        break;
      case FieldType::list:
        data[f.name] = boost::json::array{};
        break;
    }
  }
  return data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  (void)workflows();
  const auto loaded = workflow::load_migration_plan(text, "plan.yaml", find);
  bool any_error = false;
  for (const auto& d : loaded.diagnostics) {
    FUZZ_CHECK(d.line >= 0 && d.column >= 0);
    FUZZ_CHECK(!d.message.empty());
    any_error = any_error || d.severity == workflow::Severity::error;
  }
  FUZZ_CHECK(loaded.ok() == !any_error);
  if (!loaded.ok()) {
    return 0;
  }
  FUZZ_CHECK(loaded.from != nullptr && loaded.to != nullptr);
  const Workflow& from = *loaded.from;
  boost::json::object full = full_data(from);
  if (!validate_payload(from, full).empty()) {
    full.clear();
  }
  static const boost::json::object kEmpty;
  for (const auto& state : from.states) {
    for (const boost::json::object* data :
         std::array<const boost::json::object*, 2>{&full, &kEmpty}) {
      CaseRecord record;
      record.id = "case-fuzz";
      record.workflow = from.name;
      record.workflow_version = from.version;
      record.state = state.name;
      record.data = *data;
      const auto moved = migrate_case_data(*loaded.plan, *loaded.to, record);
      if (moved.ok()) {
        FUZZ_CHECK(loaded.to->find_state(moved.to_state).has_value());
        FUZZ_CHECK(validate_payload(*loaded.to, moved.data).empty());
      }
    }
  }
  return 0;
}
