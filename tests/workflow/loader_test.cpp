#include "workflow/loader.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/outcome.hpp"
#include "tests/support/shipped_steps.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/workflow/diagnostics.hpp"
#include "workflow/migration_plan.hpp"

namespace carepath::workflow {
namespace {

using test::dump;
using test::has_error;

// Every fixture below is invented; none of it describes a real child or home.

LoadResult load(std::string_view text) {
  return load_workflow_text(text, "test.yaml");
}

::testing::AssertionResult has_warning(const LoadResult& result, int line, int column,
                                       std::string_view text) {
  const bool found =
      std::any_of(result.diagnostics.begin(), result.diagnostics.end(), [&](const Diagnostic& d) {
        return d.severity == Severity::warning && d.line == line && d.column == column &&
               d.message.find(text) != std::string::npos;
      });
  if (!found) {
    return ::testing::AssertionFailure()
           << "no warning at " << line << ":" << column << " containing \"" << text << "\"\n"
           << dump(result);
  }
  return ::testing::AssertionSuccess();
}

std::size_t error_count(const LoadResult& result) {
  return static_cast<std::size_t>(
      std::count_if(result.diagnostics.begin(), result.diagnostics.end(),
                    [](const Diagnostic& d) { return d.severity == Severity::error; }));
}

// The smallest valid workflow; tests append to or edit it.
constexpr std::string_view kMinimal = R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker, supervisor]
fields:
  age: { type: integer, min: 0, max: 25 }
  cleared: { type: boolean }
states:
  intake:
    initial: true
    on:
      admitted: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

// ---------------------------------------------------------------------------------------------
// Shipped workflows (written against the first-party plugins)

const StepCatalog* shipped_catalog() {
  static const auto steps = test::shipped_steps();
  return steps.get();
}

TEST(WorkflowLoader, LoadsShippedAftercareWithNoDiagnostics) {
  const auto result =
      load_workflow_file(test::source_path("workflows/aftercare.yaml"), shipped_catalog());
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const Workflow& w = *result.workflow;
  EXPECT_EQ(w.name, "aftercare");
  EXPECT_EQ(w.version, 3);
  EXPECT_EQ(w.roles, (std::vector<std::string>{"caseworker", "counsellor", "medical_officer",
                                               "legal_officer", "supervisor"}));
  EXPECT_EQ(w.source_file, test::source_path("workflows/aftercare.yaml").string());
  EXPECT_TRUE(w.sha256.empty());  // the caller fills it
  EXPECT_EQ(w.states[w.initial_state()].name, "intake");
}

// The outcome words the reports count by (docs/reports.md): every final state of the reference
// workflow says how a case ended there, and the rows that mean a child restored, run away or
// dead say so wherever they are.
TEST(WorkflowLoader, ShippedAftercareMarksItsOutcomes) {
  const auto result =
      load_workflow_file(test::source_path("workflows/aftercare.yaml"), shipped_catalog());
  ASSERT_TRUE(result.ok()) << dump(result);
  const Workflow& w = *result.workflow;
  const std::map<std::string, Outcome> finals = {
      {"closed", Outcome::restored},         {"closed_missing", Outcome::ran_away},
      {"transferred", Outcome::transferred}, {"repatriated", Outcome::repatriated},
      {"aged_out", Outcome::aged_out},       {"died", Outcome::died}};
  for (const State& state : w.states) {
    SCOPED_TRACE(state.name);
    if (state.final) {
      ASSERT_TRUE(finals.count(state.name) == 1);
      EXPECT_EQ(state.outcome, finals.at(state.name));
      continue;
    }
    EXPECT_FALSE(state.outcome.has_value());
    // A death can be recorded wherever she is, by the supervisor only.
    const auto died = w.find_event("died");
    ASSERT_TRUE(died.has_value());
    const auto rows = w.rows(*w.find_state(state.name), *died);
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].counts_as, Outcome::died);
    EXPECT_EQ(rows[0].roles, (std::vector<std::string>{"supervisor"}));
    EXPECT_EQ(rows[0].required_fields, (std::vector<std::string>{"date_of_death"}));
  }
  std::map<std::string, std::set<std::string>> counted;  // event -> outcome names
  for (const Transition& t : w.transitions) {
    counted[w.events[t.on]].insert(t.counts_as ? std::string(outcome_name(*t.counts_as)) : "");
  }
  EXPECT_EQ(counted.at("went_missing"), (std::set<std::string>{"ran_away"}));
  EXPECT_EQ(counted.at("restored"), (std::set<std::string>{"restored"}));
  EXPECT_EQ(counted.at("transferred_out"), (std::set<std::string>{"transferred"}));
  EXPECT_EQ(counted.at("repatriated"), (std::set<std::string>{"repatriated"}));
  EXPECT_EQ(counted.at("aged_out"), (std::set<std::string>{"aged_out"}));
  EXPECT_EQ(counted.at("found"), (std::set<std::string>{""}));
}

TEST(WorkflowLoader, OutcomeWordsAreCheckedWithTheirPlace) {
  const std::string text = R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      left: { to: gone, roles: [caseworker], counts_as: restored }
      vanished: { to: gone, roles: [caseworker], counts_as: absconded }
  gone:
    final: true
    outcome: restored
)";
  const auto bad = load_workflow_text(text, "shelter.yaml");
  ASSERT_FALSE(bad.ok());
  ASSERT_EQ(bad.diagnostics.size(), 1U) << dump(bad);
  EXPECT_EQ(to_string(bad.diagnostics[0]),
            "shelter.yaml:10:61: error: unknown outcome 'absconded' in 'counts_as'; expected one "
            "of: restored, transferred, aged_out, ran_away, repatriated, died, other");
  std::string good = text;
  good.replace(good.find("absconded"), 9, "ran_away");
  const auto loaded = load_workflow_text(good, "shelter.yaml");
  ASSERT_TRUE(loaded.ok()) << dump(loaded);
  EXPECT_EQ(loaded.workflow->states[1].outcome, Outcome::restored);
  EXPECT_EQ(loaded.workflow->transitions[1].counts_as, Outcome::ran_away);
}

