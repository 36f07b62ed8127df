// The audit trail's hash chain (core/audit) with the engine's SHA-256, and SqliteStore's side of
// it: rows written in the same transaction as the case change they record, pages, filters, and
// the triggers that keep the table append-only.
#include "core/audit.hpp"

#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "security/digest.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

constexpr Timestamp kT0 = 1'790'000'000'000;

AuditRecord row(std::string actor, std::string action, std::optional<std::string> case_id = {}) {
  AuditRecord record;
  record.at = kT0;
  record.actor = std::move(actor);
  record.action = std::move(action);
  record.case_id = std::move(case_id);
  return record;
}

// Five chained rows, as the store would write them.
std::vector<AuditRecord> chain() {
  std::vector<AuditRecord> rows;
  for (int i = 0; i < 5; ++i) {
    AuditRecord record = row("user" + std::to_string(i), "case.read", "case-" + std::to_string(i));
    record.at = kT0 + i;
    record.fields = {"date_of_birth", "name"};
    record.details = {{"method", "GET"}};
    audit_chain(&security::sha256_hex, rows.empty() ? 0 : rows.back().seq,
                rows.empty() ? "" : rows.back().hash, record);
    rows.push_back(std::move(record));
  }
  return rows;
}

std::optional<AuditBreak> verify(const std::vector<AuditRecord>& rows) {
  AuditVerifier verifier(&security::sha256_hex);
  for (const auto& record : rows) {
    if (auto broken = verifier.feed(record)) {
      return broken;
    }
  }
  return std::nullopt;
}

TEST(AuditChain, HashIsSha256OfThePreviousHashAndTheCanonicalRow) {
  AuditRecord record = row("asha", "case.read", "c1");
  record.fields = {"name"};
  record.details = {{"z", 1}, {"a", "x"}};
  audit_chain(&security::sha256_hex, 0, "", record);
  EXPECT_EQ(record.seq, 1);
  EXPECT_EQ(record.prev_hash, kAuditGenesisHash);
  const std::string canonical = audit_canonical(record);
  EXPECT_EQ(canonical,
            "[1,1790000000000,\"asha\",\"case.read\",\"c1\",[\"name\"],null,"
            "{\"a\":\"x\",\"z\":1},\"" +
                std::string(kAuditGenesisHash) + "\"]");
  EXPECT_EQ(record.hash, security::sha256_hex(std::string(kAuditGenesisHash) + canonical));

  AuditRecord next = row("system", "case.write");
  audit_chain(&security::sha256_hex, record.seq, record.hash, next);
  EXPECT_EQ(next.seq, 2);
  EXPECT_EQ(next.prev_hash, record.hash);
}

// The canonical text as one boost::json array, which is how audit_canonical was written before
// the store computed its parts outside the write lock: every chain in a database was hashed over
// these bytes, so the parts must give exactly them.
std::string canonical_as_one_array(const AuditRecord& r) {
  boost::json::array fields;
  for (const auto& name : r.fields) {
    fields.emplace_back(name);
  }
  const auto text = [](const std::optional<std::string>& t) {
    return t ? boost::json::value(*t) : boost::json::value(nullptr);
  };
  return boost::json::serialize(
      boost::json::array{r.seq, r.at, boost::json::value(r.actor), boost::json::value(r.action),
                         text(r.case_id), std::move(fields), text(r.reason),
                         canonical_json(r.details), boost::json::value(r.prev_hash)});
}

