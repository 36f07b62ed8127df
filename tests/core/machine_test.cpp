#include "core/machine.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace carepath {
namespace {

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

// A small aftercare-like table, built by hand so that core is tested without the YAML loader.
class Machine : public ::testing::Test {
 protected:
  void SetUp() override {
    w_.name = "aftercare";
    w_.version = 1;
    w_.roles = {"caseworker", "counsellor", "supervisor"};
    w_.fields = {
        Field{"age", FieldType::integer, 0.0, 25.0},
        Field{"cwc_order_no", FieldType::string},
        Field{"medical_cleared", FieldType::boolean},
        Field{"notes",
              FieldType::text,
              std::nullopt,
              std::nullopt,
              {},
              Sensitivity::privileged,
              {"counsellor"},
              {"counsellor"}},
    };
    w_.states = {State{"intake", true}, State{"assessment"}, State{"care_plan"},
                 State{"medical_hold"}, State{"closed", false, true}};
    w_.events = {"produced_before_cwc", "assessed", "cleared", "auto_close", "close"};
    w_.finalize();  // guards look fields up through the index
    // clang-format off
    add(0, 0, 1, {"caseworker"},               {"cwc_order_no", "age"}, "age < 18");
    add(1, 1, 2, {"counsellor", "caseworker"}, {},                      "medical_cleared");
    add(1, 1, 3, {"counsellor", "caseworker"}, {},                      "");
    add(3, 2, 1, {"counsellor"},               {},                      "");
    add(2, 3, 4, {},                           {},                      "");
    add(2, 4, 4, {"supervisor"},               {},                      "");
    // clang-format on
    w_.finalize();
  }

  void add(StateId from, EventId on, StateId to, std::vector<std::string> roles,
           std::vector<std::string> required, const char* when) {
    Transition t;
    t.from = from;
    t.on = on;
    t.to = to;
    t.roles = std::move(roles);
    t.required_fields = std::move(required);
    if (*when != '\0') {
      auto guard = Guard::compile(when, [this](std::string_view n) { return w_.find_field(n); });
      ASSERT_TRUE(guard) << guard.error().message;
      t.when = *guard;
    }
    w_.transitions.push_back(std::move(t));
  }

  Result<TransitionPlan> fire(const char* state, const char* data, const char* event,
                              const char* payload, const Actor& actor) {
    return plan_transition(w_, state, obj(data), event, obj(payload), actor, 20000);
  }

  Workflow w_;
  Actor caseworker_{"asha", {"caseworker"}};
  Actor counsellor_{"meera", {"counsellor"}};
  Actor supervisor_{"ravi", {"supervisor"}};
  Actor system_{"system", {}};
};

struct Row {
  const char* state;
  const char* data;
  const char* event;
  const char* payload;
  const char* to;
};

TEST_F(Machine, TakesEveryRowOfTheTable) {
  const Row rows[] = {
      {"intake", R"({})", "produced_before_cwc", R"({"cwc_order_no": "CWC/1", "age": 14})",
       "assessment"},
      {"assessment", R"({"medical_cleared": true})", "assessed", "{}", "care_plan"},
      {"assessment", R"({"medical_cleared": false})", "assessed", "{}", "medical_hold"},
      {"assessment", R"({})", "assessed", "{}", "medical_hold"},
      {"medical_hold", R"({})", "cleared", "{}", "assessment"},
      {"care_plan", R"({})", "close", "{}", "closed"},
  };
  const Actor* actors[] = {&caseworker_, &caseworker_, &counsellor_,
                           &caseworker_, &counsellor_, &supervisor_};
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    const auto& r = rows[i];
    auto plan = fire(r.state, r.data, r.event, r.payload, *actors[i]);
    ASSERT_TRUE(plan) << r.state << " " << r.event << ": " << plan.error().message;
    EXPECT_EQ(plan->to, r.to) << r.state << " " << r.event;
  }
}

TEST_F(Machine, RejectsEveryPairThatIsNotInTheTable) {
  for (StateId s = 0; s < w_.states.size(); ++s) {
    for (EventId e = 0; e < w_.events.size(); ++e) {
      if (!w_.rows(s, e).empty()) {
        continue;
      }
      auto plan = plan_transition(w_, w_.states[s].name, {}, w_.events[e], {}, system_, 0);
      ASSERT_FALSE(plan) << w_.states[s].name << " " << w_.events[e];
      EXPECT_EQ(plan.error().code, Errc::conflict);
      EXPECT_EQ(plan.error().type, "no-transition");
    }
  }
  auto unknown = fire("intake", "{}", "no_such_event", "{}", caseworker_);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::conflict);
}

TEST_F(Machine, NoTransitionListsTheEventsCallersCanFire) {
  auto plan = fire("care_plan", "{}", "assessed", "{}", caseworker_);
  ASSERT_FALSE(plan);
  EXPECT_EQ(boost::json::serialize(plan.error().details.at("allowed_events")), R"(["close"])");
  EXPECT_NE(plan.error().message.find("possible events: close"), std::string::npos);
}