TEST(WorkflowLoader, LoadsShippedEducationSupportWithNoDiagnostics) {
  const auto result =
      load_workflow_file(test::source_path("workflows/education_support.yaml"), shipped_catalog());
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  EXPECT_EQ(result.workflow->name, "education_support");
  EXPECT_EQ(result.workflow->version, 1);
}

TEST(WorkflowLoader, ShippedWorkflowsStartWithTheSchemaLine) {
  for (const char* file : {"workflows/aftercare.yaml", "workflows/education_support.yaml"}) {
    std::ifstream in(test::source_path(file));
    std::string first;
    std::getline(in, first);
    EXPECT_EQ(first, "# yaml-language-server: $schema=../docs/workflow.schema.json") << file;
  }
}

// The path the integration tests drive a case along, row by row.
TEST(WorkflowLoader, AftercareHasTheLifecyclePath) {
  const auto result =
      load_workflow_file(test::source_path("workflows/aftercare.yaml"), shipped_catalog());
  ASSERT_TRUE(result.ok()) << dump(result);
  const Workflow& w = *result.workflow;
  struct Row {
    const char* from;
    const char* event;
    std::vector<std::string> to;  // one per row, in order
    std::vector<std::string> roles;
    std::vector<std::string> requires_fields;
    const char* guard;  // of the first row; "" for none
  };
  const std::vector<Row> path = {
      {"intake",
       "produced_before_cwc",
       {"assessment"},
       {"caseworker"},
       {"cwc_order_no", "age"},
       "age < 18"},
      {"assessment",
       "assessed",
       {"care_plan", "medical_hold"},
       {"counsellor", "caseworker"},
       {},
       "medical_cleared"},
      {"care_plan", "care_plan_approved", {"in_care"}, {"supervisor"}, {"icp_date"}, ""},
      {"in_care",
       "ready_for_reintegration",
       {"reintegration"},
       {"caseworker", "supervisor"},
       {},
       ""},
      {"reintegration",
       "restored",
       {"follow_up"},
       {"caseworker"},
       {"guardian_consent", "restoration_address"},
       "guardian_consent"},
      {"follow_up", "case_closed", {"closed"}, {"supervisor"}, {}, ""},
  };
  for (const Row& row : path) {
    SCOPED_TRACE(std::string(row.from) + " --" + row.event + "-->");
    const auto from = w.find_state(row.from);
    const auto event = w.find_event(row.event);
    ASSERT_TRUE(from && event);
    const auto rows = w.rows(*from, *event);
    ASSERT_EQ(rows.size(), row.to.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(w.states[rows[i].to].name, row.to[i]);
      EXPECT_EQ(rows[i].roles, row.roles);
    }
    EXPECT_EQ(rows[0].required_fields, row.requires_fields);
    EXPECT_EQ(rows[0].when ? rows[0].when->text() : "", row.guard);
    if (rows.size() > 1) {
      EXPECT_FALSE(rows[1].when);
    }
  }
  const auto closed = w.find_state("closed");
  ASSERT_TRUE(closed);
  EXPECT_TRUE(w.states[*closed].final);
  EXPECT_TRUE(w.rows_from(*closed).empty());
  for (const char* name : {"medical_hold", "missing", "transferred", "closed_missing",
                           "repatriation", "repatriated"}) {
    EXPECT_TRUE(w.find_state(name)) << name;
  }
  const Field* notes = w.find_field("counselling_notes");
  ASSERT_NE(notes, nullptr);
  EXPECT_EQ(notes->sensitivity, Sensitivity::privileged);
  EXPECT_EQ(notes->visible_to, (std::vector<std::string>{"counsellor", "supervisor"}));
  EXPECT_EQ(notes->editable_by, (std::vector<std::string>{"counsellor"}));
  const Field* home = w.find_field("home");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(home->type, FieldType::enumeration);
  EXPECT_EQ(home->values, (std::vector<std::string>{"umang", "umeed", "udaan"}));
}

// ---------------------------------------------------------------------------------------------
// The compiled table

TEST(WorkflowLoader, CompilesTheTableWithPositions) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 7
title: A shelter
roles: [caseworker, supervisor]
fields:
  age: { type: integer, min: 0, max: 25 }
  cleared: { type: boolean }
  home: { type: enum, values: [north, south], sensitivity: sensitive, visible_to: [supervisor] }
