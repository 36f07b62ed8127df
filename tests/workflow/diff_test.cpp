#include "workflow/diff.hpp"

#include <memory>
#include <string>
#include <string_view>

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "tests/support/shipped_steps.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/workflow/diagnostics.hpp"
#include "workflow/loader.hpp"

namespace carepath::workflow {
namespace {

using test::dump;

// Invented; small enough that each test changes one thing with a string replace.
constexpr std::string_view kBase = R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker, supervisor]
fields:
  age: { type: integer, min: 0, max: 25 }
  risk: { type: enum, values: [low, high] }
  note: { type: string }
clocks:
  production:
    starts: { on_enter: intake }
    due: 24h
    stops: [ { on_event: produced } ]
states:
  intake:
    initial: true
    after:
      - { in: 2d, event: remind }
    on:
      produced: { to: assessment, roles: [caseworker], when: "age < 18" }
      remind: { to: intake }
  assessment:
    on:
      assessed:
        - { to: closed, roles: [caseworker], when: "risk == 'low'" }
        - { to: intake, roles: [caseworker] }
  closed:
    final: true
)";

std::shared_ptr<const Workflow> load(std::string_view text) {
  auto loaded = load_workflow_text(text, "shelter.yaml");
  EXPECT_TRUE(loaded.ok()) << dump(loaded);
  return loaded.workflow;
}

// kBase with `from` replaced by `to` (which must occur).
std::string edit(std::string_view from, std::string_view to,
                 std::string text = std::string(kBase)) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

WorkflowDiff diff_of(std::string_view new_text) {
  const auto a = load(kBase);
  const auto b = load(new_text);
  if (!a || !b) {
    ADD_FAILURE() << "did not load";
    return {};
  }
  return diff_workflows(*a, *b);
}

TEST(Diff, FindsNothingBetweenAWorkflowAndItself) {
  const auto d = diff_of(edit("version: 1", "version: 2"));
  EXPECT_FALSE(d.has_changes());
  EXPECT_TRUE(d.strands.empty());
  EXPECT_EQ(d.old_version, 1);
  EXPECT_EQ(d.new_version, 2);
  EXPECT_EQ(diff_to_text(d), "no changes\n");
}

TEST(Diff, FindsNothingBetweenTheShippedAftercareAndItself) {
  const auto steps = test::shipped_steps();
  auto loaded = load_workflow_file(test::source_path("workflows/aftercare.yaml"), steps.get());
  ASSERT_TRUE(loaded.ok()) << dump(loaded);
  const auto d = diff_workflows(*loaded.workflow, *loaded.workflow);
  EXPECT_FALSE(d.has_changes());
  EXPECT_EQ(diff_to_text(d), "no changes\n");
}

TEST(Diff, ReportsAddedStatesAndTransitions) {
  const auto d = diff_of(edit("  closed:\n",
                              "  review:\n    on:\n      reviewed: { to: closed }\n"
                              "  closed:\n"));
  ASSERT_EQ(d.states.size(), 1u);
  EXPECT_EQ(d.states[0].kind, ChangeKind::added);
  EXPECT_EQ(d.states[0].name, "review");
  ASSERT_EQ(d.transitions.size(), 1u);
  EXPECT_EQ(d.transitions[0].kind, ChangeKind::added);
  EXPECT_TRUE(d.strands.empty());
  const auto text = diff_to_text(d);
  EXPECT_NE(text.find("+ state review\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ transition review --reviewed--> closed\n"), std::string::npos) << text;
}

TEST(Diff, StrandsCasesInARemovedState) {
  const auto d2 =
      diff_of(edit("        - { to: closed, roles: [caseworker], when: \"risk == 'low'\" }\n"
                   "        - { to: intake, roles: [caseworker] }\n  closed:\n    final: true\n",
                   "        - { to: done, roles: [caseworker], when: \"risk == 'low'\" }\n"
                   "        - { to: intake, roles: [caseworker] }\n  done:\n    final: true\n"));
  ASSERT_EQ(d2.strands.size(), 1u);
  EXPECT_EQ(d2.strands[0].reason, Strand::Reason::state_removed);
  EXPECT_EQ(d2.strands[0].name, "closed");
  const auto text = diff_to_text(d2);
  EXPECT_NE(text.find("- state closed\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ state done\n"), std::string::npos) << text;
  EXPECT_NE(text.find("~ transition assessment --assessed--> closed: to closed -> done\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Would strand running cases:\n  state closed: removed"), std::string::npos)
      << text;
}

