// `carepath report` on the real binary, reading a database written through the store: the
// figures, CSV on stdout, the SVG chart (and PNG where rsvg-convert is installed), its refusals,
// and the audit row it writes.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "security/digest.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

using test::Output;
using test::run_carepath;

constexpr Timestamp kT0 = 1'790'000'000'000;  // 2026-09-21

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Three aftercare cases (no field values): two open in intake and in_care, one that died.
void write_database(const std::string& path) {
  auto opened = store::SqliteStore::open(path, &security::sha256_hex);
  ASSERT_TRUE(opened) << opened.error().message;
  auto& store = **opened;
  ASSERT_TRUE(store.put_workflow(
      WorkflowSource{"aftercare", 3, std::string(64, 'a'),
                     read_text(test::source_path("workflows/aftercare.yaml")), kT0}));
  const auto add = [&](const std::string& id, const std::string& home, const std::string& to,
                       const std::string& event) {
    CaseRecord record;
    record.id = id;
    record.code = "CP-" + id;
    record.workflow = "aftercare";
    record.workflow_version = 3;
    record.state = "intake";
    record.version = 1;
    record.created_at = kT0;
    record.updated_at = kT0;
    record.assignee = "asha";
    record.placement = home;
    HistoryEntry first;
    first.at = kT0;
    first.actor = "asha";
    first.event = "opened";
    first.to = "intake";
    ASSERT_TRUE(store.create_case(record, first, {}));
    if (event.empty()) {
      return;
    }
    CaseRecord after = record;
    after.state = to;
    after.version = 2;
    after.updated_at = kT0 + 3'600'000;
    if (to == "died") {
      after.closed_at = after.updated_at;
    }
    HistoryEntry entry;
    entry.at = after.updated_at;
    entry.actor = "sita";
    entry.event = event;
    entry.from = "intake";
    entry.to = to;
    ASSERT_TRUE(store.update_case(after, 1, entry, std::nullopt, {}));
  };
  add("c1", "umang", "", "");
  add("c2", "umang", "in_care", "admitted");
  add("c3", "udaan", "died", "died");
}

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override { write_database(db_); }
  test::TempDir dir_;
  std::string db_ = (dir_ / "carepath.db").string();
};

TEST_F(ReportCli, PrintsJsonAndCsvFromTheDatabase) {
  const Output json = run_carepath({"report", "outcomes", "--db", db_}, dir_);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto parsed = boost::json::parse(json.out);
  EXPECT_EQ(parsed.at("totals").at("died"), 1);
  EXPECT_EQ(parsed.at("items").as_array()[0].at("outcome"), "died");

  const Output csv = run_carepath({"report", "caseload", "--db", db_, "--format", "csv"}, dir_);
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out,
            "workflow,state,home,assignee,cases\r\n"
            "aftercare,in_care,umang,asha,1\r\n"
            "aftercare,intake,umang,asha,1\r\n");

  // The quarter of kT0 (2026-Q3 in Kolkata): one death, in udaan.
  const Output cwc =
      run_carepath({"report", "cwc-quarterly", "--db", db_, "--quarter", "2026-Q3"}, dir_);
  ASSERT_EQ(cwc.exit_code, 0) << cwc.err;
  const auto quarter = boost::json::parse(cwc.out);
  EXPECT_EQ(quarter.at("totals").at("died"), 1);
  EXPECT_EQ(quarter.at("items").as_array()[0].at("home"), "udaan");

  // Each run wrote a report row, and the chain still holds.
  auto store = store::SqliteStore::open(db_, &security::sha256_hex);
  ASSERT_TRUE(store);
  AuditQuery query;
  query.action = "report";
  auto page = (*store)->audit_page(query);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 3U);
  EXPECT_EQ(page->items[0].actor.rfind("cli:", 0), 0U);
  EXPECT_EQ(page->items[1].details.at("format"), "csv");
  EXPECT_EQ(page->items[2].details.at("period"), "2026-Q3");
  EXPECT_EQ(run_carepath({"audit", "verify", "--db", db_}, dir_).exit_code, 0);
}