TEST(AuditChain, PreparedTextsGiveTheBytesAndHashesOfTheWholeRow) {
  std::vector<AuditRecord> rows;
  rows.push_back(row("asha", "case.read", "c1"));
  rows.push_back(row("system", "case.write"));  // no case, no fields, no details
  AuditRecord odd = row("name \"quoted\" \\ back\tslash\n", "login.failed", "c\u00e9\u0001");
  odd.at = -5;
  odd.fields = {"", "a,b", "]", "\u0915\u0947\u0938"};
  odd.reason = "court order, \"urgent\"";
  odd.details = {{"z", boost::json::array{1, "two", nullptr, true, 2.5}},
                 {"a", boost::json::object{{"y", -1}, {"x", boost::json::object{}}}},
                 {"list", true}};
  rows.push_back(std::move(odd));
  AuditRecord large = row("caseworker-1", "case.read", "c2");
  large.at = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
  large.details = {{"version", 9'007'199'254'740'993LL}};
  rows.push_back(std::move(large));

  std::vector<AuditRecord> whole = rows;
  std::vector<AuditRecord> prepared = rows;
  const std::vector<AuditText> texts = audit_texts(rows);
  ASSERT_EQ(texts.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t last_seq = i == 0 ? 0 : whole[i - 1].seq;
    const std::string last_hash = i == 0 ? "" : whole[i - 1].hash;
    audit_chain(&security::sha256_hex, last_seq, last_hash, whole[i]);
    audit_chain(&security::sha256_hex, last_seq, last_hash, texts[i], prepared[i]);
    EXPECT_EQ(audit_canonical(whole[i]), canonical_as_one_array(whole[i])) << i;
    EXPECT_EQ(whole[i].hash,
              security::sha256_hex(whole[i].prev_hash + canonical_as_one_array(whole[i])))
        << i;
    EXPECT_EQ(prepared[i].seq, whole[i].seq) << i;
    EXPECT_EQ(prepared[i].prev_hash, whole[i].prev_hash) << i;
    EXPECT_EQ(prepared[i].hash, whole[i].hash) << i;
    // The stored columns: the fields and the details as serialized (not sorted).
    boost::json::array fields;
    for (const auto& name : rows[i].fields) {
      fields.emplace_back(name);
    }
    EXPECT_EQ(texts[i].fields_json, boost::json::serialize(fields)) << i;
    EXPECT_EQ(texts[i].details_json, boost::json::serialize(rows[i].details)) << i;
  }
  EXPECT_FALSE(verify(whole));
  EXPECT_FALSE(verify(prepared));
}

TEST(AuditChain, CanonicalFormDoesNotDependOnMemberOrder) {
  AuditRecord a = row("asha", "case.read");
  a.details = {{"b", 1}, {"a", boost::json::object{{"y", 1}, {"x", 2}}}};
  AuditRecord b = row("asha", "case.read");
  b.details = {{"a", boost::json::object{{"x", 2}, {"y", 1}}}, {"b", 1}};
  EXPECT_EQ(audit_canonical(a), audit_canonical(b));
}

TEST(AuditChain, VerifierAcceptsAnIntactChain) {
  const auto rows = chain();
  AuditVerifier verifier(&security::sha256_hex);
  for (const auto& record : rows) {
    EXPECT_FALSE(verifier.feed(record));
  }
  EXPECT_EQ(verifier.count(), 5);
  EXPECT_EQ(verifier.last_hash(), rows.back().hash);
}

TEST(AuditChain, VerifierDetectsAChangedRow) {
  auto rows = chain();
  rows[2].actor = "someone.else";
  const auto broken = verify(rows);
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 3);
  EXPECT_NE(broken->reason.find("hash does not match"), std::string::npos) << broken->reason;
}

TEST(AuditChain, VerifierDetectsAChangedRowWhoseHashWasRecomputed) {
  auto rows = chain();
  rows[2].fields = {"home"};
  rows[2].hash = audit_hash(&security::sha256_hex, rows[2]);
  const auto broken = verify(rows);
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 4);  // the next row's prev_hash no longer matches
  EXPECT_NE(broken->reason.find("prev_hash"), std::string::npos) << broken->reason;
}

TEST(AuditChain, VerifierDetectsADeletedRow) {
  auto rows = chain();
  rows.erase(rows.begin() + 1);
  const auto broken = verify(rows);
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 2);
  EXPECT_NE(broken->reason.find("missing"), std::string::npos) << broken->reason;
}