TEST(Diff, StrandsCasesInAStateWithNoWayOut) {
  const auto d =
      diff_of(edit("    on:\n      assessed:\n        - { to: closed, roles: [caseworker], when: "
                   "\"risk == 'low'\" }\n"
                   "        - { to: intake, roles: [caseworker] }\n",
                   ""));
  ASSERT_EQ(d.strands.size(), 1u);
  EXPECT_EQ(d.strands[0].reason, Strand::Reason::no_way_out);
  EXPECT_EQ(d.strands[0].name, "assessment");
  ASSERT_EQ(d.transitions.size(), 2u);
  EXPECT_EQ(d.transitions[0].kind, ChangeKind::removed);
  EXPECT_EQ(d.transitions[0].name, "assessment --assessed--> closed");
  EXPECT_EQ(d.transitions[1].name, "assessment --assessed--> intake (row 2)");
  ASSERT_TRUE(d.transitions[1].transition);
  EXPECT_EQ(d.transitions[1].transition->row, 1u);
  const auto text = diff_to_text(d);
  EXPECT_NE(text.find("- transition assessment --assessed--> closed\n"), std::string::npos) << text;
}

TEST(Diff, DoesNotStrandAStateThatBecameFinal) {
  const auto d = diff_of(edit(
      "  assessment:\n    on:\n      assessed:\n        - { to: closed, roles: [caseworker], when: "
      "\"risk == 'low'\" }\n        - { to: intake, roles: [caseworker] }\n",
      "  assessment:\n    final: true\n"));
  EXPECT_TRUE(d.strands.empty());
  ASSERT_EQ(d.states.size(), 1u);
  EXPECT_EQ(d.states[0].details, std::vector<std::string>{"final false -> true"});
}

TEST(Diff, ReportsChangedTransitionRows) {
  const auto d2 =
      diff_of(edit("produced: { to: assessment, roles: [caseworker], when: \"age < 18\" }",
                   "produced: { to: assessment, roles: [supervisor], requires: [note], "
                   "when: \"age < 16\" }"));
  ASSERT_EQ(d2.transitions.size(), 1u);
  EXPECT_EQ(d2.transitions[0].kind, ChangeKind::changed);
  EXPECT_EQ(d2.transitions[0].details,
            (std::vector<std::string>{"roles [caseworker] -> [supervisor]",
                                      "requires (none) -> [note]", "when age < 18 -> age < 16"}));
  ASSERT_EQ(d2.fields.size(), 1u);
  EXPECT_EQ(d2.fields[0].name, "note");
  EXPECT_EQ(d2.fields[0].details,
            std::vector<std::string>{"now required by intake --produced--> assessment"});
  EXPECT_TRUE(d2.strands.empty());
}

TEST(Diff, ReportsTimerChangesOnAState) {
  const auto d = diff_of(edit("{ in: 2d, event: remind }", "{ in: 3d, event: remind }"));
  ASSERT_EQ(d.states.size(), 1u);
  EXPECT_EQ(d.states[0].name, "intake");
  ASSERT_EQ(d.states[0].details.size(), 1u);
  EXPECT_NE(d.states[0].details[0].find("delay 2d -> 3d"), std::string::npos)
      << d.states[0].details[0];
  const auto gone = diff_of(edit("    after:\n      - { in: 2d, event: remind }\n", ""));
  ASSERT_EQ(gone.states.size(), 1u);
  ASSERT_EQ(gone.states[0].details.size(), 1u);
  EXPECT_NE(gone.states[0].details[0].find("removed (remind)"), std::string::npos)
      << gone.states[0].details[0];
}

