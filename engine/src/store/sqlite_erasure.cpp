// SqliteStore's side of erasure (a case's data key destroyed) and retention (expired field
// values removed from a case and its history).
#include <cstdint>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

// The JSON path of a top-level member; quoted, so that no field name can be read as a path.
std::string member_path(const std::string& field) {
  return "$.\"" + field + "\"";
}

}  // namespace

Result<void> SqliteStore::erase_case(const CaseChange& change, const CaseEffects& effects) {
  const std::string& id = change.after.id;
  const Timestamp now = change.after.updated_at;
  const std::string what = "erase case '" + id + "'";
  std::lock_guard lock(mutex_);
  Transaction transaction(db_.get());
  if (auto began = transaction.begin_immediate(); !began) {
    return began.error();
  }
  if (auto applied = apply_change_locked(change); !applied) {
    return applied.error();
  }
  // Pending work may carry the case's data (a task's description, a step's input at run time),
  // and the case takes no more changes: cancelled, never run. Clocks stop, so that an erased
  // case never shows as overdue.
  constexpr std::string_view kStatements[] = {
      "UPDATE cases SET data_key = NULL WHERE id = ?1",
      "DELETE FROM case_index WHERE case_id = ?1",
      "DELETE FROM idempotency WHERE case_id = ?1",
      "UPDATE outbox SET status = 'cancelled', lease_until = 0 "
      "WHERE case_id = ?1 AND status = 'pending'",
      "UPDATE tasks SET status = 'cancelled', closed_at = ?2 WHERE case_id = ?1 AND status = "
      "'open'",
      "UPDATE tasks SET description_json = '{}' WHERE case_id = ?1",
      "UPDATE timers SET status = 'cancelled', fired_at = ?2 "
      "WHERE case_id = ?1 AND status = 'pending'",
      "UPDATE clocks SET stopped_at = ?2 WHERE case_id = ?1 AND stopped_at IS NULL",
  };
  for (const std::string_view sql : kStatements) {
    auto statement = prepare(sql);
    if (!statement) {
      return statement.error();
    }
    statement->bind_text(1, id);
    if (sql.find("?2") != std::string_view::npos) {
      statement->bind_int64(2, now);
    }
    if (auto r = statement->run(what); !r) {
      return r.error();
    }
  }
  if (auto inserted = insert_effects_locked(id, now, effects); !inserted) {
    return inserted.error();
  }
  if (auto committed = transaction.commit(); !committed) {
    return committed;
  }
  truncate_wal_locked();
  return {};
}

void SqliteStore::truncate_wal_locked() {
  // The write-ahead log keeps the old pages (the destroyed key, removed values) until it is
  // reset. Best effort: a reader holding an old snapshot makes it fail, and the next checkpoint
  // after that reader ends overwrites them.
  (void)execute("PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint");
}

Result<std::vector<std::int64_t>> SqliteStore::strip_fields(const CaseChange& change,
                                                            const std::vector<std::string>& fields,
                                                            const CaseEffects& effects) {
  const std::string& id = change.after.id;
  const std::string what = "remove expired values of case '" + id + "'";
  std::lock_guard lock(mutex_);
  Transaction transaction(db_.get());
  if (auto began = transaction.begin_immediate(); !began) {
    return began.error();
  }
  std::vector<std::int64_t> removed(fields.size(), 0);
  std::int64_t total = 0;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string& field = fields[i];
    const std::string path = member_path(field);
    {
      auto count = prepare(
          "SELECT (SELECT count(*) FROM cases WHERE id = ?1 AND "
          "json_type(data_json, ?2) IS NOT NULL AND json_type(data_json, ?2) <> 'null')");
      if (!count) {
        return count.error();
      }
      count->bind_text(1, id);
      count->bind_text(2, path);
      auto row = count->step(what);
      if (!row) {
        return row.error();
      }
      removed[i] += *row ? count->int64(0) : 0;
    }
    // A null in a payload is a value that was unset: nothing to remove, and leaving it keeps
    // the count of a second run at zero.
    auto update = prepare(
        "UPDATE events SET payload_json = json_remove(payload_json, ?2) "
        "WHERE case_id = ?1 AND json_type(payload_json, ?2) IS NOT NULL "
        "AND json_type(payload_json, ?2) <> 'null'");
    if (!update) {
      return update.error();
    }
    update->bind_text(1, id);
    update->bind_text(2, path);
    if (auto r = update->run(what); !r) {
      return r.error();
    }
    removed[i] += update->changes();
    total += removed[i];
  }
  if (total == 0) {
    return removed;  // the transaction rolls back having changed nothing
  }
  if (auto applied = apply_change_locked(change); !applied) {
    return applied.error();
  }
  auto forget = prepare("DELETE FROM idempotency WHERE case_id = ?1");
  if (!forget) {
    return forget.error();
  }
  forget->bind_text(1, id);
  if (auto r = forget->run(what); !r) {
    return r.error();
  }
  if (auto inserted = insert_effects_locked(id, change.after.updated_at, effects); !inserted) {
    return inserted.error();
  }
  if (auto committed = transaction.commit(); !committed) {
    return committed.error();
  }
  truncate_wal_locked();
  return removed;
}

}  // namespace carepath::store