states:
  intake:
    initial: true
    on:
      assessed:
        - { to: care, roles: [caseworker], requires: [age], when: "cleared && age < 18" }
        - { to: hold, roles: [caseworker] }
      withdrawn:
        to: closed
        roles: [supervisor]
  hold:
    on:
      assessed: { to: care, roles: [caseworker] }
  care:
    on:
      left: { to: closed }
  closed:
    final: true
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const Workflow& w = *result.workflow;
  EXPECT_EQ(w.version, 7);
  EXPECT_EQ(w.title, "A shelter");
  EXPECT_EQ(w.source_file, "test.yaml");
  EXPECT_EQ(w.events, (std::vector<std::string>{"assessed", "withdrawn", "left"}));
  ASSERT_EQ(w.states.size(), 4U);
  EXPECT_EQ(w.states[0].name, "intake");
  EXPECT_EQ(w.states[0].pos.line, 11);
  EXPECT_EQ(w.states[0].pos.column, 3);
  EXPECT_TRUE(w.states[3].final);

  const auto intake = *w.find_state("intake");
  const auto assessed = *w.find_event("assessed");
  const auto rows = w.rows(intake, assessed);
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(w.states[rows[0].to].name, "care");
  EXPECT_EQ(rows[0].required_fields, std::vector<std::string>{"age"});
  ASSERT_TRUE(rows[0].when);
  EXPECT_EQ(rows[0].when->text(), "cleared && age < 18");
  EXPECT_EQ(rows[0].pos.line, 15);
  EXPECT_EQ(rows[0].pos.column, 11);
  EXPECT_EQ(w.states[rows[1].to].name, "hold");
  EXPECT_FALSE(rows[1].when);
  EXPECT_EQ(rows[1].pos.line, 16);

  const auto withdrawn = w.rows(intake, *w.find_event("withdrawn"));
  ASSERT_EQ(withdrawn.size(), 1U);
  EXPECT_EQ(withdrawn[0].pos.line, 17);  // a single transition is where its event is named
  EXPECT_EQ(withdrawn[0].pos.column, 7);
  EXPECT_EQ(w.rows_from(intake).size(), 3U);

  const auto hold = *w.find_state("hold");
  EXPECT_EQ(w.rows(hold, assessed).size(), 1U);
  EXPECT_TRUE(w.rows(hold, *w.find_event("left")).empty());
  const auto care = *w.find_state("care");
  ASSERT_EQ(w.rows_from(care).size(), 1U);
  EXPECT_TRUE(w.rows_from(care)[0].roles.empty());  // engine only

  const Field* home = w.find_field("home");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(home->sensitivity, Sensitivity::sensitive);
  EXPECT_EQ(home->visible_to, std::vector<std::string>{"supervisor"});
  const Field* age = w.find_field("age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(age->min, 0.0);
  EXPECT_EQ(age->max, 25.0);
}

// rows_from() is what a case's "next steps" show; it should read like the file even when an event
// shared by several states (went_missing) was first written in an earlier state.
TEST(WorkflowLoader, ListsEachStatesEventsInSourceOrder) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      assessed: { to: plan, roles: [caseworker] }
      went_missing: { to: missing, roles: [caseworker] }
  plan:
    on:
      approved: { to: closed, roles: [caseworker] }
      went_missing: { to: missing, roles: [caseworker] }
  missing:
    on:
      found: { to: intake, roles: [caseworker] }
      closed_missing: { to: closed, roles: [caseworker] }
  closed:
    final: true
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  const Workflow& w = *result.workflow;
  std::vector<std::string> plan_events;
  for (const Transition& t : w.rows_from(*w.find_state("plan"))) {
    plan_events.push_back(w.events[t.on]);
  }
  EXPECT_EQ(plan_events, (std::vector<std::string>{"approved", "went_missing"}));
  EXPECT_EQ(w.events.size(), 5U);
}

TEST(WorkflowLoader, ShippedWorkflowsListEventsInSourceOrder) {
  for (const char* file : {"workflows/aftercare.yaml", "workflows/education_support.yaml"}) {
    const auto result = load_workflow_file(test::source_path(file), shipped_catalog());
    ASSERT_TRUE(result.ok()) << dump(result);
    const Workflow& w = *result.workflow;
    for (StateId s = 0; s < w.states.size(); ++s) {
      int line = 0;
      for (const Transition& t : w.rows_from(s)) {
        EXPECT_GT(t.pos.line, line) << file << ": state " << w.states[s].name;
        line = t.pos.line;
      }
    }
  }
}

TEST(WorkflowLoader, KeepsTheSourceText) {
  const auto result = load(kMinimal);
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_EQ(result.source, kMinimal);
}

// Step calls are tested against a fake catalog in steps_test.cpp; without one, every step call is
// an error, and empty step lists are fine.
TEST(WorkflowLoader, RejectsStepCallsWhenNoPluginsAreLoaded) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on_enter: [ { step: medical.check } ]
    on_exit:
      - step: legal_aid.refer
        with: { provider: dlsa }
    on:
      admitted: { to: closed, roles: [caseworker], steps: [ { step: vocational.assess } ] }
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 8, 25, "unknown step type 'medical.check': no plugins are loaded"));
  EXPECT_TRUE(
      has_error(result, 10, 15, "unknown step type 'legal_aid.refer': no plugins are loaded"));
  EXPECT_TRUE(
      has_error(result, 13, 69, "unknown step type 'vocational.assess': no plugins are loaded"));
  EXPECT_EQ(error_count(result), 3U) << dump(result);
}

TEST(WorkflowLoader, LoadsEmptyStepListsWithoutPlugins) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on_enter: []
    on_exit: []
    on:
      admitted: { to: closed, roles: [caseworker], steps: [] }
  closed:
    final: true
    on_enter: []
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  for (const State& state : result.workflow->states) {
    EXPECT_TRUE(state.on_enter.empty());
    EXPECT_TRUE(state.on_exit.empty());
  }
  EXPECT_TRUE(result.workflow->transitions.at(0).steps.empty());
}

// ---------------------------------------------------------------------------------------------
// Diagnostics