TEST(Diff, StrandsCasesWhenAFieldTypeChanges) {
  const auto d = diff_of(edit("note: { type: string }", "note: { type: integer }"));
  ASSERT_EQ(d.fields.size(), 1u);
  EXPECT_EQ(d.fields[0].details, std::vector<std::string>{"type string -> integer"});
  ASSERT_EQ(d.strands.size(), 1u);
  EXPECT_EQ(d.strands[0].reason, Strand::Reason::field_type_changed);
  EXPECT_EQ(d.strands[0].name, "note");
  const auto text = diff_to_text(d);
  EXPECT_NE(text.find("~ field note: type string -> integer\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  field note: type string -> integer"), std::string::npos) << text;
}

TEST(Diff, StrandsCasesWhenEnumValuesAreRemovedButNotWhenAdded) {
  const auto added = diff_of(edit("values: [low, high]", "values: [low, high, urgent]"));
  ASSERT_EQ(added.fields.size(), 1u);
  EXPECT_EQ(added.fields[0].details, std::vector<std::string>{"enum values added: urgent"});
  EXPECT_TRUE(added.strands.empty());

  const auto removed = diff_of(edit("values: [low, high]", "values: [low, medium]"));
  ASSERT_EQ(removed.fields.size(), 1u);
  EXPECT_EQ(removed.fields[0].details,
            (std::vector<std::string>{"enum values added: medium", "enum values removed: high"}));
  ASSERT_EQ(removed.strands.size(), 1u);
  EXPECT_EQ(removed.strands[0].reason, Strand::Reason::enum_values_removed);
  EXPECT_EQ(removed.strands[0].name, "risk");
}

TEST(Diff, ReportsFieldLimitsSensitivityAndAccess) {
  const auto d = diff_of(edit("age: { type: integer, min: 0, max: 25 }",
                              "age: { type: integer, min: 0, max: 21, sensitivity: identifying, "
                              "visible_to: [caseworker, supervisor], "
                              "editable_by: [caseworker] }"));
  ASSERT_EQ(d.fields.size(), 1u);
  EXPECT_EQ(d.fields[0].details,
            (std::vector<std::string>{"max 25 -> 21", "sensitivity none -> identifying",
                                      "visible_to (none) -> [caseworker, supervisor]",
                                      "editable_by (none) -> [caseworker]"}));
  EXPECT_TRUE(d.strands.empty());
}

TEST(Diff, ReportsAddedAndRemovedFields) {
  const auto d = diff_of(edit("  note: { type: string }\n", "  home: { type: string }\n"));
  ASSERT_EQ(d.fields.size(), 2u);
  EXPECT_EQ(d.fields[0].kind, ChangeKind::removed);
  EXPECT_EQ(d.fields[0].name, "note");
  EXPECT_EQ(d.fields[1].kind, ChangeKind::added);
  EXPECT_EQ(d.fields[1].name, "home");
  const auto text = diff_to_text(d);
  EXPECT_NE(text.find("- field note\n+ field home\n"), std::string::npos) << text;
}

TEST(Diff, ReportsClockChanges) {
  const auto d = diff_of(edit("    due: 24h\n", "    due: 48h\n    warn_before: 6h\n"));
  ASSERT_EQ(d.clocks.size(), 1u);
  EXPECT_EQ(d.clocks[0].details,
            (std::vector<std::string>{"due 24h -> 48h", "warn_before (none) -> 6h"}));
  const auto gone =
      diff_of(edit("clocks:\n  production:\n    starts: { on_enter: intake }\n    due: 24h\n"
                   "    stops: [ { on_event: produced } ]\n",
                   ""));
  ASSERT_EQ(gone.clocks.size(), 1u);
  EXPECT_EQ(gone.clocks[0].kind, ChangeKind::removed);
  EXPECT_EQ(diff_to_text(gone), "- clock production\n");
}

TEST(Diff, ReportsAnAddedTimer) {
  const auto d = diff_of(edit("      - { in: 2d, event: remind }\n",
                              "      - { in: 2d, event: remind }\n"
                              "    every:\n      - { interval: 7d, event: remind }\n"));
  ASSERT_EQ(d.states.size(), 1u);
  ASSERT_EQ(d.states[0].details.size(), 1u);
  EXPECT_NE(d.states[0].details[0].find("intake/every/0 added (remind)"), std::string::npos)
      << d.states[0].details[0];
  EXPECT_TRUE(d.strands.empty());
}

