#include "runtime/runtime.hpp"

#include <atomic>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"
#include "workflow/loader.hpp"

namespace carepath::runtime {
namespace {

constexpr const char* kWorkflow = R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker, counsellor, supervisor]
fields:
  name: { type: string, sensitivity: identifying, visible_to: [caseworker, counsellor, supervisor] }
  age: { type: integer, min: 0, max: 25 }
  cwc_order_no: { type: string }
  notes: { type: text, sensitivity: privileged, visible_to: [counsellor], editable_by: [counsellor] }
states:
  intake:
    initial: true
    on:
      produced:
        to: assessment
        roles: [caseworker]
        requires: [cwc_order_no, age]
        when: "age < 18"
  assessment:
    on:
      close: { to: closed, roles: [supervisor] }
      note: { to: assessment, roles: [counsellor, caseworker] }
  closed:
    final: true
)";

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = workflow::load_workflow_text(kWorkflow, "shelter.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty()
                                     ? std::string("?")
                                     : workflow::to_string(loaded.diagnostics[0]));
    registry_.add(loaded.workflow);
    auto store = store::SqliteStore::open((dir_ / "cases.db").string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    runtime_ = std::make_unique<Runtime>(*store_, clock_, registry_);
  }

  CaseRecord open(const char* data = R"({"name": "Test Child"})") {
    auto record = runtime_->open_case(caseworker_, "shelter", obj(data));
    EXPECT_TRUE(record) << record.error().message;
    return *record;
  }

  test::TempDir dir_;
  ManualClock clock_{1'790'000'000'000};
  WorkflowRegistry registry_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Runtime> runtime_;
  Actor caseworker_{"asha", {"caseworker"}};
  Actor counsellor_{"meera", {"counsellor"}};
  Actor supervisor_{"ravi", {"supervisor"}};
  Actor stranger_{"zed", {"auditor"}};
};

TEST_F(RuntimeTest, OpensACaseInTheInitialStateWithAnOpenedEntry) {
  const auto record = open();
  EXPECT_EQ(record.state, "intake");
  EXPECT_EQ(record.version, 1);
  EXPECT_EQ(record.id.size(), 32U);
  EXPECT_EQ(record.code.rfind("CP-", 0), 0U);
  EXPECT_EQ(record.created_at, clock_.now());
  auto history = runtime_->history(caseworker_, record.id, 10, std::nullopt);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->items.size(), 1U);
  EXPECT_EQ(history->items[0].event, "opened");
  EXPECT_FALSE(history->items[0].from);
  EXPECT_EQ(history->items[0].changed, std::vector<std::string>{"name"});
}

TEST_F(RuntimeTest, CaseIdsAndCodesAreUnique) {
  const auto a = open();
  const auto b = open();
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.code, b.code);
}

TEST_F(RuntimeTest, OpeningNeedsARoleOfTheWorkflowAndAKnownWorkflow) {
  auto denied = runtime_->open_case(stranger_, "shelter", {});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, Errc::forbidden);
  auto unknown = runtime_->open_case(caseworker_, "nope", {});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::not_found);
  auto invalid = runtime_->open_case(caseworker_, "shelter", obj(R"({"age": "ten"})"));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, Errc::unprocessable);
  auto not_editable = runtime_->open_case(caseworker_, "shelter", obj(R"({"notes": "n"})"));
  ASSERT_FALSE(not_editable);
  EXPECT_EQ(not_editable.error().code, Errc::forbidden);
}

TEST_F(RuntimeTest, FiresATransitionAndRecordsIt) {
  const auto record = open();
  clock_.advance_ms(60'000);
  FireRequest request{"produced", obj(R"({"cwc_order_no": "CWC/KOL/1", "age": 14})"),
                      "produced on time"};
  auto fired = runtime_->fire(caseworker_, record.id, request);
  ASSERT_TRUE(fired) << fired.error().message;
  EXPECT_FALSE(fired->replayed);
  EXPECT_EQ(fired->record.state, "assessment");
  EXPECT_EQ(fired->record.version, 2);
  EXPECT_EQ(fired->record.updated_at, clock_.now());
  auto history = runtime_->history(caseworker_, record.id, 10, std::nullopt);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->items.size(), 2U);
  const auto& entry = history->items[1];
  EXPECT_EQ(entry.event, "produced");
  EXPECT_EQ(entry.from, "intake");
  EXPECT_EQ(entry.to, "assessment");
  EXPECT_EQ(entry.version, 2);
  EXPECT_EQ(entry.comment, "produced on time");
  EXPECT_EQ(entry.changed, (std::vector<std::string>{"cwc_order_no", "age"}));
  EXPECT_EQ(entry.actor, "asha");
}

