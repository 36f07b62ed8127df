// `carepath import`'s line parser and checks (app/import.hpp), and import_file over an in-memory
// store: every kind of bad line is refused with what was expected and never with a value.
#include "app/import.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/replay.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"
#include "workflow/loader.hpp"

namespace carepath {
namespace {

// Obviously fake values only.
constexpr const char* kWorkflow = R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  name: { type: string, sensitivity: identifying }
  age: { type: integer, min: 0, max: 25 }
  home: { type: enum, values: [north, south], placement: true }
  notes: { type: text, sensitivity: sensitive }
  intake_ref: { type: string, required: true }
states:
  intake:
    initial: true
    on:
      admit: { to: in_care, roles: [caseworker] }
      decide:
        - { to: in_care, roles: [caseworker], when: "age < 18" }
        - { to: closed, roles: [caseworker] }
  in_care:
    after:
      - { in: 30d, event: review }
    on:
      review: { to: in_care }
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

constexpr Timestamp kNow = 1'800'000'000'000;  // 2027-01-15

class ImportParse : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = workflow::load_workflow_text(kWorkflow, "shelter.yaml", nullptr);
    ASSERT_TRUE(loaded.ok());
    workflow_ = loaded.workflow;
    context_.find = [this](const std::string& name, int version) {
      return name == "shelter" && version == 1 ? workflow_ : nullptr;
    };
    context_.now = kNow;
  }

  Result<ImportedCase> parse(const std::string& line) const {
    return app::parse_import_line(line, context_);
  }

  // The message of a refused line; fails the test when the line is accepted.
  std::string refusal(const std::string& line) const {
    auto r = parse(line);
    EXPECT_FALSE(r) << line;
    if (r) {
      return {};
    }
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    return r.error().message;
  }

  std::shared_ptr<const Workflow> workflow_;
  app::ImportContext context_;
};

const std::string kOpened =
    R"({"at":"2025-01-02T09:00:00Z","actor":"test-worker","event":"opened",)"
    R"("payload":{"name":"Test Child One","age":12,"intake_ref":"REF-1"}})";
const std::string kAdmitted =
    R"({"at":"2025-01-03T09:00:00Z","actor":"test-worker","event":"admit","from":"intake",)"
    R"("to":"in_care","payload":{"home":"north","notes":"fake note"},"comment":"fake comment"})";

std::string case_line(const std::string& history, const std::string& extra = "") {
  return R"({"workflow":"shelter","workflow_version":1,"code":"TEST-0001",)" + extra +
         R"("history":[)" + history + "]}";
}

TEST_F(ImportParse, BuildsTheCaseItsHistoryRebuilds) {
  auto r = parse(case_line(kOpened + "," + kAdmitted,
                           R"("state":"in_care","created_at":"2025-01-02T09:00:00Z",)"
                           R"("updated_at":"2025-01-03T09:00:00Z",)"));
  ASSERT_TRUE(r) << r.error().message;
  const CaseRecord& c = r->record;
  EXPECT_EQ(c.code, "TEST-0001");
  EXPECT_EQ(c.id.size(), 32U);
  EXPECT_EQ(c.state, "in_care");
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(c.created_at, *parse_datetime("2025-01-02T09:00:00Z"));
  EXPECT_EQ(c.updated_at, *parse_datetime("2025-01-03T09:00:00Z"));
  EXPECT_EQ(c.assignee, "test-worker");
  EXPECT_EQ(c.data.at("home").as_string(), "north");
  EXPECT_EQ(c.data.at("age").as_int64(), 12);
  ASSERT_EQ(r->history.size(), 2U);
  EXPECT_EQ(r->history[0].event, "opened");
  EXPECT_FALSE(r->history[0].from);
  EXPECT_EQ(r->history[0].to, "intake");
  EXPECT_EQ(r->history[1].seq, 2);
  EXPECT_EQ(r->history[1].version, 2);
  EXPECT_EQ(*r->history[1].from, "intake");
  EXPECT_EQ(*r->history[1].comment, "fake comment");
  EXPECT_EQ(r->history[1].changed, (std::vector<std::string>{"home", "notes"}));
  EXPECT_TRUE(compare(replay(r->history), c).empty());
  EXPECT_FALSE(c.closed_at);
  // Entering in_care schedules its 30-day review, counted from the admission.
  ASSERT_EQ(r->effects.timers.size(), 1U);
  EXPECT_EQ(r->effects.timers[0].event, "review");
  EXPECT_EQ(r->effects.timers[0].due_at, r->history[1].at + 30LL * 24 * 3600 * 1000);
  EXPECT_EQ(r->effects.timers[0].case_id, c.id);
}