TEST_F(Machine, RoleNotOnTheRowIsForbidden) {
  auto plan = fire("intake", "{}", "produced_before_cwc", "{}", counsellor_);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, Errc::forbidden);
  EXPECT_EQ(boost::json::serialize(plan.error().details.at("required_roles")), R"(["caseworker"])");
}

TEST_F(Machine, RowsWithoutRolesAreForTheEngineOnly) {
  auto denied = fire("care_plan", "{}", "auto_close", "{}", supervisor_);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, Errc::forbidden);
  auto allowed = fire("care_plan", "{}", "auto_close", "{}", system_);
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->to, "closed");
}

TEST_F(Machine, ChecksRunInTheDocumentedOrder) {
  // Role before fields: a counsellor with an invalid payload gets 403, not 422.
  auto role = fire("intake", "{}", "produced_before_cwc", R"({"age": "x"})", counsellor_);
  EXPECT_EQ(role.error().code, Errc::forbidden);
  // Invalid fields before missing fields.
  auto invalid = fire("intake", "{}", "produced_before_cwc", R"({"age": "x"})", caseworker_);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, Errc::unprocessable);
  EXPECT_EQ(invalid.error().type, "invalid-fields");
  EXPECT_EQ(boost::json::serialize(invalid.error().details.at("invalid_fields")),
            R"([{"field":"age","reason":"must be an integer"}])");
  // Missing fields before guards: age 20 would fail the guard, but cwc_order_no is missing.
  auto missing = fire("intake", "{}", "produced_before_cwc", R"({"age": 20})", caseworker_);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().type, "missing-fields");
  EXPECT_EQ(boost::json::serialize(missing.error().details.at("missing_fields")),
            R"(["cwc_order_no"])");
  // Then the guard.
  auto guard = fire("intake", R"({"cwc_order_no": "A"})", "produced_before_cwc", R"({"age": 20})",
                    caseworker_);
  ASSERT_FALSE(guard);
  EXPECT_EQ(guard.error().code, Errc::conflict);
  EXPECT_EQ(guard.error().type, "guard-failed");
  const Error error = guard.error();  // error() returns a copy: keep it alive
  const auto& g = error.details.at("guards").as_array().at(0).as_object();
  EXPECT_EQ(g.at("when"), "age < 18");
  EXPECT_EQ(g.at("to"), "assessment");
}

TEST_F(Machine, UneditableFieldInPayloadIsForbidden) {
  auto plan = fire("assessment", "{}", "assessed", R"({"notes": "x"})", caseworker_);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().type, "forbidden-fields");
  auto ok = fire("assessment", "{}", "assessed", R"({"notes": "x"})", counsellor_);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->changed, std::vector<std::string>{"notes"});
}

TEST_F(Machine, PayloadIsMergedBeforeRequiresAndGuards) {
  auto plan = fire("intake", R"({"cwc_order_no": "A"})", "produced_before_cwc", R"({"age": 12})",
                   caseworker_);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->data, obj(R"({"cwc_order_no": "A", "age": 12})"));
  EXPECT_EQ(plan->changed, std::vector<std::string>{"age"});
  // A null in the payload unsets a field, which then counts as missing.
  auto unset = fire("intake", R"({"cwc_order_no": "A", "age": 12})", "produced_before_cwc",
                    R"({"cwc_order_no": null})", caseworker_);
  ASSERT_FALSE(unset);
  EXPECT_EQ(unset.error().type, "missing-fields");
}

TEST_F(Machine, EventOptionsSayWhatIsMissingAndWhichGuardFails) {
  auto options = event_options(w_, "intake", obj(R"({"age": 12})"), caseworker_, 0);
  ASSERT_EQ(options.size(), 1U);
  EXPECT_EQ(options[0].event, "produced_before_cwc");
  EXPECT_EQ(options[0].missing_fields, std::vector<std::string>{"cwc_order_no"});
  EXPECT_FALSE(options[0].ready);

  auto ready =
      event_options(w_, "intake", obj(R"({"age": 12, "cwc_order_no": "A"})"), caseworker_, 0);
  ASSERT_EQ(ready.size(), 1U);
  EXPECT_TRUE(ready[0].ready);
  EXPECT_TRUE(ready[0].guard_passed);

  // The counsellor may not fire anything from intake.
  EXPECT_TRUE(event_options(w_, "intake", {}, counsellor_, 0).empty());
  // Two rows for "assessed": the second, unguarded one is ready when the first's guard is not.
  auto assessed = event_options(w_, "assessment", {}, caseworker_, 0);
  ASSERT_EQ(assessed.size(), 1U);
  EXPECT_EQ(assessed[0].to, "medical_hold");
  EXPECT_TRUE(assessed[0].ready);
  // The engine-only row is not offered to anyone over the API.
  auto care_plan = event_options(w_, "care_plan", {}, supervisor_, 0);
  ASSERT_EQ(care_plan.size(), 1U);
  EXPECT_EQ(care_plan[0].event, "close");
}

}  // namespace
}  // namespace carepath