TEST(WorkflowLoader, FormatsDiagnosticsLikeACompiler) {
  EXPECT_EQ(to_string(Diagnostic{"w.yaml", 3, 14, Severity::error, "unknown key 'too'"}),
            "w.yaml:3:14: error: unknown key 'too'");
  EXPECT_EQ(to_string(Diagnostic{"w.yaml", 9, 3, Severity::warning, "state 'x' is unreachable"}),
            "w.yaml:9:3: warning: state 'x' is unreachable");
}

TEST(WorkflowLoader, ReportsUnknownKeysAtEveryLevelWithSuggestions) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
titel: A shelter
roles: [caseworker]
fields:
  age: { type: integer, mni: 0 }
states:
  intake:
    initail: true
    on:
      admitted:
        too: closed
        roles: [caseworker]
        colour: red
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 4, 1,
                        "unknown key 'titel'; expected one of: carepath, workflow, version, "
                        "title, description, roles, fields, states, clocks, consents; did you mean "
                        "'title'?"));
  EXPECT_TRUE(has_error(result, 7, 25, "unknown key 'mni'"));
  EXPECT_TRUE(has_error(result, 7, 25, "did you mean 'min'?"));
  EXPECT_TRUE(has_error(result, 10, 5, "unknown key 'initail'"));
  EXPECT_TRUE(has_error(result, 10, 5, "did you mean 'initial'?"));
  EXPECT_TRUE(
      has_error(result, 13, 9,
                "unknown key 'too'; expected one of: to, roles, requires, "
                "requires_consent, when, steps, counts_as, description; did you mean 'to'?"));
  const auto colour = std::find_if(result.diagnostics.begin(), result.diagnostics.end(),
                                   [](const Diagnostic& d) { return d.line == 15; });
  ASSERT_NE(colour, result.diagnostics.end());
  EXPECT_EQ(colour->column, 9);
  EXPECT_EQ(colour->message.find("did you mean"), std::string::npos) << colour->message;
  // A misspelt required key is one mistake: no "has no 'to'" or "no initial state" on top.
  EXPECT_EQ(result.diagnostics.size(), 5U) << dump(result);
}

TEST(WorkflowLoader, RejectsDuplicateKeys) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
version: 2
fields:
  age: { type: integer }
  age: { type: string }
states:
  intake:
    initial: true
    on:
      admitted: { to: closed }
      admitted: { to: intake }
  closed:
    final: true
    final: false
  closed: {}
)");
  EXPECT_TRUE(has_error(result, 5, 1, "duplicate key 'version' (first at line 3)"));
  EXPECT_TRUE(has_error(result, 8, 3, "duplicate key 'age' (first at line 7)"));
  EXPECT_TRUE(has_error(result, 14, 7, "duplicate key 'admitted' (first at line 13)"));
  EXPECT_TRUE(has_error(result, 17, 5, "duplicate key 'final' (first at line 16)"));
  EXPECT_TRUE(has_error(result, 18, 3, "duplicate key 'closed' (first at line 15)"));
}

TEST(WorkflowLoader, RejectsAMissingFormatVersion) {
  const auto result = load(R"(workflow: shelter
version: 1
roles: [caseworker]
states:
  intake: { initial: true, on: { done: { to: closed } } }
  closed: { final: true }
)");
  EXPECT_TRUE(has_error(result, 1, 1, "missing required key 'carepath'"));
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

TEST(WorkflowLoader, RejectsAnotherFormatVersionAndNothingElse) {
  const auto result = load(R"(carepath: 2
workflow: shelter
steps: {}
)");
  EXPECT_TRUE(has_error(result, 1, 11, "unsupported format version 2; this engine reads"));
  EXPECT_EQ(result.diagnostics.size(), 1U) << dump(result);
}

TEST(WorkflowLoader, RejectsAFormatVersionThatIsNotAnInteger) {
  EXPECT_TRUE(has_error(load(std::string("carepath: \"1\"\n") + std::string(kMinimal.substr(12))),
                        1, 11, "expected an integer for 'carepath', found a quoted string"));
  EXPECT_TRUE(has_error(load(std::string("carepath: one\n") + std::string(kMinimal.substr(12))), 1,
                        11, "expected an integer for 'carepath', found 'one'"));
}

TEST(WorkflowLoader, RejectsBadNames) {
  const auto result = load(R"(carepath: 1
workflow: Shelter-Home
version: 1
roles: [caseworker, 2nd_worker]
fields:
  Age: { type: integer }
states:
  intake:
    initial: true
    on:
      admit-now: { to: closed }
  Closed:
    final: true
  closed:
    final: true
)");
  EXPECT_TRUE(
      has_error(result, 2, 11, "invalid workflow name 'Shelter-Home'; expected lower-case"));
  EXPECT_TRUE(has_error(result, 4, 21, "invalid role name '2nd_worker'"));
  EXPECT_TRUE(has_error(result, 6, 3, "invalid field name 'Age'"));
  EXPECT_TRUE(has_error(result, 11, 7, "invalid event name 'admit-now'"));
  EXPECT_TRUE(has_error(result, 12, 3, "invalid state name 'Closed'"));
}

TEST(WorkflowLoader, RejectsReservedEventNames) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      opened: { to: closed }
      updated: { to: closed }
      admitted: { to: closed }
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 9, 7, "event name 'opened' is reserved"));
  EXPECT_TRUE(has_error(result, 10, 7, "event name 'updated' is reserved"));
  EXPECT_EQ(error_count(result), 2U) << dump(result);
}

