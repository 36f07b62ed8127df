#include "store/sqlite_checkpoint.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>

#include <sqlite3.h>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/thread_name.hpp"
#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

// One checkpoint of `mode` on `db`, timed into the checkpoint histogram when it ran; a failure
// other than a busy lock is logged (the log only stays longer until one succeeds: nothing is
// lost). The pages of the log it copied, or -1 when it did not run.
int checkpoint(sqlite3* db, int mode, std::string_view what) {
  const auto started = std::chrono::steady_clock::now();
  int log_frames = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, mode, &log_frames, &copied);
  if (rc == SQLITE_OK) {
    metrics::engine().db_checkpoint.observe(
        {}, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return copied;
  }
  if (rc != SQLITE_BUSY) {
    log(LogLevel::warning, "database checkpoint failed",
        {{"error", sqlite_error(db, rc, what).message}});
  }
  return -1;
}

}  // namespace

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path,
                                                          sqlite3* writer) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error error = sqlite_error(db, rc, "open checkpoint connection to '" + path + "'");
    sqlite3_close(db);
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  // A checkpoint never waits for the write lock; it copies what it can (PASSIVE).
  sqlite3_exec(db, "PRAGMA synchronous = FULL", nullptr, nullptr, nullptr);
  std::unique_ptr<Checkpointer> checkpointer(new Checkpointer(db, writer));
  sqlite3_wal_hook(writer, &Checkpointer::on_commit, checkpointer.get());
  return checkpointer;
}

Checkpointer::Checkpointer(sqlite3* db, sqlite3* writer) : db_(db), writer_(writer) {
  thread_ = std::thread([this] {
    name_this_thread("cp-checkpoint");
    run();
  });
}

Checkpointer::~Checkpointer() {
  sqlite3_wal_hook(writer_, nullptr, nullptr);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close(db_);
}

std::uint64_t Checkpointer::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

int Checkpointer::on_commit(void* self, sqlite3* /*db*/, const char* /*schema*/, int frames) {
  auto* checkpointer = static_cast<Checkpointer*>(self);
  checkpointer->log_frames_.store(frames, std::memory_order_relaxed);
  if (due(frames, checkpointer->copied_.load(std::memory_order_relaxed))) {
    {
      std::lock_guard lock(checkpointer->mutex_);
      checkpointer->due_ = true;
    }
    checkpointer->wake_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return due_ || stopping_; });
    if (stopping_) {
      return;
    }
    due_ = false;
    lock.unlock();
    if (const int copied = checkpoint(db_, SQLITE_CHECKPOINT_PASSIVE, "checkpoint"); copied >= 0) {
      copied_.store(copied, std::memory_order_relaxed);
    }
    lock.lock();
    ++runs_;
  }
}

bool SqliteStore::log_is_long() const {
  return checkpointer_ && checkpointer_->log_frames() >= max_log_frames_.load();
}

void SqliteStore::restart_long_log_locked(bool wait) {
  if (!log_is_long()) {
    return;
  }
  sqlite3* db = db_.get();
  if (!wait) {
    sqlite3_busy_timeout(db, 0);
  }
  const int copied = checkpoint(db, SQLITE_CHECKPOINT_RESTART, "restart the write-ahead log");
  if (!wait) {
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
  }
  if (copied >= 0) {
    checkpointer_->record_copied(copied);
  }
}

}  // namespace carepath::store