TEST(Diff, ReportsClockTriggerAndExclusionChanges) {
  const auto d = diff_of(edit("    stops: [ { on_event: produced } ]\n",
                              "    stops: [ { on_enter: closed } ]\n"
                              "    excludes: { between: [remind, produced] }\n"));
  ASSERT_EQ(d.clocks.size(), 1u);
  EXPECT_EQ(d.clocks[0].kind, ChangeKind::changed);
  ASSERT_EQ(d.clocks[0].details.size(), 2u) << diff_to_text(d);
  EXPECT_NE(d.clocks[0].details[0].find("stops"), std::string::npos) << d.clocks[0].details[0];
  EXPECT_NE(d.clocks[0].details[1].find("excludes"), std::string::npos) << d.clocks[0].details[1];
}

TEST(Diff, ReportsChangedStepTypesOfATransition) {
  const auto steps = test::shipped_steps();
  const std::string with_step =
      edit("      remind: { to: intake }",
           "      remind:\n        to: intake\n        steps:\n"
           "          - { step: core.assign, with: { to: \"role:supervisor\", field: note } }");
  const std::string other_step =
      edit("      remind: { to: intake }",
           "      remind:\n        to: intake\n        steps:\n"
           "          - { step: core.set, with: { fields: { note: \"reminded\" } } }");
  auto a = load_workflow_text(with_step, "a.yaml", steps.get());
  auto b = load_workflow_text(other_step, "b.yaml", steps.get());
  ASSERT_TRUE(a.ok()) << dump(a);
  ASSERT_TRUE(b.ok()) << dump(b);
  const auto d = diff_workflows(*a.workflow, *b.workflow);
  ASSERT_EQ(d.transitions.size(), 1u) << diff_to_text(d);
  EXPECT_EQ(d.transitions[0].kind, ChangeKind::changed);
  const auto text = diff_to_text(d);
  EXPECT_NE(text.find("core.assign"), std::string::npos) << text;
  EXPECT_NE(text.find("core.set"), std::string::npos) << text;
}

TEST(Diff, RendersJsonForTools) {
  const auto d = diff_of(edit("note: { type: string }", "note: { type: integer }"));
  const auto json = diff_to_json(d);
  EXPECT_EQ(json.at("workflow").as_string(), "shelter");
  EXPECT_EQ(json.at("changed").as_bool(), true);
  const auto& fields = json.at("fields").as_array();
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].at("change").as_string(), "changed");
  EXPECT_EQ(fields[0].at("name").as_string(), "note");
  const auto& strands = json.at("strands").as_array();
  ASSERT_EQ(strands.size(), 1u);
  EXPECT_EQ(strands[0].at("reason").as_string(), "field_type_changed");
}

// The outcome words (docs/workflow-format.md, Outcomes) change what the reports count, so an
// outcome or a counts_as that is added, changed or removed is reported like any other change.
TEST(Diff, ReportsAddedChangedAndRemovedOutcomes) {
  const std::string restored =
      edit("  closed:\n    final: true\n", "  closed:\n    final: true\n    outcome: restored\n");
  const auto added = diff_of(restored);
  ASSERT_EQ(added.states.size(), 1u) << diff_to_text(added);
  EXPECT_EQ(added.states[0].kind, ChangeKind::changed);
  EXPECT_EQ(added.states[0].name, "closed");
  EXPECT_EQ(added.states[0].details, std::vector<std::string>{"outcome (none) -> restored"});
  EXPECT_TRUE(added.strands.empty());
  EXPECT_EQ(diff_to_text(added), "~ state closed: outcome (none) -> restored\n");

  const auto a = load(restored);
  const auto b = load(
      edit("  closed:\n    final: true\n", "  closed:\n    final: true\n    outcome: ran_away\n"));
  ASSERT_TRUE(a && b);
  const auto changed = diff_workflows(*a, *b);
  ASSERT_EQ(changed.states.size(), 1u) << diff_to_text(changed);
  EXPECT_EQ(changed.states[0].details, std::vector<std::string>{"outcome restored -> ran_away"});

  const auto removed = diff_workflows(*a, *load(kBase));
  ASSERT_EQ(removed.states.size(), 1u) << diff_to_text(removed);
  EXPECT_EQ(removed.states[0].details, std::vector<std::string>{"outcome restored -> (none)"});
  const auto json = diff_to_json(removed);
  EXPECT_EQ(json.at("changed").as_bool(), true);
  EXPECT_EQ(
      boost::json::serialize(json.at("states")),
      R"json([{"change":"changed","name":"closed","details":["outcome restored -> (none)"]}])json");
}

