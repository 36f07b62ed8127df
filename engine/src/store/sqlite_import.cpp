// SqliteStore's bulk import (`carepath import`): many cases, each with its whole history, in one
// transaction per call, through cached prepared statements. Kept apart from sqlite_store.cpp's
// single-case write path; it writes the same rows create_case and update_case would have written
// for the same history (the case row, every event, the blind index, timers and clocks), except
// that the audit trail gets one "case.import" row per case naming who imported it.
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

constexpr std::string_view kInsertCaseSql =
    "INSERT INTO cases (id, code, workflow, workflow_version, state, data_json, version, "
    "created_at, updated_at, data_key, assignee, placement, consents_json, closed_at, erased_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

// The seq is bound, not computed from MAX(seq): the case is new and its entries come in order.
// The columns the reports group by (schema version 11) are the imported case's workflow, version
// and home (its home now: the store does not know which field of the history held it), and, on
// an entry that changes the state, when the case entered the state it leaves, from the entries
// already inserted (as kInsertEvent in sqlite_store.cpp computes it).
constexpr std::string_view kInsertEventSql =
    "INSERT INTO events (case_id, seq, at, actor, event, from_state, to_state, version, "
    "changed_json, comment, payload_json, trigger_json, workflow, workflow_version, placement, "
    "entered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
    "CASE WHEN ?6 IS NOT NULL AND ?6 <> ?7 THEN (SELECT p.at FROM events AS p "
    "WHERE p.case_id = ?1 AND (p.from_state IS NULL OR p.from_state <> p.to_state) "
    "ORDER BY p.seq DESC LIMIT 1) END)";

// The page cache only. The log is checkpointed by the store's background thread, on the other
// core, not inside the import's commits (SQLite's automatic checkpoint, which this used to set
// to 16,384 pages: the write pass took 12% longer).
constexpr std::string_view kImportPragmas = "PRAGMA cache_size = -131072;";

constexpr std::string_view kInsertIndexSql =
    "INSERT INTO case_index (case_id, field, digest) VALUES (?1, ?2, ?3)";

std::string names_json(const std::vector<std::string>& names) {
  boost::json::array array;
  array.reserve(names.size());
  for (const auto& n : names) {
    array.emplace_back(boost::json::string_view(n.data(), n.size()));
  }
  return boost::json::serialize(array);
}

std::optional<std::string> non_empty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

