// Retention rules (`retain:`) as the loader reads them, and the retention job and erasure as the
// runtime applies them, on a real SQLite store.
#include <algorithm>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "runtime/retention_job.hpp"
#include "runtime/runtime.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"
#include "workflow/loader.hpp"

namespace carepath::runtime {
namespace {

constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;

constexpr const char* kWorkflow = R"(carepath: 1
workflow: hostel
version: 1
roles: [caseworker, supervisor, admin]
fields:
  name: { type: string, sensitivity: identifying, visible_to: [caseworker], retain: 7y after closed }
  notes: { type: text, sensitivity: privileged, visible_to: [caseworker], retain: "18mo after closed" }
  school: { type: string, retain: P2Y after opened }
  age: { type: integer, min: 0, max: 25 }
states:
  intake:
    initial: true
    on:
      close: { to: closed, roles: [caseworker] }
      note: { to: intake, roles: [caseworker] }
  closed:
    final: true
)";

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

std::string first_error(const workflow::LoadResult& result) {
  for (const auto& d : result.diagnostics) {
    if (d.severity == workflow::Severity::error) {
      return workflow::to_string(d);
    }
  }
  return "";
}

TEST(RetainRule, ParsesDurationAndAnchor) {
  auto loaded = workflow::load_workflow_text(kWorkflow, "hostel.yaml");
  ASSERT_TRUE(loaded.ok()) << first_error(loaded);
  const Field* name = loaded.workflow->find_field("name");
  ASSERT_TRUE(name && name->retain);
  EXPECT_EQ(name->retain->keep.months, 84);
  EXPECT_EQ(name->retain->anchor, RetainAnchor::closed);
  const Field* school = loaded.workflow->find_field("school");
  ASSERT_TRUE(school && school->retain);
  EXPECT_EQ(school->retain->keep.months, 24);
  EXPECT_EQ(school->retain->anchor, RetainAnchor::opened);
  EXPECT_FALSE(loaded.workflow->find_field("age")->retain);
}

TEST(RetainRule, ReportsABadDurationOrAnchorWithItsPosition) {
  std::string text = kWorkflow;
  text.replace(text.find("7y after closed"), 15, "7 years after closed");
  auto bad_duration = workflow::load_workflow_text(text, "hostel.yaml");
  ASSERT_FALSE(bad_duration.ok());
  EXPECT_EQ(first_error(bad_duration).rfind("hostel.yaml:6:", 0), 0U) << first_error(bad_duration);
  EXPECT_NE(first_error(bad_duration).find("invalid retention"), std::string::npos);

  text = kWorkflow;
  text.replace(text.find("P2Y after opened"), 16, "P2Y after birth");
  auto bad_anchor = workflow::load_workflow_text(text, "hostel.yaml");
  ASSERT_FALSE(bad_anchor.ok());
  EXPECT_EQ(first_error(bad_anchor).rfind("hostel.yaml:8:", 0), 0U) << first_error(bad_anchor);
  EXPECT_NE(first_error(bad_anchor).find("after closed"), std::string::npos);

  text = kWorkflow;
  text.replace(text.find("7y after closed"), 15, "0d after closed");
  EXPECT_FALSE(workflow::load_workflow_text(text, "hostel.yaml").ok());
}

TEST(RetainRule, ErasedAndRetentionAppliedAreReservedEvents) {
  std::string text = kWorkflow;
  text.replace(text.find("note: { to: intake"), 4, "erased");
  EXPECT_FALSE(workflow::load_workflow_text(text, "hostel.yaml").ok());
  text = kWorkflow;
  text.replace(text.find("note: { to: intake"), 4, "retention_applied");
  EXPECT_FALSE(workflow::load_workflow_text(text, "hostel.yaml").ok());
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = workflow::load_workflow_text(kWorkflow, "hostel.yaml");
    ASSERT_TRUE(loaded.ok()) << first_error(loaded);
    registry_.add(loaded.workflow);
    auto store = store::SqliteStore::open((dir_ / "cases.db").string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    runtime_ = std::make_unique<Runtime>(*store_, clock_, registry_);
  }

  CaseRecord open(const char* data) {
    auto record = runtime_->open_case(caseworker_, "hostel", obj(data));
    EXPECT_TRUE(record) << record.error().message;
    return *record;
  }

  CaseRecord read(const std::string& id) {
    auto record = store_->get_case(id);
    EXPECT_TRUE(record) << record.error().message;
    return *record;
  }

  std::vector<HistoryEntry> history(const std::string& id) {
    auto page = store_->history(id, 100, std::nullopt);
    EXPECT_TRUE(page) << page.error().message;
    return page->items;
  }

  // How many history payloads still hold `field`.
  int payloads_with(const std::string& id, const std::string& field) {
    const auto entries = history(id);
    return static_cast<int>(std::count_if(
        entries.begin(), entries.end(), [&](const auto& e) { return e.payload.contains(field); }));
  }

  test::TempDir dir_;
  ManualClock clock_{1'790'000'000'000};
  WorkflowRegistry registry_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<Runtime> runtime_;
  Actor caseworker_{"asha", {"caseworker"}};
  Actor admin_{"root", {"admin"}};
};

TEST_F(RetentionTest, ClosingACaseRecordsWhenItClosed) {
  const auto record = open(R"({"name": "Qzyxwv Tarnobel"})");
  EXPECT_FALSE(read(record.id).closed_at);
  clock_.advance_ms(kDayMs);
  ASSERT_TRUE(runtime_->fire(caseworker_, record.id, FireRequest{"note"}));
  EXPECT_FALSE(read(record.id).closed_at);
  clock_.advance_ms(kDayMs);
  ASSERT_TRUE(runtime_->fire(caseworker_, record.id, FireRequest{"close"}));
  EXPECT_EQ(read(record.id).closed_at, clock_.now());
}

TEST_F(RetentionTest, RemovesOnlyExpiredFieldsFromCasesAndHistoryAndIsIdempotent) {
  const Timestamp start = clock_.now();
  const auto closed =
      open(R"({"name": "Qzyxwv Tarnobel", "notes": "Brumwick talk", "school": "Umbrel High"})");
  const auto open_case = open(R"({"name": "Yvonne Krastel", "notes": "Plovdiv", "age": 12})");
  ASSERT_TRUE(runtime_->fire(caseworker_, closed.id,
                             FireRequest{"note", obj(R"({"notes": "second Brumwick"})")}));
  ASSERT_TRUE(runtime_->fire(caseworker_, closed.id, FireRequest{"close"}));
  const std::int64_t closed_version = read(closed.id).version;

  // A year on: nothing has expired.
  auto early = runtime_->apply_retention(start + 365 * kDayMs);
  ASSERT_TRUE(early) << early.error().message;
  EXPECT_EQ(early->values, 0);
  EXPECT_EQ(read(closed.id).version, closed_version);

  // Two years and a day on: notes (18 months after closing) and school (2 years after opening)
  // of the closed case; the open case keeps its notes, as it never closed; names stay (7 years).
  const Timestamp later = start + 735 * kDayMs;
  auto dry = runtime_->apply_retention(later, true);
  ASSERT_TRUE(dry) << dry.error().message;
  EXPECT_EQ(dry->cases, 1);
  EXPECT_EQ(dry->values, 5);  // notes: data + 2 payloads; school: data + 1 payload
  EXPECT_EQ(read(closed.id).version, closed_version);  // a dry run changes nothing

  auto run = runtime_->apply_retention(later);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->cases, 1);
  EXPECT_EQ(run->values, 5);
  ASSERT_EQ(run->fields.size(), 2U);
  EXPECT_EQ(run->fields[0].field, "notes");
  EXPECT_EQ(run->fields[0].values, 3);
  EXPECT_EQ(run->fields[1].field, "school");
  EXPECT_EQ(run->fields[1].values, 2);