TEST(WorkflowLoader, RejectsMissingRequiredKeys) {
  const auto result = load(R"(carepath: 1
title: nothing else
)");
  EXPECT_TRUE(has_error(result, 1, 1, "missing required key 'workflow'"));
  EXPECT_TRUE(has_error(result, 1, 1, "missing required key 'version'"));
  EXPECT_TRUE(has_error(result, 1, 1, "missing required key 'roles'"));
  EXPECT_TRUE(has_error(result, 1, 1, "missing required key 'states'"));
}

TEST(WorkflowLoader, ReadsRequiredFields) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  track: { type: string, required: true }
  home: { type: string, required: false }
  age: { type: integer, required: "yes" }
states:
  intake: { initial: true }
)");
  EXPECT_TRUE(has_error(result, 8, 35, "expected true or false for 'required'")) << dump(result);
  const auto fixed = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  track: { type: string, required: true }
  home: { type: string }
states:
  intake: { initial: true }
)");
  ASSERT_TRUE(fixed.ok()) << dump(fixed);
  EXPECT_TRUE(fixed.workflow->find_field("track")->required);
  EXPECT_FALSE(fixed.workflow->find_field("home")->required);
}

TEST(WorkflowLoader, RejectsAWorkflowWithoutInitialState) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    on:
      admitted: { to: closed }
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 5, 1, "no initial state"));
}

TEST(WorkflowLoader, RejectsASecondInitialStateAtTheSecond) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      admitted: { to: closed }
  closed:
    final: true
    initial: true
)");
  EXPECT_TRUE(has_error(result, 12, 5,
                        "second initial state 'closed'; 'intake' (line 7) is already initial"));
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

TEST(WorkflowLoader, RejectsAWorkflowWithNoStates) {
  EXPECT_TRUE(has_error(load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states: {}
)"),
                        5, 9, "no states"));
  EXPECT_TRUE(has_error(load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
)"),
                        5, 1, "'states' has no value; expected a map of state names"));
}

TEST(WorkflowLoader, RejectsTransitionsToUnknownStates) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      admitted: { to: closd }
      moved:
        - { to: elsewhere }
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 9, 23,
                        "unknown state 'closd' in 'to'; expected one of: intake, closed; did you "
                        "mean 'closed'?"));
  EXPECT_TRUE(has_error(result, 11, 17, "unknown state 'elsewhere'"));
}

TEST(WorkflowLoader, RejectsATransitionWithoutTarget) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      admitted:
        roles: [caseworker]
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 10, 9, "transition 'admitted' of state 'intake' has no 'to'"));
}

TEST(WorkflowLoader, RejectsTransitionsOutOfAFinalState) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      admitted: { to: closed }
  closed:
    final: true
    on:
      reopened: { to: intake }
)");
  EXPECT_TRUE(has_error(result, 12, 5, "final state 'closed' cannot have transitions"));
}

TEST(WorkflowLoader, RejectsUndeclaredRoles) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker, supervisor]
fields:
  notes: { type: text, visible_to: [supervisor, counselor], editable_by: [nurse] }
states:
  intake:
    initial: true
    on:
      admitted: { to: closed, roles: [casewroker] }
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 6, 49,
                        "undeclared role 'counselor'; expected one of: "
                        "caseworker, supervisor"));
  EXPECT_TRUE(has_error(result, 6, 75, "undeclared role 'nurse'"));
  EXPECT_TRUE(has_error(result, 11, 39, "undeclared role 'casewroker'"));
  EXPECT_TRUE(has_error(result, 11, 39, "did you mean 'caseworker'?"));
}

TEST(WorkflowLoader, RejectsUndeclaredFieldsInRequires) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  cwc_order_no: { type: string }
states:
  intake:
    initial: true
    on:
      admitted:
        to: closed
        requires: [cwc_order_no, cwc_ordr_no, age]
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 13, 34, "undeclared field 'cwc_ordr_no' in 'requires'"));
  EXPECT_TRUE(has_error(result, 13, 34, "did you mean 'cwc_order_no'?"));
  EXPECT_TRUE(has_error(result, 13, 47, "undeclared field 'age'"));
  EXPECT_EQ(error_count(result), 2U) << dump(result);
}

TEST(WorkflowLoader, RejectsNamesListedTwice) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker, caseworker]
states:
  intake: { initial: true, on: { done: { to: closed } } }
  closed: { final: true }
)");
  EXPECT_TRUE(has_error(result, 4, 21, "role 'caseworker' is listed twice in 'roles'"));
}

// Guards: the position is the guard's own offset, mapped back through the YAML spelling.
constexpr std::string_view kGuardHeader = R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  age: { type: integer }
  name: { type: string }
  home: { type: enum, values: [north, south] }
states:
  closed: { final: true }
  intake:
    initial: true
    on:
)";  // the next line is line 14

LoadResult load_guards(std::string_view rows) {
  return load(std::string(kGuardHeader) + std::string(rows));
}

TEST(WorkflowLoader, PointsAtGuardErrorsInPlainScalars) {
  const auto result = load_guards("      a: { to: closed, when: age < 1 && agee > 2 }\n");
  EXPECT_TRUE(has_error(result, 14, 41, "invalid guard: unknown field 'agee'"));
}

TEST(WorkflowLoader, PointsAtGuardErrorsInDoubleQuotedScalars) {
  // Column 30 is the opening quote; the escaped quotes are two characters each in the file.
  const auto result = load_guards("      a: { to: closed, when: \"name == \\\"x\\\" && nope\" }\n");
  EXPECT_TRUE(has_error(result, 14, 48, "invalid guard: unknown field 'nope'"));
}

TEST(WorkflowLoader, PointsAtGuardErrorsInSingleQuotedScalars) {
  const auto result = load_guards("      a: { to: closed, when: 'home == ''west''' }\n");
  EXPECT_TRUE(has_error(result, 14, 39, "'west' is not a value of enum field 'home'"));
}