TEST(Diff, ReportsAddedChangedAndRemovedCountsAs) {
  const std::string row = "- { to: closed, roles: [caseworker], when: \"risk == 'low'\" }";
  const std::string restored = edit(
      row, "- { to: closed, roles: [caseworker], when: \"risk == 'low'\", counts_as: restored }");
  const auto added = diff_of(restored);
  EXPECT_TRUE(added.states.empty());
  ASSERT_EQ(added.transitions.size(), 1u) << diff_to_text(added);
  EXPECT_EQ(added.transitions[0].kind, ChangeKind::changed);
  EXPECT_EQ(added.transitions[0].name, "assessment --assessed--> closed");
  EXPECT_EQ(added.transitions[0].details, std::vector<std::string>{"counts_as (none) -> restored"});
  EXPECT_EQ(diff_to_text(added),
            "~ transition assessment --assessed--> closed: counts_as (none) -> restored\n");

  const auto a = load(restored);
  const auto b = load(
      edit(row, "- { to: closed, roles: [caseworker], when: \"risk == 'low'\", counts_as: died }"));
  ASSERT_TRUE(a && b);
  const auto changed = diff_workflows(*a, *b);
  ASSERT_EQ(changed.transitions.size(), 1u) << diff_to_text(changed);
  EXPECT_EQ(changed.transitions[0].details, std::vector<std::string>{"counts_as restored -> died"});

  const auto removed = diff_workflows(*a, *load(kBase));
  ASSERT_EQ(removed.transitions.size(), 1u) << diff_to_text(removed);
  EXPECT_EQ(removed.transitions[0].details,
            std::vector<std::string>{"counts_as restored -> (none)"});
  const auto json = diff_to_json(removed);
  const auto& transitions = json.at("transitions").as_array();
  ASSERT_EQ(transitions.size(), 1u);
  EXPECT_EQ(transitions[0].at("row"), 0);
  EXPECT_EQ(boost::json::serialize(transitions[0].at("details")),
            R"json(["counts_as restored -> (none)"])json");
}

// Version 3 of the shipped aftercare workflow only adds to version 2 (tests/migration holds
// version 2 as shipped): the outcome words, the aged_out and died rows and states and their
// fields. Nothing strands a running case, so migrations/aftercare-2-to-3.yaml maps nothing.
TEST(Diff, ShippedAftercareVersion3OnlyAddsToVersion2) {
  const auto steps = test::shipped_steps();
  auto v2 = load_workflow_file(test::source_path("tests/migration/aftercare-v2.yaml"), steps.get());
  auto v3 = load_workflow_file(test::source_path("workflows/aftercare.yaml"), steps.get());
  ASSERT_TRUE(v2.ok()) << dump(v2);
  ASSERT_TRUE(v3.ok()) << dump(v3);
  const auto d = diff_workflows(*v2.workflow, *v3.workflow);
  EXPECT_EQ(d.old_version, 2);
  EXPECT_EQ(d.new_version, 3);
  EXPECT_TRUE(d.strands.empty()) << diff_to_text(d);
  EXPECT_TRUE(d.clocks.empty()) << diff_to_text(d);
  for (const auto* changes : {&d.states, &d.transitions, &d.fields}) {
    for (const auto& c : *changes) {
      EXPECT_NE(c.kind, ChangeKind::removed) << c.name;
    }
  }
  const auto text = diff_to_text(d);
  EXPECT_NE(text.find("~ state closed: outcome (none) -> restored\n"), std::string::npos) << text;
  EXPECT_NE(text.find("~ state closed_missing: outcome (none) -> ran_away\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("+ state died\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ state aged_out\n"), std::string::npos) << text;
  EXPECT_NE(
      text.find(
          "~ transition reintegration --restored--> follow_up: counts_as (none) -> restored\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("~ transition in_care --went_missing--> missing: counts_as (none) -> "
                      "ran_away\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("+ transition in_care --aged_out--> aged_out\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ field date_of_death\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace carepath::workflow
