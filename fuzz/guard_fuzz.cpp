// Fuzz target: `when` guards through the parser, the type checker and the evaluator.
//
// Input: the guard's text, optionally followed by a line "---" and a JSON object of case data.
// The guard is compiled against the fields below (every type, and the names the shipped
// workflows' guards use) and evaluated against three fixed data sets (empty, typical, extreme
// values) and the given data when the fields accept it, on two days.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>

#include "core/fields.hpp"
#include "core/guard.hpp"
#include "core/time.hpp"
#include "fuzz/fuzz_support.hpp"
#include "workflow/loader.hpp"

namespace {

using namespace carepath;

constexpr std::string_view kFields = R"(carepath: 1
workflow: guards
version: 1
roles: [caseworker]
fields:
  age: { type: integer }
  small: { type: integer, min: -5, max: 5 }
  score: { type: number }
  attendance_percent: { type: number, min: 0, max: 100 }
  standard: { type: integer, min: 1, max: 12 }
  name: { type: string }
  notes: { type: text }
  home: { type: enum, values: [umang, umeed, udaan] }
  risk: { type: enum, values: [low, high] }
  track: { type: enum, values: [school, vocational, higher_education] }
  vocational_track: { type: string }
  medical_cleared: { type: boolean }
  cleared: { type: boolean }
  consent: { type: boolean }
  guardian_consent: { type: boolean }
  mother_consent: { type: boolean }
  date_of_birth: { type: date }
  born_on: { type: date }
  admitted_on: { type: date }
  missing_since: { type: date }
  icp_date: { type: date }
  last_visit: { type: datetime }
  tags: { type: list }
states:
  open:
    initial: true
    on:
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

const Workflow& fields() {
  static const auto loaded = [] {
    auto r = workflow::load_workflow_text(kFields, "guards.yaml");
    FUZZ_CHECK(r.ok());
    return r.workflow;
  }();
  return *loaded;
}

const boost::json::object& typical() {
  static const boost::json::object data = boost::json::parse(R"({
    "age": 15, "small": 0, "score": 2.5, "attendance_percent": 72.5, "standard": 9,
    "name": "Invented Name", "notes": "invented note", "home": "umang", "risk": "low",
    "track": "vocational", "vocational_track": "tailoring", "medical_cleared": true,
    "cleared": false, "consent": true, "guardian_consent": false, "mother_consent": true,
    "date_of_birth": "2010-05-05", "born_on": "2011-02-28", "admitted_on": "2026-01-01",
    "missing_since": "2025-06-30", "icp_date": "2026-02-01",
    "last_visit": "2026-02-01T10:00:00Z", "tags": ["a", "b"]})")
                                              .as_object();
  return data;
}

const boost::json::object& extreme() {
  static const boost::json::object data = boost::json::parse(R"({
    "age": 9223372036854775807, "small": -5, "score": -1.7976931348623157e308,
    "attendance_percent": 0, "standard": 12, "name": "", "notes": "", "home": "udaan",
    "risk": "high", "track": "higher_education", "vocational_track": "",
    "medical_cleared": false, "cleared": true, "consent": false, "guardian_consent": true,
    "mother_consent": false, "date_of_birth": "0001-01-01", "born_on": "9999-12-31",
    "admitted_on": "1970-01-01", "missing_since": "0001-01-01", "icp_date": "9999-12-31",
    "last_visit": "0001-01-01T00:00:00Z", "tags": []})")
                                              .as_object();
  return data;
}

void evaluate(const Guard& guard, const boost::json::object& data, std::int64_t today) {
  const GuardContext context{data, today};
  const GuardOutcome first = guard.evaluate(context);
  const GuardOutcome again = guard.evaluate(context);
  FUZZ_CHECK(first.value == again.value && first.unset_field == again.unset_field);
  if (!first.unset_field.empty()) {
    // An unset field is one the guard reads, and unset means false.
    bool read = false;
    for (const auto& f : guard.fields()) {
      read = read || f == first.unset_field;
    }
    FUZZ_CHECK(read);
    FUZZ_CHECK(!data.contains(first.unset_field));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  const Workflow& w = fields();
  std::string_view text = input;
  std::string_view data_text;
  if (const auto split = input.find("\n---\n"); split != std::string_view::npos) {
    text = input.substr(0, split);
    data_text = input.substr(split + 5);
  }

  const FieldLookup lookup = [&w](std::string_view name) { return w.find_field(name); };
  auto guard = Guard::compile(text, lookup);
  if (!guard) {
    const Error error = guard.error();
    FUZZ_CHECK(error.code == Errc::invalid_argument);
    FUZZ_CHECK(!error.message.empty());
    const auto* offset = error.details.if_contains("offset");
    FUZZ_CHECK(offset != nullptr && offset->is_number());
    const auto at = offset->to_number<std::int64_t>();
    FUZZ_CHECK(at >= 0 && static_cast<std::size_t>(at) <= text.size());
    return 0;
  }
  FUZZ_CHECK(guard->text() == text);
  for (const auto& f : guard->fields()) {
    FUZZ_CHECK(w.find_field(f) != nullptr);
  }

  static const std::int64_t kToday = *parse_date("2026-03-01");
  static const std::int64_t kFarDay = *parse_date("9999-12-31");
  static const boost::json::object kEmpty;
  // The fixed data sets are data the runtime could hold.
  static const bool kChecked = [&w] {
    FUZZ_CHECK(validate_payload(w, typical()).empty());
    FUZZ_CHECK(validate_payload(w, extreme()).empty());
    return true;
  }();
  (void)kChecked;
  for (const std::int64_t day : {kToday, kFarDay}) {
    evaluate(*guard, kEmpty, day);
    evaluate(*guard, typical(), day);
    evaluate(*guard, extreme(), day);
  }

  // Case data as the runtime would hold it: accepted by the fields, without nulls (unset).
  if (!data_text.empty()) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(data_text, ec);
    if (!ec && value.is_object()) {
      boost::json::object data = value.as_object();
      if (validate_payload(w, data).empty()) {
        for (auto it = data.begin(); it != data.end();) {
          it = it->value().is_null() ? data.erase(it) : it + 1;
        }
        evaluate(*guard, data, kToday);
      }
    }
  }
  return 0;
}
