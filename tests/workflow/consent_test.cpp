// `consents:` and `requires_consent` in workflow files: what the loader builds, and the errors it
// reports with their positions.
#include <algorithm>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "tests/support/shipped_steps.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/workflow/diagnostics.hpp"
#include "workflow/loader.hpp"

namespace carepath::workflow {
namespace {

using test::dump;
using test::has_error;

LoadResult load(std::string_view text) {
  return load_workflow_text(text, "test.yaml");
}

std::size_t error_count(const LoadResult& result) {
  return static_cast<std::size_t>(
      std::count_if(result.diagnostics.begin(), result.diagnostics.end(),
                    [](const Diagnostic& d) { return d.severity == Severity::error; }));
}

const Transition& only_row_of(const Workflow& w, std::string_view event) {
  const auto id = w.find_event(event);
  EXPECT_TRUE(id.has_value()) << event;
  const auto it = std::find_if(w.transitions.begin(), w.transitions.end(),
                               [&](const Transition& t) { return t.on == *id; });
  EXPECT_NE(it, w.transitions.end()) << event;
  return *it;
}

TEST(WorkflowConsents, ReadsDeclarationsAndRequirements) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker, medical_officer, supervisor]
consents:
  medical_examination:
    title: Medical examination
    description: Given by the child or her guardian
    override_by: [medical_officer]
  data_sharing: { title: Sharing the record }
states:
  intake:
    initial: true
    on:
      examined:
        to: intake
        roles: [medical_officer]
        requires_consent: [medical_examination]
      transferred:
        - { to: closed, roles: [supervisor], requires_consent: [data_sharing, medical_examination] }
  closed:
    final: true
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  const Workflow& w = *result.workflow;
  EXPECT_TRUE(w.consents_declared);
  ASSERT_EQ(w.consents.size(), 2U);
  EXPECT_EQ(w.consents[0].name, "medical_examination");
  EXPECT_EQ(w.consents[0].title, "Medical examination");
  EXPECT_EQ(w.consents[0].description, "Given by the child or her guardian");
  EXPECT_EQ(w.consents[0].override_by, (std::vector<std::string>{"medical_officer"}));
  EXPECT_EQ(w.consents[0].pos.line, 6);
  // override_by defaults to the supervisor.
  ASSERT_NE(w.find_consent("data_sharing"), nullptr);
  EXPECT_EQ(w.find_consent("data_sharing")->override_by, (std::vector<std::string>{"supervisor"}));
  EXPECT_EQ(only_row_of(w, "examined").required_consents,
            (std::vector<std::string>{"medical_examination"}));
  EXPECT_EQ(only_row_of(w, "transferred").required_consents,
            (std::vector<std::string>{"data_sharing", "medical_examination"}));
}

TEST(WorkflowConsents, AcceptsAnyNameWithoutConsentsDeclared) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      admitted: { to: closed, roles: [caseworker], requires_consent: [photo_use] }
  closed:
    final: true
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_FALSE(result.workflow->consents_declared);
  EXPECT_EQ(only_row_of(*result.workflow, "admitted").required_consents,
            (std::vector<std::string>{"photo_use"}));
}

TEST(WorkflowConsents, RejectsUndeclaredConsentsWithASuggestion) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
consents:
  data_sharing: { title: Sharing }
states:
  intake:
    initial: true
    on:
      admitted:
        to: closed
        roles: [caseworker]
        requires_consent: [data_sharing, data_shairng, photo_use]
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 14, 42,
                        "undeclared consent 'data_shairng' in 'requires_consent'; expected one "
                        "of: data_sharing; did you mean 'data_sharing'?"));
  EXPECT_TRUE(has_error(result, 14, 56, "undeclared consent 'photo_use'"));
  EXPECT_EQ(error_count(result), 2U) << dump(result);
}

TEST(WorkflowConsents, AnEmptyConsentsMapDeclaresNone) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
consents: {}
states:
  intake:
    initial: true
    on:
      admitted: { to: closed, roles: [caseworker], requires_consent: [photo_use] }
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 10, 71, "undeclared consent 'photo_use'"));
  EXPECT_TRUE(has_error(result, 10, 71, "'consents' declares none"));
}

TEST(WorkflowConsents, RejectsBadDeclarations) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker, supervisor]
consents:
  Data-Sharing: { title: Sharing }
  medical_examination:
    title: Examination
    overide_by: [supervisor]
  photo_use: { override_by: [supervisr] }
  school_contact: yes
states:
  intake:
    initial: true
    on:
      admitted:
        to: closed
        roles: [caseworker]
        requires_consent: [photo_use, school_contact, medical_examination, Bad]
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 6, 3, "invalid consent name 'Data-Sharing'"));
  EXPECT_TRUE(has_error(result, 9, 5,
                        "unknown key 'overide_by'; expected one of: title, description, "
                        "override_by; did you mean 'override_by'?"));
  EXPECT_TRUE(has_error(result, 10, 30, "undeclared role 'supervisr'"));
  EXPECT_TRUE(has_error(result, 10, 30, "did you mean 'supervisor'?"));
  EXPECT_TRUE(has_error(result, 11, 19, "expected a consent declaration"));
  EXPECT_TRUE(has_error(result, 19, 76, "invalid consent name 'Bad'"));
  // A consent whose declaration is in error is not reported again where it is required.
  EXPECT_EQ(error_count(result), 5U) << dump(result);
}

TEST(WorkflowConsents, RejectsConsentsThatAreNotAMap) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
consents: [data_sharing]
states:
  intake:
    initial: true
    on:
      admitted: { to: closed, roles: [caseworker], requires_consent: [data_sharing] }
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 5, 11, "expected a map of consent names to declarations"));
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

TEST(WorkflowConsents, ReservesTheConsentEvents) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on:
      consent_given: { to: intake, roles: [caseworker] }
      consent_withdrawn: { to: closed, roles: [caseworker] }
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 9, 7, "event name 'consent_given' is reserved"));
  EXPECT_TRUE(has_error(result, 10, 7, "event name 'consent_withdrawn' is reserved"));
}

TEST(WorkflowConsents, ShippedAftercareRequiresConsentToShareHerRecord) {
  const auto steps = test::shipped_steps();
  const auto result =
      load_workflow_file(test::source_path("workflows/aftercare.yaml"), steps.get());
  ASSERT_TRUE(result.ok()) << dump(result);
  const Workflow& w = *result.workflow;
  ASSERT_NE(w.find_consent("data_sharing"), nullptr);
  ASSERT_NE(w.find_consent("medical_examination"), nullptr);
  EXPECT_EQ(only_row_of(w, "transferred_out").required_consents,
            (std::vector<std::string>{"data_sharing"}));
  EXPECT_EQ(only_row_of(w, "repatriated").required_consents,
            (std::vector<std::string>{"data_sharing"}));
  EXPECT_EQ(only_row_of(w, "medically_cleared").required_consents,
            (std::vector<std::string>{"medical_examination"}));
}

}  // namespace
}  // namespace carepath::workflow
