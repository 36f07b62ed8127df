#include "workflow/graph.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "tests/support/shipped_steps.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/workflow/diagnostics.hpp"
#include "workflow/loader.hpp"

namespace carepath::workflow {
namespace {

using test::dump;

// Invented; guards chosen for the characters that each format has to escape.
constexpr std::string_view kWorkflow = R"(carepath: 1
workflow: shelter
version: 3
title: Shelter "aftercare" <test>
roles: [caseworker, supervisor]
fields:
  age: { type: integer }
  risk: { type: enum, values: [low, high] }
  note: { type: string }
  review_date: { type: date }
  date_of_birth: { type: date }
clocks:
  production:
    title: Within a day; journeys excluded
    starts: { on_enter: intake }
    due: 24h
    excludes: { between: [journey_started, journey_ended] }
    stops: [ { on_event: produced }, { on_enter: closed } ]
states:
  intake:
    initial: true
    on:
      produced:
        to: review
        roles: [caseworker, supervisor]
        when: "age < 18 && risk == \"high\" && note != 'a;b:c#d%%e\\\\f'"
      journey_started: { to: intake, roles: [caseworker] }
      journey_ended: { to: intake, roles: [caseworker] }
  review:
    after:
      - { in: 90d, event: follow_up_due }
      - { at: review_date, event: review_due }
    every:
      - { interval: 6mo, first: 18mo, event: visit_due, until: "years_since(date_of_birth) >= 21" }
    on:
      follow_up_due: { to: review }
      review_due: { to: review }
      visit_due: { to: review }
      close: { to: closed, roles: [supervisor] }
  closed:
    final: true
)";

std::shared_ptr<const Workflow> load_invented() {
  auto loaded = load_workflow_text(kWorkflow, "shelter.yaml");
  EXPECT_TRUE(loaded.ok()) << dump(loaded);
  return loaded.workflow;
}

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Compares `actual` with the golden file, or rewrites the file when CP_UPDATE_GOLDEN=1.
void expect_golden(const std::string& actual, const std::string& name) {
  const auto path = test::source_path("tests/workflow/golden") / name;
  const char* update = std::getenv("CP_UPDATE_GOLDEN");
  if (update != nullptr && std::string_view(update) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path))
      << path << " is missing; run with CP_UPDATE_GOLDEN=1 to write it";
  EXPECT_EQ(actual, test::read_file(path))
      << "the diagram of workflows/aftercare.yaml changed; if that is intended, run the test "
         "with CP_UPDATE_GOLDEN=1 and review the diff of "
      << path;
}

std::shared_ptr<const Workflow> load_aftercare() {
  static const auto steps = test::shipped_steps();
  auto loaded = load_workflow_file(test::source_path("workflows/aftercare.yaml"), steps.get());
  EXPECT_TRUE(loaded.ok()) << dump(loaded);
  return loaded.workflow;
}

TEST(Graph, AftercareMermaidMatchesGolden) {
  const auto workflow = load_aftercare();
  ASSERT_TRUE(workflow);
  expect_golden(to_mermaid(*workflow), "aftercare.mmd");
}

TEST(Graph, AftercareDotMatchesGolden) {
  const auto workflow = load_aftercare();
  ASSERT_TRUE(workflow);
  expect_golden(to_dot(*workflow), "aftercare.dot");
}

TEST(Graph, OutputIsDeterministic) {
  const auto a = load_invented();
  const auto b = load_invented();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(to_mermaid(*a), to_mermaid(*b));
  EXPECT_EQ(to_dot(*a), to_dot(*b));
}

TEST(Graph, MermaidShowsStatesEdgesAndFinalStates) {
  const auto workflow = load_invented();
  ASSERT_TRUE(workflow);
  const std::string m = to_mermaid(*workflow);
  EXPECT_TRUE(
      m.starts_with("---\ntitle: \"Shelter 'aftercare' <test> (shelter v3)\"\n---\n"
                    "stateDiagram-v2\n"))
      << m;
  EXPECT_TRUE(has(m, "\n  [*] --> intake\n")) << m;
  EXPECT_TRUE(has(m, "\n  intake --> intake : journey_started [caseworker]\n")) << m;
  EXPECT_TRUE(has(m, "\n  review --> closed : close [supervisor]\n")) << m;
  EXPECT_TRUE(has(m, "\n  closed --> [*]\n")) << m;
  // Rows no role may fire are the engine's.
  EXPECT_TRUE(has(m, "\n  review --> review : follow_up_due [engine]\n")) << m;
}