  const auto after = read(closed.id);
  EXPECT_FALSE(after.data.contains("notes"));
  EXPECT_FALSE(after.data.contains("school"));
  EXPECT_EQ(after.data.at("name"), "Qzyxwv Tarnobel");
  EXPECT_EQ(after.state, "closed");
  EXPECT_EQ(after.version, closed_version + 1);
  EXPECT_EQ(payloads_with(closed.id, "notes"), 0);
  EXPECT_EQ(payloads_with(closed.id, "school"), 0);
  EXPECT_EQ(payloads_with(closed.id, "name"), 1);
  const auto entries = history(closed.id);
  EXPECT_EQ(entries.back().event, "retention_applied");
  EXPECT_EQ(entries.back().actor, "system");
  EXPECT_EQ(entries.back().changed, (std::vector<std::string>{"notes", "school"}));
  EXPECT_TRUE(entries.back().payload.empty());

  EXPECT_EQ(read(open_case.id).data.at("notes"), "Plovdiv");
  EXPECT_EQ(read(open_case.id).version, 1);

  // Again: nothing left to remove, nothing written.
  auto again = runtime_->apply_retention(later + kDayMs);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->values, 0);
  EXPECT_EQ(again->cases, 0);
  EXPECT_EQ(read(closed.id).version, closed_version + 1);

  // Seven years after closing the name goes too.
  auto name = runtime_->apply_retention(start + 7 * 366 * kDayMs);
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(name->values, 2);
  EXPECT_FALSE(read(closed.id).data.contains("name"));
  EXPECT_EQ(payloads_with(closed.id, "name"), 0);
}

