// Steps in the pipeline: synchronous output and vetoes, the outbox, retries, incidents, tasks.
#include <atomic>
#include <mutex>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "runtime/runtime.hpp"
#include "runtime/worker.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/fake_steps.hpp"
#include "tests/support/temp_dir.hpp"
#include "workflow/loader.hpp"

namespace carepath::runtime {
namespace {

constexpr const char* kWorkflow = R"(carepath: 1
workflow: stepped
version: 1
roles: [caseworker, supervisor]
fields:
  age: { type: integer, min: 0, max: 25 }
  checked: { type: boolean }
  referral_no: { type: string }
  notes: { type: text }
states:
  intake:
    initial: true
    on_enter:
      - step: test.stamp
    on:
      check:
        to: checked
        roles: [caseworker]
        steps:
          - step: test.check
          - step: test.never
            when: "age > 100"
      blocked:
        to: checked
        roles: [caseworker]
        steps: [ { step: test.veto } ]
      broken:
        to: checked
        roles: [caseworker]
        steps: [ { step: test.undeclared } ]
  checked:
    on_enter:
      - step: test.refer
        async: true
        retry: { max_attempts: 3, backoff: 10s }
        on_complete: confirmed
      - step: test.flaky
        async: true
        retry: { max_attempts: 2, backoff: 1s }
    on:
      confirmed: { to: referred, roles: [supervisor] }
  referred:
    final: true
)";

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

class Steps : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.add("test.stamp", {}, [](const StepInput&) {
      return StepOutcome{StepStatus::ok, obj(R"({"notes": "opened"})"), {}};
    });
    catalog_.add("test.check", {"age"}, [this](const StepInput& in) {
      std::lock_guard lock(mutex_);
      check_inputs_.push_back(in.input);
      return StepOutcome{StepStatus::ok, obj(R"({"checked": true})"), {}};
    });
    catalog_.add("test.never", {}, [](const StepInput&) {
      ADD_FAILURE() << "a step whose guard is false must not run";
      return StepOutcome{StepStatus::failed, {}, "ran"};
    });
    catalog_.add("test.veto", {}, [](const StepInput&) {
      return StepOutcome{StepStatus::veto, {}, "the home is full"};
    });
    catalog_.add("test.undeclared", {}, [](const StepInput&) {
      return StepOutcome{StepStatus::ok, obj(R"({"secret_field": 1})"), {}};
    });
    catalog_.add("test.refer", {}, [this](const StepInput& in) {
      ++refer_runs_;
      refer_key_ = in.idempotency_key;
      if (refer_runs_ < refer_failures_before_ok_ + 1) {
        return StepOutcome{StepStatus::retryable, {}, "provider offline"};
      }
      return StepOutcome{StepStatus::pending, obj(R"({"title": "confirm the referral"})"), {}};
    });
    catalog_.add("test.flaky", {}, [this](const StepInput&) {
      ++flaky_runs_;
      return StepOutcome{StepStatus::retryable, {}, "always down"};
    });
    auto loaded = workflow::load_workflow_text(kWorkflow, "stepped.yaml", &catalog_);
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty()
                                     ? "?"
                                     : workflow::to_string(loaded.diagnostics[0]));
    registry_.add(loaded.workflow);
    auto store = store::SqliteStore::open((dir_ / "cases.db").string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    runtime_ = std::make_unique<Runtime>(*store_, clock_, registry_);
    worker_ = std::make_unique<StepWorker>(*runtime_, *store_, clock_, WorkerOptions{});
  }

  std::vector<std::string> events(const std::string& id) {
    std::vector<std::string> names;
    const auto history = runtime_->history(caseworker_, id, 100, std::nullopt);
    for (const auto& e : history->items) {
      names.push_back(e.event);
    }
    return names;
  }

  test::TempDir dir_;
  test::FakeCatalog catalog_;
  ManualClock clock_{1'790'000'000'000};
  WorkflowRegistry registry_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<StepWorker> worker_;
  Actor caseworker_{"asha", {"caseworker"}};
  Actor supervisor_{"ravi", {"supervisor"}};
  std::mutex mutex_;
  std::vector<boost::json::object> check_inputs_;
  std::atomic<int> refer_runs_{0};
  std::atomic<int> flaky_runs_{0};
  int refer_failures_before_ok_ = 0;
  std::string refer_key_;
};