TEST(Graph, MermaidEscapesGuardText) {
  const auto workflow = load_invented();
  ASSERT_TRUE(workflow);
  const std::string m = to_mermaid(*workflow);
  // Every character the state-diagram lexer or HTML would take as syntax is an entity code; the
  // label stays on one line and has no ':' or ';' after the one that starts it.
  EXPECT_TRUE(has(m,
                  "\n  intake --> review : produced [caseworker, supervisor] when age #lt; 18 "
                  "#amp;#amp; risk == #quot;high#quot; #amp;#amp; note != "
                  "'a#59;b#58;c#35;d#37;#37;e\\\\f'\n"))
      << m;
}

TEST(Graph, MermaidNotesListTimersAndClocks) {
  const auto workflow = load_invented();
  ASSERT_TRUE(workflow);
  const std::string m = to_mermaid(*workflow);
  EXPECT_TRUE(has(m,
                  "  note right of review\n"
                  "    after 90d: follow_up_due\n"
                  "    on review_date: review_due\n"
                  "    every 6mo from 18mo: visit_due until years_since(date_of_birth) #gt;= 21\n"
                  "  end note\n"))
      << m;
  EXPECT_TRUE(has(m,
                  "  note left of intake\n"
                  "    Statutory clocks\n"
                  "    production - Within a day#59; journeys excluded\n"
                  "    due 24h from entering intake to produced or entering closed, "
                  "excluding journey_started to journey_ended\n"
                  "  end note\n"))
      << m;
}

TEST(Graph, MermaidAliasesStatesNamedLikeItsKeywords) {
  const auto loaded = load_workflow_text(R"(carepath: 1
workflow: words
version: 1
roles: [caseworker]
states:
  default_review:
    initial: true
    on:
      go: { to: note, roles: [caseworker] }
  note:
    final: true
)",
                                         "words.yaml");
  ASSERT_TRUE(loaded.ok()) << dump(loaded);
  const std::string m = to_mermaid(*loaded.workflow);
  EXPECT_TRUE(has(m, "  state \"default_review\" as S_default_review\n")) << m;
  EXPECT_TRUE(has(m, "  state \"note\" as S_note\n")) << m;
  EXPECT_TRUE(has(m, "  S_default_review --> S_note : go [caseworker]\n")) << m;
  EXPECT_TRUE(has(m, "  S_note --> [*]\n")) << m;
}

TEST(Graph, DotShowsStatesEdgesTimersAndClocks) {
  const auto workflow = load_invented();
  ASSERT_TRUE(workflow);
  const std::string d = to_dot(*workflow);
  EXPECT_TRUE(d.starts_with("digraph \"shelter\" {\n")) << d;
  EXPECT_TRUE(has(d, "label=\"Shelter \\\"aftercare\\\" <test> (shelter v3)\"")) << d;
  EXPECT_TRUE(has(d, "  \"[*]\" -> \"intake\";\n")) << d;
  EXPECT_TRUE(has(d, "  \"closed\" [label=\"closed\", peripheries=2];\n")) << d;
  EXPECT_TRUE(has(d,
                  "  \"review\" [label=\"review\\n"
                  "after 90d: follow_up_due\\l"
                  "on review_date: review_due\\l"
                  "every 6mo from 18mo: visit_due until years_since(date_of_birth) >= 21\\l\"];\n"))
      << d;
  // Engine-only rows are dashed; rows people fire are not.
  // A state's loops are one edge, a line per row.
  EXPECT_TRUE(has(d,
                  "  \"review\" -> \"review\" [label=\"follow_up_due [engine]\\l"
                  "review_due [engine]\\lvisit_due [engine]\\l\", style=dashed];\n"))
      << d;
  EXPECT_TRUE(has(d,
                  "  \"intake\" -> \"intake\" [label=\"journey_started [caseworker]\\l"
                  "journey_ended [caseworker]\\l\"];\n"))
      << d;
  EXPECT_TRUE(has(d, "  \"review\" -> \"closed\" [label=\"close [supervisor]\"];\n")) << d;
  EXPECT_TRUE(has(d, "subgraph \"cluster_clocks\"")) << d;
  EXPECT_TRUE(has(d,
                  "production - Within a day; journeys excluded\\l    due 24h from entering "
                  "intake to produced or entering closed, excluding journey_started to "
                  "journey_ended\\l"))
      << d;
  EXPECT_TRUE(d.ends_with("}\n")) << d;
}

TEST(Graph, DotEscapesQuotesAndBackslashesOnly) {
  const auto workflow = load_invented();
  ASSERT_TRUE(workflow);
  const std::string d = to_dot(*workflow);
  EXPECT_TRUE(has(d,
                  "[label=\"produced [caseworker, supervisor] when age < 18 && risk == "
                  "\\\"high\\\" && note != 'a;b:c#d%%e\\\\\\\\f'\"];\n"))
      << d;
}