TEST_F(RetentionTest, TheDailyJobRunsAtStartAndThenOnceADay) {
  const auto record = open(R"({"name": "Qzyxwv Tarnobel", "notes": "Brumwick"})");
  ASSERT_TRUE(runtime_->fire(caseworker_, record.id, FireRequest{"close"}));
  RetentionJob job(*runtime_, clock_, RetentionJobOptions{kDayMs, 60'000});
  EXPECT_EQ(job.run_due(), 1U);  // at start-up: nothing expired yet
  EXPECT_TRUE(read(record.id).data.contains("notes"));
  clock_.advance_ms(600LL * kDayMs);  // past 18 months
  EXPECT_EQ(job.run_due(), 1U);
  EXPECT_FALSE(read(record.id).data.contains("notes"));
  clock_.advance_ms(kDayMs / 2);
  EXPECT_EQ(job.run_due(), 0U);  // not again within the day
  clock_.advance_ms(kDayMs / 2);
  EXPECT_EQ(job.run_due(), 1U);
}

TEST_F(RetentionTest, ErasureKeepsStateAndPlainFieldsAndRefusesLaterChanges) {
  const auto record = open(R"({"name": "Qzyxwv Tarnobel", "notes": "Brumwick", "age": 12})");
  auto denied = runtime_->erase_case(caseworker_, record.id, "asked by the child");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, Errc::forbidden);
  auto unknown = runtime_->erase_case(admin_, "nope", "asked by the child");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::not_found);

  clock_.advance_ms(1000);
  auto erased = runtime_->erase_case(admin_, record.id, "asked by the child");
  ASSERT_TRUE(erased) << erased.error().message;
  EXPECT_EQ(erased->erased_at, clock_.now());
  const auto stored = read(record.id);
  EXPECT_EQ(stored.erased_at, clock_.now());
  EXPECT_EQ(stored.state, "intake");
  EXPECT_EQ(stored.data, obj(R"({"age": 12})"));
  const auto entries = history(record.id);
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries[1].event, "erased");
  EXPECT_EQ(entries[1].actor, "root");
  EXPECT_EQ(entries[1].changed, (std::vector<std::string>{"name", "notes"}));

  auto twice = runtime_->erase_case(admin_, record.id, "again");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().type, "case-erased");
  auto fired = runtime_->fire(caseworker_, record.id, FireRequest{"note"});
  ASSERT_FALSE(fired);
  EXPECT_EQ(fired.error().code, Errc::conflict);
  EXPECT_EQ(fired.error().type, "case-erased");
  auto patched = runtime_->update_case(caseworker_, record.id, obj(R"({"age": 13})"), std::nullopt,
                                       std::nullopt);
  ASSERT_FALSE(patched);
  EXPECT_EQ(patched.error().type, "case-erased");
}

}  // namespace
}  // namespace carepath::runtime