TEST(WorkflowLoader, PointsAtGuardErrorsInBlockScalars) {
  const auto result = load_guards(
      "      a:\n"
      "        to: closed\n"
      "        when: |\n"
      "          age > 1 &&\n"
      "            (nope)\n");
  EXPECT_TRUE(has_error(result, 18, 14, "invalid guard: unknown field 'nope'"));
}

TEST(WorkflowLoader, PointsAtGuardErrorsOnFoldedLines) {
  const auto result = load_guards(
      "      a:\n"
      "        to: closed\n"
      "        when: age > 1 &&\n"
      "          nope\n");
  EXPECT_TRUE(has_error(result, 17, 11, "invalid guard: unknown field 'nope'"));
}

TEST(WorkflowLoader, PointsAtGuardSyntaxErrors) {
  const auto result = load_guards(
      "      a: { to: closed, when: \"age > 3 && (age < 9\" }\n"
      "      b: { to: closed, when: age <> 3 }\n");
  // The missing ')' is reported at the end of the text: the closing quote.
  EXPECT_TRUE(has_error(result, 14, 50, "invalid guard: expected ')'"));
  EXPECT_TRUE(has_error(result, 15, 35, "invalid guard: expected a value, found '>'"));
}

TEST(WorkflowLoader, PointsAtGuardTypeErrors) {
  const auto result = load_guards(
      "      a: { to: closed, when: \"age == 'x'\" }\n"
      "      b: { to: closed, when: age }\n");
  EXPECT_TRUE(has_error(result, 14, 35, "invalid guard: cannot compare integer with string"));
  EXPECT_TRUE(has_error(result, 15, 30, "invalid guard: guard must be boolean"));
}

TEST(WorkflowLoader, CountsColumnsInCharactersNotBytes) {
  // "é" is two bytes in UTF-8 and one column in an editor.
  const auto result = load_guards("      a: { to: closed, when: \"name == 'é' && nope\" }\n");
  EXPECT_TRUE(has_error(result, 14, 46, "unknown field 'nope'"));
}

TEST(WorkflowLoader, ExplainsAGuardThatYamlReadAsATag) {
  const auto result = load_guards("      a: { to: closed, when: !done }\n");
  EXPECT_TRUE(has_error(result, 14, 30, "'when' carries the YAML tag '!done'"));
}

TEST(WorkflowLoader, RejectsAnEmptyGuard) {
  EXPECT_TRUE(
      has_error(load_guards("      a: { to: closed, when: \"\" }\n"), 14, 30, "empty guard"));
}

TEST(WorkflowLoader, RejectsBadFieldDefinitions) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  a: { type: strng }
  b: { type: boolean, min: 0 }
  c: { type: enum }
  d: { type: integer, min: 10, max: 5 }
  e: { type: string, values: [x] }
  f: { type: enum, values: [x, x, ""] }
  g: { type: string, min: -1 }
  h: { type: integer, max: 2.5 }
  i: { type: text, sensitivity: secret }
  j: { min: 1 }
  k: { type: date, max: 3 }
  l: { type: enum, values: [] }
states:
  intake: { initial: true, on: { done: { to: closed } } }
  closed: { final: true }
)");
  EXPECT_TRUE(has_error(result, 6, 14,
                        "unknown field type 'strng'; expected one of: string, text, "
                        "integer, number, boolean, date, datetime, enum, list; "
                        "did you mean 'string'?"));
  EXPECT_TRUE(has_error(result, 7, 23, "'min' is not allowed on boolean field 'b'"));
  EXPECT_TRUE(has_error(result, 8, 3, "enum field 'c' has no 'values'"));
  EXPECT_TRUE(has_error(result, 9, 37, "'max' (5) is less than 'min' (10) of field 'd'"));
  EXPECT_TRUE(has_error(result, 10, 22, "'values' is only allowed on enum fields"));
  EXPECT_TRUE(has_error(result, 11, 32, "enum value 'x' is listed twice"));
  EXPECT_TRUE(has_error(result, 11, 35, "expected a non-empty string as an enum value"));
  EXPECT_TRUE(has_error(result, 12, 27, "is a length; expected zero or more"));
  EXPECT_TRUE(has_error(result, 13, 28, "expected an integer for 'max' of integer field 'h'"));
  EXPECT_TRUE(has_error(result, 14, 33, "unknown sensitivity 'secret'"));
  EXPECT_TRUE(has_error(result, 15, 3, "field 'j' has no 'type'"));
  EXPECT_TRUE(has_error(result, 16, 20, "'max' is not allowed on date field 'k'"));
  EXPECT_TRUE(has_error(result, 17, 28, "'values' is empty"));
}

TEST(WorkflowLoader, DoesNotRepeatAFieldErrorWhereTheFieldIsUsed) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  age: { type: int }
states:
  intake:
    initial: true
    on:
      done: { to: closed, requires: [age], when: "age > 3" }
  closed: { final: true }
)");
  EXPECT_TRUE(has_error(result, 6, 16, "unknown field type 'int'"));
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

