#include "store/sqlite_checkpoint.hpp"

#include <chrono>
#include <cstdint>

#include <sqlite3.h>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {

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
  thread_ = std::thread([this] { run(); });
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
    const auto started = std::chrono::steady_clock::now();
    int log_frames = 0;
    int copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
    metrics::engine().db_checkpoint.observe(
        {}, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (rc == SQLITE_OK && copied >= 0) {
      copied_.store(copied, std::memory_order_relaxed);
    } else if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      // The log keeps growing until a checkpoint succeeds; nothing is lost meanwhile.
      log(LogLevel::warning, "database checkpoint failed",
          {{"error", sqlite_error(db_, rc, "checkpoint").message}});
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
  const auto started = std::chrono::steady_clock::now();
  int log_frames = 0;
  int copied = 0;
  const int rc =
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, &log_frames, &copied);
  if (!wait) {
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
  }
  if (rc == SQLITE_OK) {
    checkpointer_->record_copied(copied);
    metrics::engine().db_checkpoint.observe(
        {}, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  } else if (rc != SQLITE_BUSY) {
    // Everything is committed; the log only stays longer until a checkpoint succeeds.
    log(LogLevel::warning, "database checkpoint failed",
        {{"error", sqlite_error(db, rc, "restart the write-ahead log").message}});
  }
}

}  // namespace carepath::store
