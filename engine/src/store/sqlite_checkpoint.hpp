// Checkpoints of the write-ahead log, off the request path. SQLite's automatic checkpoint runs
// inside the COMMIT that crosses its threshold, so one request in a thousand would wait for the
// database file to be written and synced. The store turns it off and gives the work to this
// thread, which checkpoints through a connection of its own when the log has grown.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.hpp"

struct sqlite3;

namespace carepath::store {

class Checkpointer {
 public:
  // The pages a commit must find in the log beyond those a checkpoint already copied to start
  // another one (SQLite's own threshold).
  static constexpr int kFrames = 1000;

  // Whether a log of `log_frames` pages, of which a checkpoint copied the first `copied`, holds
  // enough new pages for another checkpoint. A log shorter than `copied` was started again from
  // its beginning since, so all of it is new. The log keeps its length after a checkpoint (it is
  // only reused from its start once a checkpoint has caught up with it before the next write), so
  // its length alone would start a checkpoint after every commit once it had passed kFrames.
  static bool due(int log_frames, int copied) {
    const int fresh = log_frames >= copied ? log_frames - copied : log_frames;
    return fresh >= kFrames;
  }

  // Opens a second connection to the database file at `path` and starts the thread; then
  // installs itself as the WAL hook of `writer`, which disables the automatic checkpoint there.
  static Result<std::unique_ptr<Checkpointer>> start(const std::string& path, sqlite3* writer);
  // Removes the hook, stops the thread and closes its connection.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  Checkpointer(Checkpointer&&) = delete;
  Checkpointer& operator=(Checkpointer&&) = delete;

  // Checkpoints done since start, for tests and metrics.
  std::uint64_t runs() const;
  // The pages in the log after the writer's last commit.
  int log_frames() const { return log_frames_.load(std::memory_order_relaxed); }
  // Records that a checkpoint elsewhere (the writer's restart of a long log) copied the first
  // `frames` pages of the log.
  void record_copied(int frames) { copied_.store(frames, std::memory_order_relaxed); }

 private:
  Checkpointer(sqlite3* db, sqlite3* writer);
  static int on_commit(void* self, sqlite3* db, const char* schema, int frames);
  void run();

  sqlite3* db_;      // the checkpointer's own connection
  sqlite3* writer_;  // whose hook this is; not owned
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;        // GUARDED_BY(mutex_)
  bool stopping_ = false;   // GUARDED_BY(mutex_)
  std::uint64_t runs_ = 0;  // GUARDED_BY(mutex_)
  std::atomic<int> log_frames_{0};
  std::atomic<int> copied_{0};  // pages of the log the last checkpoint copied
};

}  // namespace carepath::store