// Fires the workflow's rows by hand, as the store would record them.
std::vector<HistoryEntry> history_of(
    std::initializer_list<std::tuple<const char*, const char*, const char*>> steps) {
  std::vector<HistoryEntry> out;
  HistoryEntry opened;
  opened.event = "opened";
  opened.to = "intake";
  out.push_back(opened);
  for (const auto& [from, event, to] : steps) {
    HistoryEntry e;
    e.from = from;
    e.event = event;
    e.to = to;
    out.push_back(e);
  }
  return out;
}

TEST(Graph, HighlightFollowsTheHistory) {
  const auto workflow = load_invented();
  ASSERT_TRUE(workflow);
  const auto history = history_of({{"intake", "journey_started", "intake"},
                                   {"intake", "updated", "intake"},  // no row: left out
                                   {"intake", "journey_ended", "intake"},
                                   {"intake", "produced", "review"},
                                   {"review", "follow_up_due", "review"},
                                   {"review", "follow_up_due", "review"}});
  const auto h = highlight_from_history(*workflow, "review", history);
  EXPECT_EQ(h.current, "review");
  EXPECT_EQ(h.visited, (std::vector<std::string>{"intake", "review"}));
  ASSERT_EQ(h.path.size(), 5U);
  EXPECT_EQ(h.path[2].event, "produced");

  const std::string m = to_mermaid(*workflow, &h);
  EXPECT_TRUE(has(m, "  intake --> intake : (1) journey_started [caseworker]\n")) << m;
  EXPECT_TRUE(has(m, "  intake --> review : (3) produced")) << m;
  EXPECT_TRUE(has(m, "  review --> review : (4, 5) follow_up_due [engine]\n")) << m;
  EXPECT_TRUE(has(m, "  review --> closed : close [supervisor]\n")) << m;
  EXPECT_TRUE(has(m, "  classDef current ")) << m;
  EXPECT_TRUE(has(m, "  class intake visited\n  class review current\n")) << m;
  EXPECT_FALSE(has(m, "class closed")) << m;

  const std::string d = to_dot(*workflow, &h);
  EXPECT_TRUE(has(d, "  \"review\" [label=\"review\\n")) << d;
  EXPECT_TRUE(has(d, "style=\"rounded,filled,bold\", fillcolor=\"#ffd54f\"];\n")) << d;
  EXPECT_TRUE(has(d,
                  "  \"intake\" [label=\"intake\", style=\"rounded,filled\", "
                  "fillcolor=\"#e3f2fd\"];\n"))
      << d;
  EXPECT_TRUE(has(d, "  \"intake\" -> \"review\" [label=\"(3) produced")) << d;
  EXPECT_TRUE(has(d,
                  "  \"intake\" -> \"intake\" [label=\"(1) journey_started [caseworker]\\l"
                  "(2) journey_ended [caseworker]\\l\", color=\"#1565c0\", "
                  "fontcolor=\"#1565c0\", penwidth=2.5];\n"))
      << d;
  EXPECT_TRUE(has(d,
                  "[label=\"(4, 5) follow_up_due [engine]\\lreview_due [engine]\\l"
                  "visit_due [engine]\\l\", style=dashed, color=\"#1565c0\", "
                  "fontcolor=\"#1565c0\", penwidth=2.5];\n"))
      << d;
  EXPECT_TRUE(has(d, "  \"review\" -> \"closed\" [label=\"close [supervisor]\"];\n")) << d;
  // Without a highlight, nothing is coloured.
  EXPECT_FALSE(has(to_dot(*workflow), "penwidth")) << d;
  EXPECT_FALSE(has(to_mermaid(*workflow), "classDef")) << m;
}

// Graphviz, when installed, accepts what to_dot writes (with and without a highlight).
TEST(Graph, GraphvizAcceptsTheDot) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "Graphviz's dot is not installed (Debian: apt-get install graphviz)";
  }
  const auto aftercare = load_aftercare();
  const auto invented = load_invented();
  ASSERT_TRUE(aftercare && invented);
  const auto h =
      highlight_from_history(*invented, "review", history_of({{"intake", "produced", "review"}}));
  test::TempDir dir;
  int i = 0;
  for (const std::string& text : {to_dot(*aftercare), to_dot(*invented), to_dot(*invented, &h)}) {
    const auto in = dir / ("g" + std::to_string(i) + ".dot");
    const auto out = dir / ("g" + std::to_string(i) + ".svg");
    ++i;
    std::ofstream(in, std::ios::binary) << text;
    const std::string command =
        "dot -Tsvg -o '" + out.string() + "' '" + in.string() + "' 2>'" + out.string() + ".err'";
    const int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << test::read_file(out.string() + ".err") << "\n"
        << text;
    EXPECT_TRUE(has(test::read_file(out), "<svg")) << text;
    // Graphviz warns on stderr about things it ignores (unknown attributes, bad escapes).
    EXPECT_EQ(test::read_file(out.string() + ".err"), "") << text;
  }
}

}  // namespace
}  // namespace carepath::workflow