TEST_F(RuntimeTest, AFailedFireChangesNothing) {
  const auto record = open();
  FireRequest request{"produced", obj(R"({"cwc_order_no": "X", "age": 19})")};
  auto fired = runtime_->fire(caseworker_, record.id, request);
  ASSERT_FALSE(fired);
  EXPECT_EQ(fired.error().type, "guard-failed");
  auto after = runtime_->get_case(caseworker_, record.id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->version, 1);
  EXPECT_EQ(after->data, record.data);
  EXPECT_EQ(runtime_->history(caseworker_, record.id, 10, std::nullopt)->items.size(), 1U);
}

TEST_F(RuntimeTest, IfMatchGuardsAgainstStaleVersions) {
  const auto record = open();
  FireRequest request{"produced", obj(R"({"cwc_order_no": "X", "age": 9})")};
  request.if_match = 7;
  auto fired = runtime_->fire(caseworker_, record.id, request);
  ASSERT_FALSE(fired);
  EXPECT_EQ(fired.error().code, Errc::precondition_failed);
  EXPECT_EQ(fired.error().details.at("current_version"), 1);
  request.if_match = 1;
  EXPECT_TRUE(runtime_->fire(caseworker_, record.id, request));
}

TEST_F(RuntimeTest, IdempotencyKeyReplaysTheFirstAnswer) {
  const auto record = open();
  FireRequest request{"produced", obj(R"({"cwc_order_no": "X", "age": 9})")};
  request.idempotency_key = "key-1";
  request.request_hash = "hash-a";
  auto first = runtime_->fire(caseworker_, record.id, request);
  ASSERT_TRUE(first);
  clock_.advance_ms(1000);
  auto second = runtime_->fire(caseworker_, record.id, request);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->replayed);
  EXPECT_EQ(second->record.version, first->record.version);
  EXPECT_EQ(second->record.state, "assessment");
  EXPECT_EQ(second->record.updated_at, first->record.updated_at);
  EXPECT_EQ(runtime_->history(caseworker_, record.id, 10, std::nullopt)->items.size(), 2U);

  request.request_hash = "hash-b";
  auto reused = runtime_->fire(caseworker_, record.id, request);
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().code, Errc::unprocessable);
  EXPECT_EQ(reused.error().type, "idempotency-key-reused");
}

TEST_F(RuntimeTest, UpdateEditsFieldsWithoutATransition) {
  const auto record = open();
  auto updated = runtime_->update_case(caseworker_, record.id, obj(R"({"age": 12})"), std::nullopt,
                                       std::string("age from school record"));
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->state, "intake");
  EXPECT_EQ(updated->version, 2);
  auto history = runtime_->history(caseworker_, record.id, 10, std::nullopt);
  ASSERT_EQ(history->items.size(), 2U);
  EXPECT_EQ(history->items[1].event, "updated");
  EXPECT_EQ(history->items[1].from, "intake");
  EXPECT_EQ(history->items[1].changed, std::vector<std::string>{"age"});

  // The same value again changes nothing and records nothing.
  auto same = runtime_->update_case(caseworker_, record.id, obj(R"({"age": 12})"), std::nullopt,
                                    std::nullopt);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->version, 2);

  auto stale =
      runtime_->update_case(caseworker_, record.id, obj(R"({"age": 13})"), 1, std::nullopt);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::precondition_failed);
  auto forbidden = runtime_->update_case(caseworker_, record.id, obj(R"({"notes": "n"})"),
                                         std::nullopt, std::nullopt);
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().code, Errc::forbidden);
  EXPECT_TRUE(runtime_->update_case(counsellor_, record.id, obj(R"({"notes": "n"})"), std::nullopt,
                                    std::nullopt));
}

