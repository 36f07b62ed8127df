// SqliteStore's side of migrating running cases (the runs of a plan, the unfinished work that
// keeps a case on its version) and of encryption at rest (data keys, the key check).
#include <cstdint>
#include <string>

#include <boost/json/object.hpp>
#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

// The "migration" audit row of a run starting (or taken up) or finishing.
AuditRecord migration_audit(const MigrationRun& run, Timestamp at, std::string_view status) {
  AuditRecord record;
  record.at = at;
  record.actor = run.actor;
  record.action = std::string(kAuditMigration);
  record.details = boost::json::object{{"plan", run.plan},
                                       {"workflow", run.workflow},
                                       {"from_version", run.from_version},
                                       {"to_version", run.to_version},
                                       {"run", run.id},
                                       {"status", status}};
  return record;
}

MigrationRun read_run(const Statement& row) {
  MigrationRun run;
  run.id = row.int64(0);
  run.plan = row.text(1);
  run.workflow = row.text(2);
  run.from_version = static_cast<int>(row.int64(3));
  run.to_version = static_cast<int>(row.int64(4));
  run.actor = row.text(5);
  run.started_at = row.int64(6);
  run.finished_at = row.optional_int64(7);
  run.status = row.text(8);
  run.moved = row.int64(9);
  run.failed = row.int64(10);
  return run;
}

}  // namespace

Result<std::int64_t> SqliteStore::pending_work(const std::string& case_id) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(
      "SELECT (SELECT count(*) FROM outbox WHERE case_id = ?1 AND status = 'pending') + "
      "(SELECT count(*) FROM tasks WHERE case_id = ?1 AND status = 'open')");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, case_id);
  auto row = select->step("count unfinished work of case '" + case_id + "'");
  if (!row) {
    return row.error();
  }
  return *row ? select->int64(0) : 0;
}

Result<std::int64_t> SqliteStore::count_cases_on_version(const std::string& workflow, int version) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select =
      reading->prepare("SELECT count(*) FROM cases WHERE workflow = ?1 AND workflow_version = ?2");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, workflow);
  select->bind_int64(2, version);
  auto row = select->step("count the cases of workflow '" + workflow + "'");
  if (!row) {
    return row.error();
  }
  return select->int64(0);
}

Result<MigrationRun> SqliteStore::start_migration(const MigrationRun& run) {
  const std::string what = "start migration '" + run.plan + "'";
  std::lock_guard lock(mutex_);
  Transaction transaction(db_.get());
  if (auto began = transaction.begin_immediate(); !began) {
    return began.error();
  }
  {
    auto select = prepare(
        "SELECT id, plan, workflow, from_version, to_version, actor, started_at, finished_at, "
        "status, moved, failed FROM migrations WHERE plan = ?1 ORDER BY id DESC LIMIT 1");
    if (!select) {
      return select.error();
    }
    select->bind_text(1, run.plan);
    auto row = select->step(what);
    if (!row) {
      return row.error();
    }
    if (*row && select->text(8) != "finished") {
      MigrationRun last = read_run(*select);
      auto update =
          prepare("UPDATE migrations SET status = 'running', finished_at = NULL WHERE id = ?1");
      if (!update) {
        return update.error();
      }
      update->bind_int64(1, last.id);
      if (auto r = update->run(what); !r) {
        return r.error();
      }
      last.status = "running";
      last.finished_at.reset();
      last.resumed = true;
      if (auto audited = append_audit_locked({migration_audit(last, run.started_at, "resumed")});
          !audited) {
        return audited.error();
      }
      if (auto committed = transaction.commit(); !committed) {
        return committed.error();
      }
      return last;
    }
  }
  auto insert = prepare(
      "INSERT INTO migrations (plan, workflow, from_version, to_version, actor, started_at, "
      "finished_at, status, moved, failed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 'running', 0, "
      "0)");
  if (!insert) {
    return insert.error();
  }
  insert->bind_text(1, run.plan);
  insert->bind_text(2, run.workflow);
  insert->bind_int64(3, run.from_version);
  insert->bind_int64(4, run.to_version);
  insert->bind_text(5, run.actor);
  insert->bind_int64(6, run.started_at);
  if (auto r = insert->run(what); !r) {
    return r.error();
  }
  MigrationRun started = run;
  started.id = sqlite3_last_insert_rowid(db_.get());
  started.status = "running";
  started.finished_at.reset();
  started.moved = 0;
  started.failed = 0;
  started.resumed = false;
  if (auto audited = append_audit_locked({migration_audit(started, run.started_at, "started")});
      !audited) {
    return audited.error();
  }
  if (auto committed = transaction.commit(); !committed) {
    return committed.error();
  }
  return started;
}

