// SqliteStore's side of migrating running cases: the runs of a plan, and the unfinished work that
// keeps a case on its version.
#include <cstdint>
#include <string>

#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

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
  std::lock_guard lock(mutex_);
  auto select = prepare(
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
      if (auto committed = transaction.commit(); !committed) {
        return committed.error();
      }
      last.status = "running";
      last.finished_at.reset();
      last.resumed = true;
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
  if (auto committed = transaction.commit(); !committed) {
    return committed.error();
  }
  return started;
}

Result<void> SqliteStore::finish_migration(const MigrationRun& run) {
  std::lock_guard lock(mutex_);
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
  return update->run("finish migration '" + run.plan + "'");
}

}  // namespace carepath::store