TEST(WorkflowLoader, RejectsWrongNodeKinds) {
  const auto result = load(R"(carepath: 1
workflow: [shelter]
version: 1.5
roles: caseworker
fields:
  - age
states:
  intake:
    initial: "true"
    final: yes
    on:
      done: closed
      moved: [closed]
  closed: [final]
)");
  EXPECT_TRUE(has_error(result, 2, 11, "expected a string for 'workflow', found a list"));
  EXPECT_TRUE(has_error(result, 3, 10, "expected an integer for 'version', found '1.5'"));
  EXPECT_TRUE(has_error(result, 4, 8, "expected a list of role names for 'roles', found a single"));
  EXPECT_TRUE(has_error(result, 6, 3,
                        "expected a map of field names to definitions for 'fields', "
                        "found a list"));
  EXPECT_TRUE(has_error(result, 9, 14, "expected true or false for 'initial', found a quoted"));
  EXPECT_TRUE(has_error(result, 10, 12, "expected true or false for 'final', found 'yes'"));
  EXPECT_TRUE(has_error(result, 12, 13,
                        "expected a transition (a map with 'to') or a list of "
                        "transitions for 'done', found a single value"));
  EXPECT_TRUE(has_error(result, 13, 15, "expected a transition (a map with 'to'), found a single"));
  EXPECT_TRUE(has_error(result, 14, 11, "expected a state (a map) for 'closed', found a list"));
}

TEST(WorkflowLoader, PointsAtTheKeyOfAnEmptyValue) {
  // yaml-cpp marks an empty value at the next token, two lines down here.
  const auto result = load(R"(carepath: 1
workflow: shelter
version:

roles: [caseworker]
states:
  intake: { initial: true, on: { done: { to: closed } } }
  closed: { final: true }
)");
  EXPECT_TRUE(has_error(result, 3, 1, "'version' has no value; expected an integer"));
}

TEST(WorkflowLoader, RejectsARootThatIsNotAMap) {
  EXPECT_TRUE(has_error(load("- carepath\n- 1\n"), 1, 1, "expected a map of workflow keys"));
}

TEST(WorkflowLoader, RejectsAnEmptyFile) {
  EXPECT_TRUE(has_error(load(""), 1, 1, "empty file"));
  EXPECT_TRUE(has_error(load("# just a comment\n\n"), 1, 1, "empty file"));
}

TEST(WorkflowLoader, RejectsInvalidYamlAtTheParsersPosition) {
  const auto result = load("carepath: 1\nworkflow: shelter\n  version: 1\n");
  EXPECT_TRUE(has_error(result, 3, 10, "invalid YAML: illegal map value"));
  EXPECT_EQ(result.diagnostics.size(), 1U) << dump(result);
  EXPECT_TRUE(has_error(load("carepath: 1\nroles: [a, b\n"), 3, 1,
                        "invalid YAML: end of sequence flow not found"));
}

TEST(WorkflowLoader, RejectsASecondDocument) {
  const auto result = load(std::string(kMinimal) + "---\ncarepath: 1\n");
  EXPECT_TRUE(has_error(result, 16, 1, "one YAML document"));
  // A trailing document marker with nothing after it is harmless.
  EXPECT_TRUE(load(std::string(kMinimal) + "---\n").ok());
}

// Found by fuzzing (fuzz/regressions/workflow_loader/): yaml-cpp 0.7's LoadAll never returns on
// a token no node can start with, growing its list of empty documents until memory runs out.
TEST(WorkflowLoader, RejectsATopLevelCommaInsteadOfLoopingForever) {
  EXPECT_TRUE(has_error(load(","), 1, 1, "invalid YAML: unexpected ','"));
  const auto after = load(std::string(kMinimal) + "---\n,\n");
  EXPECT_TRUE(has_error(after, 16, 1, "invalid YAML: unexpected ','")) << dump(after);
  EXPECT_EQ(after.diagnostics.size(), 1U) << dump(after);
  EXPECT_TRUE(has_error(load(std::string(",\0\0: 1\nworkflow: shelter\n", 25)), 1, 1,
                        "invalid YAML: unexpected ','"));
  // Trailing document markers still make empty documents, one per marker.
  EXPECT_TRUE(load(std::string(kMinimal) + "---\n---\n").ok());
}

TEST(MigrationPlan, RejectsATopLevelCommaInsteadOfLoopingForever) {
  const auto find = [](const std::string&, int) { return std::shared_ptr<const Workflow>(); };
  for (const std::string text : {",", "migrate: { workflow: home, from: 1, to: 2 }\n---\n,\n"}) {
    const auto plan = workflow::load_migration_plan(text, "p.yaml", find);
    ASSERT_FALSE(plan.ok()) << text;
    ASSERT_FALSE(plan.diagnostics.empty()) << text;
    EXPECT_EQ(plan.diagnostics.front().message, "invalid YAML: unexpected ','") << text;
  }
  const auto two = workflow::load_migration_plan("migrate: {}\n---\n", "p.yaml", find);
  EXPECT_TRUE(std::any_of(two.diagnostics.begin(), two.diagnostics.end(), [](const auto& d) {
    return d.message == "a plan is one YAML document; found a second one";
  }));
}

TEST(WorkflowLoader, CollectsEveryErrorInOnePassInFileOrder) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 0
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      admitted: { to: nowhere, roles: [nobody] }
  closed:
    final: true
    on: {}
)");
  ASSERT_EQ(result.diagnostics.size(), 4U) << dump(result);
  EXPECT_EQ(result.diagnostics[0].line, 3);
  EXPECT_EQ(result.diagnostics[1].line, 9);
  EXPECT_EQ(result.diagnostics[1].column, 23);
  EXPECT_EQ(result.diagnostics[2].line, 9);
  EXPECT_EQ(result.diagnostics[2].column, 40);
  EXPECT_EQ(result.diagnostics[3].line, 12);
  for (const Diagnostic& d : result.diagnostics) {
    EXPECT_EQ(d.file, "test.yaml");
  }
}