Result<void> SqliteStore::finish_migration(const MigrationRun& run) {
  const std::string what = "finish migration '" + run.plan + "'";
  std::lock_guard lock(mutex_);
  Transaction transaction(db_.get());
  if (auto began = transaction.begin_immediate(); !began) {
    return began.error();
  }
  auto update = prepare(
      "UPDATE migrations SET status = ?2, finished_at = ?3, moved = ?4, failed = ?5 WHERE id = ?1");
  if (!update) {
    return update.error();
  }
  update->bind_int64(1, run.id);
  update->bind_text(2, run.status);
  update->bind_optional_int64(3, run.finished_at);
  update->bind_int64(4, run.moved);
  update->bind_int64(5, run.failed);
  if (auto r = update->run(what); !r) {
    return r.error();
  }
  AuditRecord audit = migration_audit(run, run.finished_at.value_or(run.started_at), run.status);
  audit.details["moved"] = run.moved;
  audit.details["failed"] = run.failed;
  if (auto audited = append_audit_locked({std::move(audit)}); !audited) {
    return audited.error();
  }
  return transaction.commit();
}

}  // namespace carepath::store

namespace carepath::store {

Result<std::optional<std::string>> SqliteStore::setting(const std::string& name) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT value FROM settings WHERE name = ?1");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, name);
  auto row = select->step("read setting '" + name + "'");
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return std::optional<std::string>{};
  }
  return std::optional<std::string>{select->text(0)};
}

Result<void> SqliteStore::put_setting(const std::string& name, const std::string& value) {
  std::lock_guard lock(mutex_);
  auto upsert = prepare(
      "INSERT INTO settings (name, value) VALUES (?1, ?2) "
      "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
  if (!upsert) {
    return upsert.error();
  }
  upsert->bind_text(1, name);
  upsert->bind_text(2, value);
  return upsert->run("write setting '" + name + "'");
}

Result<std::int64_t> SqliteStore::count_cases_without_key() {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(kCountCasesWithoutKeySql);
  if (!select) {
    return select.error();
  }
  // An erased case has no key by design (its key was destroyed), and nothing left to decrypt.
  auto row = select->step("count cases without a data key");
  if (!row) {
    return row.error();
  }
  return select->int64(0);
}

Result<StoreGauges> SqliteStore::gauges() {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  StoreGauges gauges;
  // cases_by_workflow_state covers this: no case row is read. Erased cases count in the state
  // they were left in (a final one, which the metrics leave out).
  auto cases = reading->prepare(
      "SELECT workflow, state, count(*) FROM cases GROUP BY workflow, state "
      "ORDER BY workflow, state");
  if (!cases) {
    return cases.error();
  }
  while (true) {
    auto row = cases->step("count cases by workflow and state");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    gauges.cases.push_back({cases->text(0), cases->text(1), cases->int64(2)});
  }
  // Each through a partial index or one on status.
  auto counts = reading->prepare(
      "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending'), "
      "(SELECT count(*) FROM incidents WHERE status = 'open'), "
      "(SELECT count(*) FROM timers WHERE status = 'pending'), "
      "(SELECT count(*) FROM clocks WHERE breached_at IS NOT NULL AND stopped_at IS NULL)");
  if (!counts) {
    return counts.error();
  }
  auto row = counts->step("count pending work for the metrics");
  if (!row) {
    return row.error();
  }
  gauges.outbox_pending = counts->int64(0);
  gauges.incidents_open = counts->int64(1);
  gauges.timers_pending = counts->int64(2);
  gauges.clocks_breached = counts->int64(3);
  return gauges;
}

Result<void> SqliteStore::ping() {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT 1");
  if (!select) {
    return select.error();
  }
  auto row = select->step("ping the database");
  if (!row) {
    return row.error();
  }
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::data_keys_not_wrapped_by(
    const std::string& master_id, std::size_t limit) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  // A wrapped key starts with the id of its master key and a dot.
  auto select = reading->prepare(
      "SELECT id, data_key FROM cases WHERE data_key IS NOT NULL AND "
      "substr(data_key, 1, length(?1) + 1) <> ?1 || '.' ORDER BY rowid LIMIT ?2");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, master_id);
  select->bind_int64(2, static_cast<std::int64_t>(limit));
  std::vector<std::pair<std::string, std::string>> out;
  for (;;) {
    auto row = select->step("list data keys to re-wrap");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    out.emplace_back(select->text(0), select->text(1));
  }
  return out;
}

Result<void> SqliteStore::replace_data_key(const std::string& case_id, const std::string& old_key,
                                           const std::string& new_key) {
  std::lock_guard lock(mutex_);
  auto update = prepare("UPDATE cases SET data_key = ?3 WHERE id = ?1 AND data_key = ?2");
  if (!update) {
    return update.error();
  }
  update->bind_text(1, case_id);
  update->bind_text(2, old_key);
  update->bind_text(3, new_key);
  const std::string what = "re-wrap the data key of case '" + case_id + "'";
  if (auto r = update->run(what); !r) {
    return r.error();
  }
  if (sqlite3_changes(db_.get()) == 0) {
    return make_error(Errc::precondition_failed, "case '" + case_id + "': its data key changed");
  }
  return {};
}

}  // namespace carepath::store