TEST(AuditChain, VerifierDetectsReorderedRows) {
  auto rows = chain();
  std::swap(rows[1], rows[3]);
  auto broken = verify(rows);
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 2);

  // Renumbered to hide the swap: the links no longer hold.
  std::swap(rows[1].seq, rows[3].seq);
  broken = verify(rows);
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->seq, 2);
}

// --- SqliteStore ----------------------------------------------------------------------------

std::unique_ptr<store::SqliteStore> open_store(const std::string& path = ":memory:") {
  auto opened = store::SqliteStore::open(path, &security::sha256_hex);
  if (!opened) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  return std::move(*opened);
}

CaseRecord make_case(const std::string& id) {
  CaseRecord record;
  record.id = id;
  record.code = "CP-" + id;
  record.workflow = "aftercare";
  record.workflow_version = 1;
  record.state = "intake";
  record.data = {{"name", "Qzyxwv Tarnobel"}, {"home", "umang"}};
  record.version = 1;
  record.created_at = kT0;
  record.updated_at = kT0;
  return record;
}

HistoryEntry entry(const std::string& actor, const std::string& event,
                   std::vector<std::string> changed, Timestamp at) {
  HistoryEntry e;
  e.at = at;
  e.actor = actor;
  e.event = event;
  e.to = "intake";
  e.changed = std::move(changed);
  return e;
}

std::vector<AuditRecord> all_rows(Store& store, AuditQuery query = {}) {
  std::vector<AuditRecord> rows;
  query.limit = 2;  // several pages, to walk the cursor
  for (;;) {
    auto page = store.audit_page(query);
    EXPECT_TRUE(page) << page.error().message;
    if (!page) {
      return rows;
    }
    rows.insert(rows.end(), page->items.begin(), page->items.end());
    if (!page->next_cursor) {
      return rows;
    }
    query.cursor = page->next_cursor;
  }
}

TEST(AuditStore, CaseWritesAreAuditedInTheirOwnTransaction) {
  auto store = open_store();
  ASSERT_TRUE(store);
  CaseRecord record = make_case("c1");
  ASSERT_TRUE(store->create_case(record, entry("asha", "opened", {"home", "name"}, kT0), {}));

  CaseRecord after = record;
  after.version = 2;
  after.updated_at = kT0 + 10;
  after.data["name"] = "Other Name";
  CaseEffects effects;
  AuditRecord extra = row("ravi", "break_glass", "c1");
  extra.reason = "court hearing tomorrow";
  effects.audit.push_back(extra);
  ASSERT_TRUE(store->update_case(after, 1, entry("ravi", "updated", {"name"}, kT0 + 10),
                                 std::nullopt, effects));

  // A write that fails (the version moved on) leaves no audit row, its extra one included.
  after.version = 2;
  auto lost = store->update_case(after, 1, entry("meera", "updated", {"name"}, kT0 + 20),
                                 std::nullopt, effects);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, Errc::precondition_failed);

  const auto rows = all_rows(*store);
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[0].seq, 1);
  EXPECT_EQ(rows[0].action, "case.open");
  EXPECT_EQ(rows[0].actor, "asha");
  EXPECT_EQ(rows[0].case_id, "c1");
  EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"home", "name"}));
  EXPECT_EQ(rows[0].details.at("event"), "opened");
  EXPECT_EQ(rows[1].action, "case.write");
  EXPECT_EQ(rows[1].fields, std::vector<std::string>{"name"});
  EXPECT_EQ(rows[1].details.at("version"), 2);
  EXPECT_EQ(rows[2].action, "break_glass");
  EXPECT_EQ(rows[2].reason, "court hearing tomorrow");
  for (const auto& r : rows) {
    EXPECT_EQ(audit_canonical(r).find("Tarnobel"), std::string::npos);
    EXPECT_EQ(audit_canonical(r).find("Other Name"), std::string::npos);
  }
  AuditVerifier verifier(&security::sha256_hex);
  for (const auto& r : rows) {
    EXPECT_FALSE(verifier.feed(r));
  }
}

