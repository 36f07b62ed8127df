#include "core/access.hpp"

#include <gtest/gtest.h>

#include "core/fields.hpp"

namespace carepath {
namespace {

Workflow make_workflow(bool with_placement) {
  Workflow w;
  w.name = "test";
  w.version = 1;
  w.roles = {"caseworker", "counsellor", "supervisor"};
  Field home{"home", FieldType::enumeration, std::nullopt, std::nullopt, {"umang", "udaan"}};
  home.placement = with_placement;
  w.fields = {Field{"assigned_to", FieldType::string}, home};
  w.finalize();
  return w;
}

CaseRecord case_held_by(std::string assignee, std::optional<std::string> placement = {}) {
  CaseRecord record;
  record.assignee = std::move(assignee);
  record.placement = std::move(placement);
  return record;
}

TEST(Access, HolderNamesAreTheUserItsTeamsAndItsRoles) {
  const Actor asha{"asha", {"caseworker"}, {"night_shift"}};
  EXPECT_EQ(holder_names(asha),
            (std::vector<std::string>{"asha", "team:night_shift", "role:caseworker"}));
  EXPECT_TRUE(holds_case(asha, case_held_by("team:night_shift")));
  EXPECT_TRUE(holds_case(asha, case_held_by("role:caseworker")));
  EXPECT_FALSE(holds_case(asha, case_held_by("meera")));
  EXPECT_FALSE(holds_case(asha, case_held_by("")));
  // A name is compared whole: a user called "team:x" cannot exist, and "as" is not "asha".
  EXPECT_FALSE(holds_case(asha, case_held_by("as")));
}

TEST(Access, WithoutTheSwitchEveryCaseIsInScope) {
  const Actor asha{"asha", {"caseworker"}};
  EXPECT_TRUE(may_see_case(asha, case_held_by("meera"), AccessPolicy{}));
  EXPECT_FALSE(scope_filter(asha, AccessPolicy{}).has_value());
}

TEST(Access, OwnCasesOnlyLimitsAllButSupervisors) {
  const AccessPolicy own{true};
  const Actor asha{"asha", {"caseworker"}};
  const Actor ravi{"ravi", {"supervisor"}};
  EXPECT_TRUE(may_see_case(asha, case_held_by("asha"), own));
  EXPECT_FALSE(may_see_case(asha, case_held_by("meera"), own));
  EXPECT_TRUE(may_see_case(ravi, case_held_by("meera"), own));
  const auto filter = scope_filter(asha, own);
  ASSERT_TRUE(filter);
  EXPECT_EQ(filter->assignees, holder_names(asha));
  EXPECT_TRUE(filter->placements.empty());
  EXPECT_FALSE(scope_filter(ravi, own).has_value());
}

TEST(Access, HomesOnATokenLimitItToThoseHomesAndItsOwnCases) {
  const Actor ravi{"ravi", {"supervisor"}, {}, {"umang"}};
  for (const AccessPolicy policy : {AccessPolicy{false}, AccessPolicy{true}}) {
    EXPECT_TRUE(may_see_case(ravi, case_held_by("asha", "umang"), policy));
    EXPECT_FALSE(may_see_case(ravi, case_held_by("asha", "udaan"), policy));
    EXPECT_FALSE(may_see_case(ravi, case_held_by("asha"), policy));  // not placed yet
    EXPECT_TRUE(may_see_case(ravi, case_held_by("ravi", "udaan"), policy));
    const auto filter = scope_filter(ravi, policy);
    ASSERT_TRUE(filter);
    EXPECT_EQ(filter->placements, std::vector<std::string>{"umang"});
  }
}

TEST(Access, StampScopeFollowsTheAssignmentAndPlacementFields) {
  const Workflow w = make_workflow(true);
  ASSERT_NE(w.assignment_field(), nullptr);  // found by its name, assigned_to
  CaseRecord record = case_held_by("asha");
  stamp_scope(w, record);
  EXPECT_EQ(record.assignee, "asha");  // unassigned: whoever opened it keeps it
  EXPECT_FALSE(record.placement);
  record.data = {{"assigned_to", "team:night_shift"}, {"home", "umang"}};
  stamp_scope(w, record);
  EXPECT_EQ(record.assignee, "team:night_shift");
  EXPECT_EQ(record.placement, "umang");
  record.data = {{"assigned_to", nullptr}};
  stamp_scope(w, record);
  EXPECT_EQ(record.assignee, "team:night_shift");  // unsetting leaves it with its last holder
  EXPECT_FALSE(record.placement);

  const Workflow unplaced = make_workflow(false);
  EXPECT_EQ(unplaced.placement_field(), nullptr);
  record.data = {{"home", "umang"}};
  stamp_scope(unplaced, record);
  EXPECT_FALSE(record.placement);
}

TEST(Access, ASensitiveFieldWithoutVisibleToIsNeedToKnow) {
  const Actor caseworker{"asha", {"caseworker"}};
  const Actor counsellor{"lata", {"counsellor"}};
  Field plain{"age", FieldType::integer};
  EXPECT_TRUE(field_visible(plain, caseworker));
  Field name{"name", FieldType::string};
  name.sensitivity = Sensitivity::identifying;
  EXPECT_FALSE(field_visible(name, caseworker));  // no roles named: nobody
  EXPECT_TRUE(visible_roles(name, {"caseworker", "counsellor"}).empty());
  name.editable_by = {"counsellor"};
  EXPECT_TRUE(field_visible(name, counsellor));  // those who write it read it
  EXPECT_FALSE(field_visible(name, caseworker));
  EXPECT_EQ(visible_roles(name, {"caseworker", "counsellor"}),
            std::vector<std::string>{"counsellor"});
  name.visible_to = {"caseworker"};
  EXPECT_TRUE(field_visible(name, caseworker));
  EXPECT_FALSE(field_visible(name, counsellor));
  EXPECT_EQ(visible_roles(plain, {"caseworker", "counsellor"}),
            (std::vector<std::string>{"caseworker", "counsellor"}));
}

}  // namespace
}  // namespace carepath