TEST_F(ImportParse, GeneratesACodeWhenTheLineHasNone) {
  auto r = parse(R"({"workflow":"shelter","workflow_version":1,"state":"intake","history":[)" +
                 kOpened + "]}");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->record.code.rfind("CP-", 0), 0U);
  EXPECT_EQ(r->record.code.size(), 12U);
}

TEST_F(ImportParse, AClosedCaseHasNoTimersAndIsClosedWhenItEnteredTheFinalState) {
  const std::string close =
      R"({"at":"2025-03-01T10:00:00Z","actor":"test-worker","event":"close"})";
  auto r = parse(case_line(kOpened + "," + kAdmitted + "," + close, R"("state":"closed",)"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->history[2].to, "closed");  // the only target of close from in_care
  EXPECT_EQ(r->record.closed_at, *parse_datetime("2025-03-01T10:00:00Z"));
  EXPECT_TRUE(r->effects.timers.empty());
}

TEST_F(ImportParse, RefusesLinesThatAreNotJsonObjects) {
  EXPECT_NE(refusal("{\"workflow\": ").find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal("[1, 2]").find("expected a JSON object"), std::string::npos);
}

TEST_F(ImportParse, RefusesWrongTypesAndUnknownMembers) {
  EXPECT_NE(refusal(R"({"workflow":"shelter","workflow_version":"1","state":"intake","history":[)" +
                    kOpened + "]}")
                .find("'workflow_version' must be a positive integer"),
            std::string::npos);
  EXPECT_NE(
      refusal(R"({"workflow":7,"workflow_version":1,"state":"intake","history":[)" + kOpened + "]}")
          .find("'workflow' must be a non-empty string"),
      std::string::npos);
  EXPECT_NE(refusal(case_line(kOpened, R"("state":"intake","data":[],)"))
                .find("'data' must be a JSON object"),
            std::string::npos);
  EXPECT_NE(refusal(case_line(kOpened, R"("state":"intake","colour":"red",)"))
                .find("unknown member 'colour'"),
            std::string::npos);
  EXPECT_NE(refusal(case_line("", R"("state":"intake",)")).find("'history' must be a non-empty"),
            std::string::npos);
  EXPECT_NE(refusal(case_line(R"({"at":"yesterday","actor":"a","event":"opened"})",
                              R"("state":"intake",)"))
                .find("'at' must be an RFC 3339 date-time"),
            std::string::npos);
  EXPECT_NE(refusal(case_line(kOpened, R"("state":"intake","code":"Test Child",)"))
                .find("'code' must be 1 to 32 letters"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"workflow":"shelter","workflow_version":1,"state":"intake","history":[)" +
                    kOpened + R"(,{"at":"2025-01-03T09:00:00Z","actor":"a","event":"updated",)" +
                    R"("payload":{"age":12},"when":1}]})")
                .find("history[1]: unknown member 'when'"),
            std::string::npos);
}

TEST_F(ImportParse, RefusesUnknownWorkflowsStatesAndEvents) {
  EXPECT_NE(refusal(R"({"workflow":"shelter","workflow_version":2,"state":"intake","history":[)" +
                    kOpened + "]}")
                .find("workflow 'shelter' version 2 is not loaded"),
            std::string::npos);
  EXPECT_NE(refusal(case_line(kOpened, R"("state":"limbo",)"))
                .find("has no state 'limbo'; expected one of intake, in_care, closed"),
            std::string::npos);
  const std::string fly = R"({"at":"2025-01-03T09:00:00Z","actor":"a","event":"fly"})";
  EXPECT_NE(refusal(case_line(kOpened + "," + fly, R"("state":"intake",)"))
                .find("state 'intake' of workflow 'shelter' has no transition on event 'fly'; "
                      "expected \"updated\" or admit, decide"),
            std::string::npos);
  const std::string to_wrong =
      R"({"at":"2025-01-03T09:00:00Z","actor":"a","event":"admit","to":"closed"})";
  EXPECT_NE(refusal(case_line(kOpened + "," + to_wrong, R"("state":"closed",)"))
                .find("event 'admit' from 'intake' goes to in_care, not 'closed'"),
            std::string::npos);
  const std::string ambiguous = R"({"at":"2025-01-03T09:00:00Z","actor":"a","event":"decide"})";
  EXPECT_NE(refusal(case_line(kOpened + "," + ambiguous, R"("state":"in_care",)"))
                .find("'to' is missing; event 'decide' from 'intake' goes to in_care or closed"),
            std::string::npos);
  const std::string erased = R"({"at":"2025-01-03T09:00:00Z","actor":"a","event":"erased"})";
  EXPECT_NE(refusal(case_line(kOpened + "," + erased, R"("state":"intake",)"))
                .find("recorded by the engine itself"),
            std::string::npos);
  const std::string first_not_opened =
      R"({"at":"2025-01-03T09:00:00Z","actor":"a","event":"admit"})";
  EXPECT_NE(refusal(case_line(first_not_opened, R"("state":"in_care",)"))
                .find("the first entry must be the event \"opened\""),
            std::string::npos);
}

TEST_F(ImportParse, RefusesInvalidFieldValuesWithoutTheirValues) {
  const std::string opened =
      R"({"at":"2025-01-02T09:00:00Z","actor":"a","event":"opened",)"
      R"("payload":{"name":12345678,"age":99,"intake_ref":"REF-1","nickname":"Fake Nick"}})";
  const auto message = refusal(case_line(opened, R"("state":"intake",)"));
  EXPECT_NE(message.find("history[0]: 'payload': "), std::string::npos) << message;
  EXPECT_NE(message.find("field 'name'"), std::string::npos) << message;
  EXPECT_NE(message.find("field 'age'"), std::string::npos) << message;
  EXPECT_NE(message.find("field 'nickname' unknown field"), std::string::npos) << message;
  EXPECT_EQ(message.find("12345678"), std::string::npos) << message;
  EXPECT_EQ(message.find("99"), std::string::npos) << message;
  EXPECT_EQ(message.find("Fake Nick"), std::string::npos) << message;
  // A required field missing after opening.
  const std::string no_ref =
      R"({"at":"2025-01-02T09:00:00Z","actor":"a","event":"opened","payload":{"age":3}})";
  EXPECT_NE(refusal(case_line(no_ref, R"("state":"intake",)")).find("lacks required fields"),
            std::string::npos);
}

TEST_F(ImportParse, RefusesAHistoryThatDoesNotReplayToTheGivenStateAndData) {
  // The state the line claims is not where the history ends.
  EXPECT_NE(refusal(case_line(kOpened + "," + kAdmitted, R"("state":"intake",)"))
                .find("'state' is 'intake' but the history ends in 'in_care'"),
            std::string::npos);
  // Data the history never set (a sensitive value: named, never shown).
  const auto message = refusal(case_line(
      kOpened + "," + kAdmitted,
      R"("state":"in_care","data":{"name":"Test Child Two","age":12,"intake_ref":"REF-1",)"
      R"("home":"north","notes":"fake note"},)"));
  EXPECT_NE(message.find("'data' differs from what the history builds in fields: name"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("Test Child"), std::string::npos) << message;
  // Entries out of order, a from that is not where the case was, a wrong created_at, a wrong
  // changed list.
  const std::string earlier = R"({"at":"2024-12-31T09:00:00Z","actor":"a","event":"admit"})";
  EXPECT_NE(refusal(case_line(kOpened + "," + earlier, R"("state":"in_care",)"))
                .find("earlier than the entry before it"),
            std::string::npos);
  const std::string wrong_from =
      R"({"at":"2025-01-03T09:00:00Z","actor":"a","event":"close","from":"in_care"})";
  EXPECT_NE(refusal(case_line(kOpened + "," + wrong_from, R"("state":"closed",)"))
                .find("'from' is 'in_care' but the entries before it leave the case in 'intake'"),
            std::string::npos);
  EXPECT_NE(refusal(case_line(kOpened, R"("state":"intake","created_at":"2025-01-01T00:00:00Z",)"))
                .find("'created_at' is not the time of the \"opened\" entry"),
            std::string::npos);
  const std::string wrong_changed =
      R"({"at":"2025-01-03T09:00:00Z","actor":"a","event":"updated","payload":{"age":13},)"
      R"("changed":["home"]})";
  EXPECT_NE(refusal(case_line(kOpened + "," + wrong_changed, R"("state":"intake",)"))
                .find("'changed' names [home] but the payload changes [age]"),
            std::string::npos);
  const std::string future = R"({"at":"2030-01-01T00:00:00Z","actor":"a","event":"updated"})";
  EXPECT_NE(refusal(case_line(kOpened + "," + future, R"("state":"intake",)"))
                .find("'at' is in the future"),
            std::string::npos);
  const std::string closed_edit =
      R"({"at":"2025-01-04T09:00:00Z","actor":"a","event":"updated","payload":{"age":13}})";
  const std::string close =
      R"({"at":"2025-01-03T09:00:00Z","actor":"a","event":"decide","to":"closed"})";
  EXPECT_NE(refusal(case_line(kOpened + "," + close + "," + closed_edit, R"("state":"closed",)"))
                .find("final state 'closed'"),
            std::string::npos);
}

// --- import_file over a real (in-memory) store ------------------------------------------------

class ImportFile : public ImportParse {
 protected:
  void SetUp() override {
    ImportParse::SetUp();
    auto opened = store::SqliteStore::open(":memory:");
    ASSERT_TRUE(opened);
    store_ = std::move(*opened);
  }

  std::string write(const std::string& text) {
    const auto path = (dir_ / "cases.jsonl").string();
    std::ofstream(path) << text;
    return path;
  }

  test::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
};

std::string numbered_case(int n) {
  return R"({"workflow":"shelter","workflow_version":1,"code":"TEST-)" + std::to_string(n) +
         R"(","state":"in_care","history":[)" + kOpened + "," + kAdmitted + "]}\n";
}