Result<void> check_shape(const ImportedCase& c) {
  const auto& r = c.record;
  if (c.history.empty()) {
    return make_error(Errc::invalid_argument, "import of case '" + r.code + "': it has no history");
  }
  if (r.version != static_cast<std::int64_t>(c.history.size())) {
    return make_error(Errc::invalid_argument, "import of case '" + r.code +
                                                  "': its version is not the number of its "
                                                  "history entries");
  }
  for (std::size_t i = 0; i < c.history.size(); ++i) {
    const auto n = static_cast<std::int64_t>(i + 1);
    if (c.history[i].seq != n || c.history[i].version != n) {
      return make_error(Errc::invalid_argument,
                        "import of case '" + r.code + "': entry " + std::to_string(n) +
                            " does not have seq and version " + std::to_string(n));
    }
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> SqliteStore::existing_codes(
    const std::vector<std::string>& codes) {
  std::vector<std::string> found;
  std::lock_guard lock(mutex_);
  for (const auto& code : codes) {
    auto select = prepare("SELECT 1 FROM cases WHERE code = ?1");
    if (!select) {
      return select.error();
    }
    select->bind_text(1, code);
    auto row = select->step("look up a case code");
    if (!row) {
      return row.error();
    }
    if (*row) {
      found.push_back(code);
    }
  }
  return found;
}

Result<ImportBatch> SqliteStore::prepare_import(std::vector<ImportedCase> cases) {
  for (const auto& c : cases) {
    if (auto shaped = check_shape(c); !shaped) {
      return shaped.error();
    }
  }
  return prepared_batch(std::move(cases));
}

Result<void> SqliteStore::write_import(const ImportBatch& batch, const std::string& importer,
                                       Timestamp at) {
  if (!batch.prepared_by(*this)) {
    return make_error(Errc::invalid_argument,
                      "import: the batch was not prepared by this store (prepare_import)");
  }
  const std::vector<ImportedCase>& cases = batch.cases();
  std::lock_guard lock(mutex_);
  // A batch touches pages all over the indexes of history entries (by time, by event: imported
  // histories are not in time order) and, before case ids were ordered (security::new_case_id),
  // all over the tables too: with SQLite's default 2 MB page cache it spills dirty pages to the
  // WAL and writes some again and again. Only the import (a command of its own) calls this, so
  // its connection keeps the larger cache.
  if (auto sized = execute(kImportPragmas, "size the page cache for an import"); !sized) {
    return sized;
  }
  Transaction transaction(db_.get());
  if (auto began = transaction.begin_immediate(); !began) {
    return began.error();
  }
  std::vector<AuditRecord> audit;
  audit.reserve(cases.size());
  for (const auto& c : cases) {
    const CaseRecord& r = c.record;
    const std::string what = "import case '" + r.code + "'";
    {
      auto insert = prepare(kInsertCaseSql);
      if (!insert) {
        return insert.error();
      }
      insert->bind_text(1, r.id);
      insert->bind_text(2, r.code);
      insert->bind_text(3, r.workflow);
      insert->bind_int64(4, r.workflow_version);
      insert->bind_text(5, r.state);
      insert->bind_text(6, boost::json::serialize(r.data));
      insert->bind_int64(7, r.version);
      insert->bind_int64(8, r.created_at);
      insert->bind_int64(9, r.updated_at);
      insert->bind_optional_text(10, non_empty(r.data_key));
      insert->bind_optional_text(11, non_empty(r.assignee));
      insert->bind_optional_text(12, r.placement);
      insert->bind_text(13, boost::json::serialize(r.consents));
      insert->bind_optional_int64(14, r.closed_at);
      insert->bind_optional_int64(15, r.erased_at);
      if (auto inserted = insert->run(what); !inserted) {
        const int rc = insert->last_result_code();
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
          return make_error(Errc::conflict,
                            "case code '" + r.code + "' (or its id) is already in the database");
        }
        return inserted.error();
      }
    }
    for (const HistoryEntry& e : c.history) {
      auto insert = prepare(kInsertEventSql);
      if (!insert) {
        return insert.error();
      }
      insert->bind_text(1, r.id);
      insert->bind_int64(2, e.seq);
      insert->bind_int64(3, e.at);
      insert->bind_text(4, e.actor);
      insert->bind_text(5, e.event);
      insert->bind_optional_text(6, e.from);
      insert->bind_text(7, e.to);
      insert->bind_int64(8, e.version);
      insert->bind_text(9, names_json(e.changed));
      insert->bind_optional_text(10, e.comment);
      insert->bind_text(11, boost::json::serialize(e.payload));
      insert->bind_optional_text(
          12, e.trigger.empty() ? std::nullopt
                                : std::optional<std::string>(boost::json::serialize(e.trigger)));
      insert->bind_text(13, r.workflow);
      insert->bind_int64(14, r.workflow_version);
      insert->bind_optional_text(15, r.placement);
      if (auto inserted = insert->run(what); !inserted) {
        return inserted.error();
      }
    }
    for (const auto& [field, digest] : r.blind_index) {
      auto insert = prepare(kInsertIndexSql);
      if (!insert) {
        return insert.error();
      }
      insert->bind_text(1, r.id);
      insert->bind_text(2, field);
      insert->bind_text(3, digest);
      if (auto inserted = insert->run(what); !inserted) {
        return inserted.error();
      }
    }
    if (auto inserted = insert_effects_locked(r.id, r.updated_at, c.effects); !inserted) {
      return inserted.error();
    }
    AuditRecord row;
    row.at = at;
    row.actor = importer;
    row.action = std::string(kAuditCaseImport);
    row.case_id = r.id;
    for (const auto& member : r.data) {
      row.fields.emplace_back(member.key());
    }
    // Names and counts only: workflow, version and event counts come from the workflow and file.
    row.details = boost::json::object{{"workflow", r.workflow},
                                      {"workflow_version", r.workflow_version},
                                      {"events", static_cast<std::int64_t>(c.history.size())},
                                      {"version", r.version}};
    audit.push_back(std::move(row));
  }
  if (auto audited = append_audit_locked(std::move(audit)); !audited) {
    return audited.error();
  }
  if (auto committed = transaction.commit(); !committed) {
    return committed;
  }
  // An import writes faster than the background checkpoints copy the log, which left alone grew
  // to nearly twice the database (928 MB beside 517 MB): past kMaxLogFrames it waits for a
  // checkpoint that restarts the log.
  restart_long_log_locked(/*wait=*/true);
  return {};
}

}  // namespace carepath::store