TEST(WorkflowLoader, HandlesAByteOrderMarkAndWindowsLineEnds) {
  std::string text = "\xEF\xBB\xBF";
  for (const char c : std::string(kMinimal)) {
    if (c == '\n') {
      text += '\r';
    }
    text += c;
  }
  const auto ok = load(text);
  EXPECT_TRUE(ok.ok()) << dump(ok);
  EXPECT_EQ(ok.source, text);
  text += "  extra: { fnial: true }\r\n";
  EXPECT_TRUE(has_error(load(text), 15, 12, "unknown key 'fnial'"));
}

// ---------------------------------------------------------------------------------------------
// Warnings: the workflow still loads

TEST(WorkflowLoader, WarnsAboutStatesThatCannotBeReached) {
  const auto result = load(std::string(kMinimal) + R"(  orphan:
    on:
      back: { to: intake }
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  ASSERT_EQ(result.diagnostics.size(), 1U) << dump(result);
  EXPECT_TRUE(has_warning(result, 15, 3,
                          "state 'orphan' cannot be reached from the initial state 'intake'"));
}

TEST(WorkflowLoader, WarnsAboutStatesThatCannotReachAFinalState) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      admitted: { to: closed }
      held: { to: limbo }
  limbo:
    on:
      again: { to: limbo }
  closed:
    final: true
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  ASSERT_EQ(result.diagnostics.size(), 1U) << dump(result);
  EXPECT_TRUE(has_warning(result, 11, 3, "state 'limbo' cannot reach a final state"));
  EXPECT_EQ(to_string(result.diagnostics[0]),
            "test.yaml:11:3: warning: state 'limbo' cannot reach a final state; a case there can "
            "never be closed");
}

TEST(WorkflowLoader, WarnsOnceWhenThereIsNoFinalState) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      admitted: { to: open }
  open: {}
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  ASSERT_EQ(result.diagnostics.size(), 1U) << dump(result);
  EXPECT_TRUE(has_warning(result, 5, 1, "no final state"));
}

// ---------------------------------------------------------------------------------------------
// Files

TEST(WorkflowLoader, ReportsAnUnreadableFileAtLineZero) {
  test::TempDir dir;
  const auto missing = load_workflow_file(dir / "missing.yaml");
  EXPECT_FALSE(missing.ok());
  ASSERT_EQ(missing.diagnostics.size(), 1U);
  EXPECT_EQ(missing.diagnostics[0].line, 0);
  EXPECT_EQ(missing.diagnostics[0].file, (dir / "missing.yaml").string());
  EXPECT_EQ(to_string(missing.diagnostics[0]),
            (dir / "missing.yaml").string() + ":0:0: error: workflow file does not exist");

  const auto directory = load_workflow_file(dir.path());
  ASSERT_EQ(directory.diagnostics.size(), 1U);
  EXPECT_EQ(directory.diagnostics[0].line, 0);
  EXPECT_NE(directory.diagnostics[0].message.find("is a directory"), std::string::npos);
}

TEST(WorkflowLoader, LoadsAFileAndNamesItInDiagnostics) {
  test::TempDir dir;
  {
    std::ofstream out(dir / "shelter.yaml");
    out << kMinimal << "  extra: { fnial: true }\n";
  }
  const auto result = load_workflow_file(dir / "shelter.yaml");
  ASSERT_EQ(result.diagnostics.size(), 1U) << dump(result);
  EXPECT_EQ(to_string(result.diagnostics[0]),
            (dir / "shelter.yaml").string() +
                ":15:12: error: unknown key 'fnial'; expected one of: initial, final, "
                "outcome, description, on_enter, on_exit, on, after, every; did you mean 'final'?");
}

}  // namespace
}  // namespace carepath::workflow

namespace carepath::workflow {
namespace {

TEST(WorkflowLoader, ChecksThePlacementAndAssignmentMarkers) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  home: { type: enum, values: [umang, udaan], placement: true }
  other_home: { type: string, placement: true }
  age: { type: integer, assignment: true }
  address: { type: string, sensitivity: identifying, placement: true, visible_to: [caseworker] }
  holder: { type: string, assignment: true }
states:
  intake: { initial: true, on: { done: { to: closed } } }
  closed: { final: true }
)");
  EXPECT_TRUE(has_error(result, 7, 15, "only one field may be the placement; 'home' already is"));
  EXPECT_TRUE(has_error(result, 8, 25,
                        "'assignment: true' needs a string or enum field; 'age' has type integer"));
  EXPECT_TRUE(has_error(result, 9, 54,
                        "kept unencrypted for access checks, and 'address' is "
                        "identifying"));
  EXPECT_TRUE(has_error(result, 10, 11, "only one field may be the assignment; 'age' already is"));
}

TEST(WorkflowLoader, WarnsAboutASensitiveFieldNoRoleMaySee) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  name: { type: string, sensitivity: identifying }
  notes: { type: text, sensitivity: privileged, editable_by: [caseworker] }
  age: { type: integer }
states:
  intake: { initial: true, on: { done: { to: closed } } }
  closed: { final: true }
)");
  ASSERT_TRUE(result.workflow) << (result.diagnostics.empty() ? "" : result.diagnostics[0].message);
  EXPECT_TRUE(has_warning(result, 6, 3, "field 'name' is identifying and names no roles"));
  std::size_t warnings = 0;
  for (const auto& d : result.diagnostics) {
    warnings += d.severity == Severity::warning ? 1 : 0;
  }
  EXPECT_EQ(warnings, 1U);  // notes is read by its editors; age is not sensitive
}

}  // namespace
}  // namespace carepath::workflow