TEST_F(ReportCli, DrawsTheCaseloadAsSvgAndPng) {
  const auto svg_file = dir_ / "caseload.svg";
  const Output svg = run_carepath(
      {"report", "caseload", "--db", db_, "--format", "svg", "--output", svg_file.string()}, dir_);
  ASSERT_EQ(svg.exit_code, 0) << svg.err;
  const std::string chart = read_text(svg_file);
  EXPECT_EQ(chart.rfind("<?xml", 0), 0U);
  EXPECT_NE(chart.find("Open cases by state"), std::string::npos);
  EXPECT_NE(chart.find(">in_care</text>"), std::string::npos);
  EXPECT_NE(chart.find(">intake</text>"), std::string::npos);
  EXPECT_NE(chart.find("</svg>"), std::string::npos);

  const auto png_file = dir_ / "caseload.png";
  const std::vector<std::string> png_args = {"report",   "caseload", "--db",     db_,
                                             "--format", "png",      "--output", png_file.string()};
  // Without rsvg-convert on PATH: a clear error, and no file.
  const Output missing = run_carepath(png_args, dir_, {{"PATH", "/nowhere"}});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("librsvg2-bin"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(png_file));
  if (std::system("command -v rsvg-convert >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "rsvg-convert is not installed (scripts/install-deps.sh installs it)";
  }
  const Output png = run_carepath(png_args, dir_);
  ASSERT_EQ(png.exit_code, 0) << png.err;
  const std::string bytes = read_text(png_file);
  ASSERT_GT(bytes.size(), 8U);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_FALSE(std::filesystem::exists(png_file.string() + ".svg.tmp"));
}

// The chart lists the states as the workflow declares them (intake before in_care, though "in_care"
// sorts first), and its subtitle gives the period on the organisation's calendar (the default
// time zone, Asia/Kolkata, or --timezone), not in UTC.
TEST_F(ReportCli, ChartsStatesInLifecycleOrderAndDatesInTheOrganisationsZone) {
  const auto caseload_file = dir_ / "caseload.svg";
  const Output caseload = run_carepath(
      {"report", "caseload", "--db", db_, "--format", "svg", "--output", caseload_file.string()},
      dir_);
  ASSERT_EQ(caseload.exit_code, 0) << caseload.err;
  const std::string open_chart = read_text(caseload_file);
  const auto intake = open_chart.find(">intake</text>");
  const auto in_care = open_chart.find(">in_care</text>");
  ASSERT_NE(intake, std::string::npos) << open_chart;
  ASSERT_NE(in_care, std::string::npos) << open_chart;
  EXPECT_LT(intake, in_care) << open_chart;
  EXPECT_NE(open_chart.find(" (Asia/Kolkata); colour: workflow</text>"), std::string::npos)
      << open_chart;

  const auto flow_file = dir_ / "flow.svg";
  const std::vector<std::string> flow_args = {
      "report", "flow",       "--db",     db_,   "--from",   "2026-09-01",
      "--to",   "2026-09-30", "--format", "svg", "--output", flow_file.string()};
  const Output flow = run_carepath(flow_args, dir_);
  ASSERT_EQ(flow.exit_code, 0) << flow.err;
  const std::string chart = read_text(flow_file);
  EXPECT_NE(chart.find(">2026-09-01 to 2026-09-30 (Asia/Kolkata)</text>"), std::string::npos)
      << chart;
  EXPECT_EQ(chart.find("T18:30:00"), std::string::npos) << chart;  // no UTC instants
  // By name the flow would be died, in_care, intake; the workflow declares the reverse.
  const auto flow_intake = chart.find(">aftercare: intake</text>");
  const auto flow_in_care = chart.find(">aftercare: in_care</text>");
  const auto flow_died = chart.find(">aftercare: died</text>");
  ASSERT_NE(flow_intake, std::string::npos) << chart;
  ASSERT_NE(flow_in_care, std::string::npos) << chart;
  ASSERT_NE(flow_died, std::string::npos) << chart;
  EXPECT_LT(flow_intake, flow_in_care) << chart;
  EXPECT_LT(flow_in_care, flow_died) << chart;

  // The same dates in another zone name other days' midnights.
  auto utc_args = flow_args;
  utc_args.insert(utc_args.end(), {"--timezone", "UTC"});
  const Output utc = run_carepath(utc_args, dir_);
  ASSERT_EQ(utc.exit_code, 0) << utc.err;
  EXPECT_NE(read_text(flow_file).find(">2026-09-01 to 2026-09-30 (UTC)</text>"), std::string::npos)
      << read_text(flow_file);
}

TEST_F(ReportCli, RefusesBadArguments) {
  const std::vector<std::vector<std::string>> bad = {
      {"report"},
      {"report", "everything", "--db", db_},
      {"report", "caseload", "--db", db_, "--format", "pdf"},
      {"report", "caseload", "--db", db_, "--format", "png"},
      {"report", "caseload", "--db", db_, "--from", "2026-01-01"},
      {"report", "flow", "--db", db_, "--from", "yesterday"},
      {"report", "cwc-quarterly", "--db", db_, "--quarter", "2026-Q5"},
      {"report", "aftercare-list", "--db", db_, "--half", "2026-Q1"},
      {"report", "caseload", "--db", db_, "--workflow", "no_such_workflow"},
      {"report", "caseload", "--db", (dir_ / "missing.db").string()},
  };
  for (const auto& args : bad) {
    const Output o = run_carepath(args, dir_);
    EXPECT_EQ(o.exit_code, 1) << args.back() << ": " << o.err;
    EXPECT_NE(o.err.find("carepath: report"), std::string::npos) << o.err;
    EXPECT_TRUE(o.out.empty()) << o.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "missing.db"));
}

}  // namespace
}  // namespace carepath