TEST_F(ImportFile, WritesEveryCaseInBatches) {
  std::string text;
  for (int i = 1; i <= 5; ++i) {
    text += numbered_case(i) + "\n";  // blank lines are skipped
  }
  app::ImportOptions options;
  options.batch_size = 2;
  options.importer = "cli:test";
  int calls = 0;
  options.progress = [&](const app::ImportProgress&) { ++calls; };
  auto report = app::import_file(*store_, context_, write(text), options);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->error_count, 0);
  EXPECT_EQ(report->cases, 5);
  EXPECT_EQ(report->events, 10);
  EXPECT_GE(calls, 4);  // the check's end, then each of three batches
  auto listed = store_->list_cases({});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->items.size(), 5U);
}

TEST_F(ImportFile, OneBadLineRefusesTheWholeFileWithFileAndLine) {
  const std::string path =
      write(numbered_case(1) + numbered_case(2) + "not json\n" + numbered_case(1));
  auto report = app::import_file(*store_, context_, path, {});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->error_count, 2);
  ASSERT_EQ(report->errors.size(), 2U);
  EXPECT_EQ(report->errors[0].rfind(path + ":3: not valid JSON", 0), 0U) << report->errors[0];
  EXPECT_EQ(report->errors[1], path + ":4: case code 'TEST-1' is also on line 1");
  EXPECT_EQ(report->cases, 0);
  EXPECT_TRUE(store_->list_cases({})->items.empty());
}

TEST_F(ImportFile, RefusesCodesAlreadyInTheDatabase) {
  ASSERT_TRUE(app::import_file(*store_, context_, write(numbered_case(7)), {}));
  const std::string path = write(numbered_case(8) + numbered_case(7));
  auto report = app::import_file(*store_, context_, path, {});
  ASSERT_TRUE(report);
  ASSERT_EQ(report->errors.size(), 1U);
  EXPECT_EQ(report->errors[0], path + ":2: case code 'TEST-7' is already in the database");
  EXPECT_EQ(store_->list_cases({})->items.size(), 1U);
}

TEST_F(ImportFile, ADryRunWritesNothing) {
  app::ImportOptions options;
  options.dry_run = true;
  auto report = app::import_file(*store_, context_, write(numbered_case(1)), options);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->cases, 1);
  EXPECT_TRUE(store_->list_cases({})->items.empty());
}

TEST_F(ImportFile, AMissingFileIsNotFound) {
  auto report = app::import_file(*store_, context_, (dir_ / "nope.jsonl").string(), {});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, Errc::not_found);
}

}  // namespace
}  // namespace carepath
