// SqliteStore's side of the audit trail: rows chained inside the write transaction that holds
// the database's write lock, and pages read in seq order.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

#define CP_AUDIT_COLUMNS \
  "seq, at, actor, action, case_id, fields_json, reason, details_json, prev_hash, hash"

Result<AuditRecord> read_audit(const Statement& row) {
  AuditRecord record;
  record.seq = row.int64(0);
  record.at = row.int64(1);
  record.actor = row.text(2);
  record.action = row.text(3);
  record.case_id = row.optional_text(4);
  const std::string what = "audit entry " + std::to_string(record.seq);
  boost::system::error_code ec;
  const boost::json::value fields = boost::json::parse(row.text(5), ec);
  if (ec || !fields.is_array()) {
    return make_error(Errc::storage, what + ": stored fields are not a JSON list");
  }
  for (const auto& item : fields.get_array()) {
    if (!item.is_string()) {
      return make_error(Errc::storage, what + ": stored fields are not a list of names");
    }
    record.fields.emplace_back(item.get_string());
  }
  record.reason = row.optional_text(6);
  auto details = parse_object(row.text(7), what);
  if (!details) {
    return details.error();
  }
  record.details = std::move(*details);
  record.prev_hash = row.text(8);
  record.hash = row.text(9);
  return record;
}

std::string audit_page_sql(const AuditQuery& query) {
  std::string sql = "SELECT " CP_AUDIT_COLUMNS " FROM audit WHERE seq > ?1";
  if (query.case_id) {
    sql += " AND case_id = ?2";
  }
  if (query.actor) {
    sql += " AND actor = ?3";
  }
  if (query.from) {
    sql += " AND at >= ?4";
  }
  if (query.to) {
    sql += " AND at < ?5";
  }
  if (query.action) {
    sql += " AND action = ?7";
  }
  return sql + " ORDER BY seq LIMIT ?6";
}

}  // namespace

Result<void> SqliteStore::append_audit_locked(std::vector<AuditRecord> records,
                                              const std::vector<AuditText>* texts) {
  if (digest_ == nullptr || records.empty()) {
    return {};
  }
  std::vector<AuditText> computed;
  if (texts == nullptr || texts->size() != records.size()) {
    computed = audit_texts(records);
    texts = &computed;
  }
  std::int64_t last_seq = 0;
  std::string last_hash;
  {
    auto select = prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    if (!select) {
      return select.error();
    }
    auto row = select->step("read the last audit entry");
    if (!row) {
      return row.error();
    }
    if (*row) {
      last_seq = select->int64(0);
      last_hash = select->text(1);
    }
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    AuditRecord& record = records[i];
    const AuditText& text = (*texts)[i];
    audit_chain(digest_, last_seq, last_hash, text, record);
    auto insert = prepare("INSERT INTO audit (" CP_AUDIT_COLUMNS
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!insert) {
      return insert.error();
    }
    insert->bind_int64(1, record.seq);
    insert->bind_int64(2, record.at);
    insert->bind_text(3, record.actor);
    insert->bind_text(4, record.action);
    insert->bind_optional_text(5, record.case_id);
    // Stored as the canonical form hashes them, so that reading them back gives the same bytes.
    insert->bind_text(6, text.fields_json);
    insert->bind_optional_text(7, record.reason);
    insert->bind_text(8, text.details_json);
    insert->bind_text(9, record.prev_hash);
    insert->bind_text(10, record.hash);
    if (auto r = insert->run("append audit entry '" + record.action + "'"); !r) {
      return r.error();
    }
    last_seq = record.seq;
    last_hash = record.hash;
  }
  return {};
}

Result<void> SqliteStore::audit_change_locked(const std::string& case_id, const HistoryEntry& entry,
                                              std::int64_t version, std::string_view action) {
  AuditRecord record;
  record.at = entry.at;
  record.actor = entry.actor;
  record.action = std::string(action);
  record.case_id = case_id;
  record.fields = entry.changed;
  // Event and state names come from the workflow, never from case data.
  record.details = boost::json::object{{"event", entry.event}, {"version", version}};
  return append_audit_locked({std::move(record)});
}

Result<void> SqliteStore::append_audit(const std::vector<AuditRecord>& records) {
  if (digest_ == nullptr || records.empty()) {
    return {};
  }
  // Everything of the rows' texts but their place in the chain, before the write lock.
  const std::vector<AuditText> texts = audit_texts(records);
  return write_grouped([&]() -> Result<void> {
    if (auto appended = append_audit_locked(records, &texts); !appended) {
      return appended.error();
    }
    return {};
  });
}

Result<AuditPage> SqliteStore::audit_page(const AuditQuery& query) {
  auto after = decode_cursor(kAuditCursor, query.cursor);
  if (!after) {
    return after.error();
  }
  const std::size_t limit = clamp_limit(query.limit);
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(audit_page_sql(query));
  if (!select) {
    return select.error();
  }
  select->bind_int64(1, *after);
  if (query.case_id) {
    select->bind_text(2, *query.case_id);
  }
  if (query.actor) {
    select->bind_text(3, *query.actor);
  }
  if (query.from) {
    select->bind_int64(4, *query.from);
  }
  if (query.to) {
    select->bind_int64(5, *query.to);
  }
  if (query.action) {
    select->bind_text(7, *query.action);
  }
  // One more than asked, to know whether another page follows.
  select->bind_int64(6, static_cast<std::int64_t>(limit) + 1);
  AuditPage page;
  while (true) {
    auto row = select->step("read the audit trail");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    if (page.items.size() == limit) {
      page.next_cursor = encode_cursor(kAuditCursor, page.items.back().seq);
      break;
    }
    auto record = read_audit(*select);
    if (!record) {
      return record.error();
    }
    page.items.push_back(std::move(*record));
  }
  return page;
}

}  // namespace carepath::store