TEST_F(Steps, OnEnterOfTheInitialStateRunsWhenACaseOpens) {
  auto record = runtime_->open_case(caseworker_, "stepped", obj(R"({"age": 12})"));
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(record->data.at("notes"), "opened");
  auto history = runtime_->history(caseworker_, record->id, 10, std::nullopt);
  EXPECT_EQ(history->items[0].changed, (std::vector<std::string>{"age", "notes"}));
}

TEST_F(Steps, SynchronousStepOutputLandsInTheSameTransitionAndSeesOnlyDeclaredFields) {
  auto record = runtime_->open_case(caseworker_, "stepped", obj(R"({"age": 12})"));
  ASSERT_TRUE(record);
  auto fired = runtime_->fire(caseworker_, record->id, FireRequest{"check"});
  ASSERT_TRUE(fired) << fired.error().message;
  EXPECT_EQ(fired->record.state, "checked");
  EXPECT_EQ(fired->record.data.at("checked"), true);
  EXPECT_EQ(fired->record.version, 2);
  ASSERT_EQ(check_inputs_.size(), 1U);
  const auto& input = check_inputs_[0];
  EXPECT_EQ(input.at("data").as_object(), obj(R"({"age": 12})"));  // not "notes"
  EXPECT_EQ(input.at("event"), "check");
  EXPECT_EQ(input.at("from"), "intake");
  EXPECT_EQ(input.at("to"), "checked");
  EXPECT_EQ(input.at("case").at("id"), record->id.c_str());
}

TEST_F(Steps, AVetoChangesNothingAndSaysWhy) {
  auto record = runtime_->open_case(caseworker_, "stepped", {});
  ASSERT_TRUE(record);
  auto fired = runtime_->fire(caseworker_, record->id, FireRequest{"blocked"});
  ASSERT_FALSE(fired);
  EXPECT_EQ(fired.error().code, Errc::conflict);
  EXPECT_EQ(fired.error().type, "step-vetoed");
  EXPECT_EQ(fired.error().details.at("step"), "test.veto");
  EXPECT_EQ(fired.error().details.at("reason"), "the home is full");
  EXPECT_EQ(runtime_->get_case(caseworker_, record->id)->version, 1);
  EXPECT_EQ(worker_->run_due(), 0U);  // nothing was scheduled
}

TEST_F(Steps, AStepThatWritesUndeclaredFieldsFailsTheTransition) {
  auto record = runtime_->open_case(caseworker_, "stepped", {});
  ASSERT_TRUE(record);
  auto fired = runtime_->fire(caseworker_, record->id, FireRequest{"broken"});
  ASSERT_FALSE(fired);
  EXPECT_EQ(fired.error().code, Errc::plugin);
  EXPECT_NE(fired.error().message.find("secret_field"), std::string::npos);
  EXPECT_EQ(runtime_->get_case(caseworker_, record->id)->state, "intake");
}