TEST(AuditStore, PagesFilterByCaseActorAndTime) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::vector<AuditRecord> rows;
  for (int i = 0; i < 6; ++i) {
    AuditRecord r = row(i % 2 == 0 ? "asha" : "ravi", "case.read",
                        i < 3 ? std::optional<std::string>("c1") : std::nullopt);
    r.at = kT0 + static_cast<Timestamp>(i) * 1000;
    rows.push_back(r);
  }
  ASSERT_TRUE(store->append_audit(rows));
  ASSERT_TRUE(store->append_audit({row("anonymous", "login.failed")}));

  EXPECT_EQ(all_rows(*store).size(), 7U);
  AuditQuery by_case;
  by_case.case_id = "c1";
  EXPECT_EQ(all_rows(*store, by_case).size(), 3U);
  AuditQuery by_actor;
  by_actor.actor = "ravi";
  const auto ravi = all_rows(*store, by_actor);
  ASSERT_EQ(ravi.size(), 3U);
  EXPECT_EQ(ravi[0].seq, 2);
  EXPECT_EQ(ravi[2].seq, 6);
  AuditQuery by_time;
  by_time.from = kT0 + 1000;
  by_time.to = kT0 + 3000;
  const auto window = all_rows(*store, by_time);
  ASSERT_EQ(window.size(), 2U);
  EXPECT_EQ(window[0].seq, 2);

  AuditQuery bad;
  bad.cursor = "c0000000000000001";  // another list's cursor
  auto refused = store->audit_page(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
}

TEST(AuditStore, MigrationRunsAreAudited) {
  auto store = open_store();
  ASSERT_TRUE(store);
  MigrationRun run;
  run.plan = "plan-1";
  run.workflow = "aftercare";
  run.from_version = 1;
  run.to_version = 2;
  run.actor = "admin.one";
  run.started_at = kT0;
  auto started = store->start_migration(run);
  ASSERT_TRUE(started) << started.error().message;
  started->status = "finished";
  started->finished_at = kT0 + 5;
  started->moved = 4;
  ASSERT_TRUE(store->finish_migration(*started));
  const auto rows = all_rows(*store);
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].action, "migration");
  EXPECT_EQ(rows[0].actor, "admin.one");
  EXPECT_EQ(rows[0].details.at("status"), "started");
  EXPECT_EQ(rows[1].details.at("status"), "finished");
  EXPECT_EQ(rows[1].details.at("moved"), 4);
}

TEST(AuditStore, TriggersRefuseUpdateAndDelete) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->append_audit({row("asha", "case.read", "c1")}));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  for (const char* statement :
       {"UPDATE audit SET actor = 'x' WHERE seq = 1", "DELETE FROM audit WHERE seq = 1"}) {
    char* message = nullptr;
    EXPECT_NE(sqlite3_exec(db, statement, nullptr, nullptr, &message), SQLITE_OK) << statement;
    EXPECT_NE(std::string(message != nullptr ? message : "").find("append-only"),
              std::string::npos);
    sqlite3_free(message);
  }
  sqlite3_close(db);
  auto store = open_store(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(all_rows(*store).size(), 1U);
}

TEST(AuditStore, AStoreWithoutADigestKeepsNoTrail) {
  auto opened = store::SqliteStore::open(":memory:");
  ASSERT_TRUE(opened);
  auto& store = **opened;
  ASSERT_TRUE(store.create_case(make_case("c1"), entry("asha", "opened", {"name"}, kT0), {}));
  ASSERT_TRUE(store.append_audit({row("asha", "case.read", "c1")}));
  auto page = store.audit_page({});
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->items.empty());
}

}  // namespace
}  // namespace carepath