TEST_F(RuntimeTest, FinalCasesCannotBeEdited) {
  const auto record = open();
  ASSERT_TRUE(runtime_->fire(caseworker_, record.id,
                             FireRequest{"produced", obj(R"({"cwc_order_no": "X", "age": 9})")}));
  ASSERT_TRUE(runtime_->fire(supervisor_, record.id, FireRequest{"close"}));
  auto edit = runtime_->update_case(caseworker_, record.id, obj(R"({"age": 10})"), std::nullopt,
                                    std::nullopt);
  ASSERT_FALSE(edit);
  EXPECT_EQ(edit.error().type, "case-final");
}

TEST_F(RuntimeTest, ConcurrentFiresOnOneCaseAllLandInOrder) {
  const auto record = open();
  ASSERT_TRUE(runtime_->fire(caseworker_, record.id,
                             FireRequest{"produced", obj(R"({"cwc_order_no": "X", "age": 9})")}));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (runtime_->fire(caseworker_, record.id, FireRequest{"note"})) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  auto after = runtime_->get_case(caseworker_, record.id);
  EXPECT_EQ(after->version, 2 + kThreads * kPerThread);
  auto history = runtime_->history(caseworker_, record.id, 500, std::nullopt);
  ASSERT_EQ(history->items.size(), static_cast<std::size_t>(2 + kThreads * kPerThread));
  for (std::size_t i = 0; i < history->items.size(); ++i) {
    EXPECT_EQ(history->items[i].seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(history->items[i].version, static_cast<std::int64_t>(i + 1));
  }
}

TEST_F(RuntimeTest, TransitionsListWhatTheCallerMayDoNow) {
  const auto record = open(R"({"age": 10})");
  auto options = runtime_->transitions(caseworker_, record.id);
  ASSERT_TRUE(options);
  ASSERT_EQ(options->size(), 1U);
  EXPECT_EQ((*options)[0].event, "produced");
  EXPECT_EQ((*options)[0].missing_fields, std::vector<std::string>{"cwc_order_no"});
  auto none = runtime_->transitions(supervisor_, record.id);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(RuntimeTest, ListFiltersByStateAndHidesOtherWorkflowsCases) {
  const auto a = open();
  open();
  ASSERT_TRUE(runtime_->fire(caseworker_, a.id,
                             FireRequest{"produced", obj(R"({"cwc_order_no": "X", "age": 9})")}));
  CaseQuery query;
  query.state = "assessment";
  auto page = runtime_->list_cases(caseworker_, query);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1U);
  EXPECT_EQ(page->items[0].id, a.id);
  auto hidden = runtime_->list_cases(stranger_, CaseQuery{});
  ASSERT_TRUE(hidden);
  EXPECT_TRUE(hidden->items.empty());
}

TEST_F(RuntimeTest, AStrangerToTheWorkflowLearnsNothingAboutTheCase) {
  const auto record = open();
  // Not even that it exists: the answer is the one for an unknown case (404, not 403), and an
  // event with no transition does not answer 409 with the case's possible events.
  const Error unknown = runtime_->get_case(caseworker_, "0123").error();
  auto fired = runtime_->fire(stranger_, record.id, FireRequest{"no_such_event"});
  ASSERT_FALSE(fired);
  EXPECT_EQ(fired.error().code, Errc::not_found);
  EXPECT_FALSE(fired.error().details.contains("allowed_events"));
  const Error read = runtime_->get_case(stranger_, record.id).error();
  EXPECT_EQ(read.code, Errc::not_found);
  EXPECT_EQ(read.type, unknown.type);
  EXPECT_EQ(read.details, unknown.details);
  EXPECT_EQ(runtime_->transitions(stranger_, record.id).error().code, Errc::not_found);
  EXPECT_EQ(runtime_->history(stranger_, record.id, 10, std::nullopt).error().code,
            Errc::not_found);
}

TEST_F(RuntimeTest, UnknownCaseIsNotFound) {
  EXPECT_EQ(runtime_->get_case(caseworker_, "0123").error().code, Errc::not_found);
  EXPECT_EQ(runtime_->fire(caseworker_, "0123", FireRequest{"x"}).error().code, Errc::not_found);
  EXPECT_EQ(runtime_->history(caseworker_, "0123", 5, std::nullopt).error().code, Errc::not_found);
}

}  // namespace
}  // namespace carepath::runtime