TEST_F(Steps, AsyncStepsRunAfterCommitRetryAndOpenAnIncidentWhenRetriesRunOut) {
  refer_failures_before_ok_ = 1;
  auto record = runtime_->open_case(caseworker_, "stepped", {});
  ASSERT_TRUE(runtime_->fire(caseworker_, record->id, FireRequest{"check"}));
  EXPECT_EQ(refer_runs_, 0);  // nothing runs inside the transition

  EXPECT_EQ(worker_->run_due(), 2U);  // refer (retryable) and flaky (retryable), first attempts
  EXPECT_EQ(refer_runs_, 1);
  EXPECT_EQ(worker_->run_due(), 0U);  // backoff: nothing is due yet
  clock_.advance_ms(1'000);
  EXPECT_EQ(worker_->run_due(), 1U);  // flaky's second and last attempt
  EXPECT_EQ(flaky_runs_, 2);
  auto incidents = runtime_->incidents(caseworker_, record->id);
  ASSERT_TRUE(incidents);
  ASSERT_EQ(incidents->size(), 1U);
  EXPECT_EQ((*incidents)[0].step_type, "test.flaky");
  EXPECT_EQ((*incidents)[0].status, "open");
  EXPECT_EQ((*incidents)[0].attempts, 2);

  clock_.advance_ms(9'000);
  EXPECT_EQ(worker_->run_due(), 1U);  // refer's second attempt answers pending
  EXPECT_EQ(refer_runs_, 2);
  EXPECT_EQ(refer_key_, record->id + "/2/enter/checked/0");
  auto tasks = runtime_->tasks(caseworker_, record->id);
  ASSERT_TRUE(tasks);
  ASSERT_EQ(tasks->size(), 1U);
  EXPECT_EQ((*tasks)[0].status, "open");
  EXPECT_EQ((*tasks)[0].description.at("title"), "confirm the referral");
  EXPECT_EQ(events(record->id), (std::vector<std::string>{"opened", "check", "step_pending"}));

  // Retrying the incident puts the job back; it fails twice more and opens a new incident.
  ASSERT_TRUE(runtime_->retry_incident(caseworker_, record->id, (*incidents)[0].id));
  EXPECT_EQ(worker_->run_due(), 1U);
  EXPECT_EQ(flaky_runs_, 3);
  auto again = runtime_->retry_incident(caseworker_, record->id, (*incidents)[0].id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().type, "incident-not-open");
}

TEST_F(Steps, CompletingATaskRecordsItsDataAndFiresOnComplete) {
  auto record = runtime_->open_case(caseworker_, "stepped", {});
  ASSERT_TRUE(runtime_->fire(caseworker_, record->id, FireRequest{"check"}));
  worker_->run_due();
  auto tasks = runtime_->tasks(caseworker_, record->id);
  ASSERT_EQ(tasks->size(), 1U);
  const std::string token = (*tasks)[0].token;
  EXPECT_EQ(token.size(), 48U);

  auto invalid = runtime_->complete_task(Actor{"dlsa", {}}, token, obj(R"({"referral_no": 42})"),
                                         std::nullopt);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, Errc::unprocessable);

  auto done = runtime_->complete_task(Actor{"dlsa", {}}, token,
                                      obj(R"({"referral_no": "DLSA-77"})"), std::nullopt);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->state, "referred");  // on_complete: confirmed
  EXPECT_EQ(done->data.at("referral_no"), "DLSA-77");
  EXPECT_EQ(events(record->id), (std::vector<std::string>{"opened", "check", "step_pending",
                                                          "task_completed", "confirmed"}));
  auto twice = runtime_->complete_task(Actor{"dlsa", {}}, token, {}, std::nullopt);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().type, "task-closed");
  EXPECT_EQ(runtime_->complete_task(Actor{"x", {}}, "nope", {}, std::nullopt).error().code,
            Errc::not_found);
}

TEST_F(Steps, JobsSurviveARestartOfTheEngine) {
  auto record = runtime_->open_case(caseworker_, "stepped", {});
  ASSERT_TRUE(runtime_->fire(caseworker_, record->id, FireRequest{"check"}));
  // The engine stops before any worker ran; a new one on the same file finds the jobs.
  worker_.reset();
  runtime_.reset();
  store_.reset();
  auto store = store::SqliteStore::open((dir_ / "cases.db").string());
  ASSERT_TRUE(store);
  store_ = std::move(*store);
  runtime_ = std::make_unique<Runtime>(*store_, clock_, registry_);
  worker_ = std::make_unique<StepWorker>(*runtime_, *store_, clock_, WorkerOptions{});
  EXPECT_EQ(worker_->run_due(), 2U);
  EXPECT_EQ(refer_runs_, 1);
  EXPECT_EQ(runtime_->tasks(caseworker_, record->id)->size(), 1U);
}

TEST_F(Steps, AClaimedJobOfADeadEngineIsTakenUpAfterItsLease) {
  auto record = runtime_->open_case(caseworker_, "stepped", {});
  ASSERT_TRUE(runtime_->fire(caseworker_, record->id, FireRequest{"check"}));
  // Another engine claimed both jobs and died before finishing them.
  auto claimed = store_->claim_jobs(clock_.now(), 60'000, 10);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 2U);
  EXPECT_EQ(worker_->run_due(), 0U);  // leased: not run twice at once
  clock_.advance_ms(60'000);
  EXPECT_EQ(worker_->run_due(), 2U);
  EXPECT_EQ(refer_runs_, 1);
}

TEST_F(Steps, WorkerThreadsRunJobsWhenWoken) {
  SystemClock wall;
  Runtime runtime(*store_, wall, registry_);
  StepWorker worker(runtime, *store_, wall, WorkerOptions{1, 60'000, 50});
  runtime.set_on_scheduled([&worker] { worker.wake(); });
  worker.start();
  auto record = runtime.open_case(caseworker_, "stepped", {});
  ASSERT_TRUE(runtime.fire(caseworker_, record->id, FireRequest{"check"}));
  for (int i = 0; i < 200 && refer_runs_ == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  worker.stop();
  EXPECT_EQ(refer_runs_, 1);
}

}  // namespace
}  // namespace carepath::runtime
