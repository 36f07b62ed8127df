// The embedded default Store: one SQLite file (or ":memory:"), its schema versioned with
// PRAGMA user_version and migrated when the file is opened.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace carepath::store {

class Statement;     // a borrowed cached sqlite3_stmt; defined in sqlite_internal.hpp
class Checkpointer;  // sqlite_checkpoint.hpp

// Several SqliteStore objects, in one process or several, may share one file: writes take the
// database's write lock (BEGIN IMMEDIATE) and wait up to kBusyTimeoutMs for it, after which the
// call fails with Errc::unavailable.
//
// Thread-safety: every member function may be called from any thread; calls on one object are
// serialised by a mutex around its single connection.
//
// Group commit: case changes (create_case, update_case, erase and the step, task and timer
// finishes) and audit appends made by concurrent threads share one transaction, and so one fsync.
// A writer thread of the store's own (cp-writer) takes every write queued (up to kMaxGroup), runs
// each inside a savepoint of one BEGIN IMMEDIATE transaction, commits once and wakes their
// callers; then the writes queued meanwhile.
// Each call still returns only after the commit that made its write durable. A write that fails
// is rolled back to its savepoint and fails alone; the group's other writes commit.
class SqliteStore final : public Store {
 public:
  // The schema version this code creates and understands. A file with a newer user_version is
  // refused rather than written by code that does not know its tables.
  static constexpr int kSchemaVersion = 12;
  static constexpr int kBusyTimeoutMs = 5000;
  // The longest the write-ahead log may grow (in 4 KiB pages: 64 MB) before a commit restarts it.
  static constexpr int kMaxLogFrames = 16384;
  // The most writes one commit takes; a bound on how long the last of them waits.
  static constexpr std::size_t kMaxGroup = 256;
  // The page cache of each pooled read connection, in KiB (SQLite's default is 2,000). There is
  // one connection per request reading at once (up to `threads`, 64 by default), each keeping
  // its cache filled for good: 64 x 2 MB would be 128 MB of copies of pages the kernel's page
  // cache holds anyway. The writer keeps the default.
  static constexpr int kReadCacheKiB = 512;

  // Opens (creating it when absent) the database at `path`, or a private in-memory database for
  // ":memory:", and migrates its schema. The directory must exist: it is not created, so a
  // mistyped path fails here instead of scattering case data into a new directory.
  //
  // `digest` hashes the audit chain (security::sha256_hex; the store cannot depend on security).
  // Without one the store writes no audit rows: only tests of other modules open it that way,
  // and the engine always passes it (app/engine.cpp, app/main.cpp).
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   AuditDigest digest = nullptr);
  // Opens an existing database file for reading only (`carepath verify`): nothing is created
  // or migrated, and every write fails. Errc::not_found when there is no file at `path`;
  // Errc::storage when it is not a SQLite database or its schema version is not this code's
  // (an older file is upgraded by opening it once with `carepath serve` or `carepath migrate`).
  static Result<std::unique_ptr<SqliteStore>> open_read_only(const std::string& path,
                                                             AuditDigest digest = nullptr);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  SqliteStore(SqliteStore&&) = delete;
  SqliteStore& operator=(SqliteStore&&) = delete;

  Result<void> put_workflow(const WorkflowSource& source) override;
  Result<std::vector<WorkflowSource>> workflows() override;

  // `opened.seq` is 1 and `opened.version` is `record.version`, whatever the arguments hold.
  Result<void> create_case(const CaseRecord& record, const HistoryEntry& opened,
                           const CaseEffects& effects) override;
  Result<CaseRecord> get_case(const std::string& id) override;
  // The case's id, code and created_at are fixed at creation; `after`'s copies are not written.
  // `entry.seq` is assigned (last + 1) and `entry.version` is stored as `after.version`.
  // Errc::invalid_argument when `after.version` is not `expected_version + 1`.
  Result<void> update_case(const CaseRecord& after, std::int64_t expected_version,
                           const HistoryEntry& entry,
                           const std::optional<IdempotencyRecord>& idempotency,
                           const CaseEffects& effects) override;
  Result<CasePage> list_cases(const CaseQuery& query) override;
  // `limit` is clamped to 1..500, like list_cases.
  Result<HistoryPage> history(const std::string& case_id, std::size_t limit,
                              const std::optional<std::string>& cursor) override;
  Result<std::optional<IdempotencyRecord>> find_idempotency(const std::string& case_id,
                                                            const std::string& actor,
                                                            const std::string& key) override;

  Result<std::vector<OutboxJob>> claim_jobs(Timestamp now, std::int64_t lease_ms,
                                            std::size_t limit) override;
  Result<std::optional<Timestamp>> next_job_at() override;
  Result<void> finish_job(std::int64_t job_id, const JobResult& result) override;
  Result<std::vector<IncidentRecord>> incidents(const std::string& case_id) override;
  Result<void> retry_incident(const std::string& case_id, const std::string& incident_id,
                              Timestamp now) override;
  Result<std::optional<TaskRecord>> find_task(const std::string& token) override;
  Result<std::vector<TaskRecord>> tasks(const std::string& case_id) override;
  Result<void> close_task(const std::string& task_id, const std::string& status, Timestamp now,
                          const std::optional<CaseChange>& change, const CaseEffects& effects,
                          const std::optional<IncidentRecord>& incident) override;

  // Timers and statutory clocks; defined in sqlite_time.cpp.
  // `limit` is clamped to 1..100, like claim_jobs. Errc::invalid_argument when lease_ms < 1.
  Result<std::vector<TimerRecord>> claim_timers(Timestamp now, std::int64_t lease_ms,
                                                std::size_t limit,
                                                const std::string& owner) override;
  Result<std::optional<Timestamp>> next_timer_at() override;
  // Errc::invalid_argument when the status is neither "fired" nor "skipped", or the change is
  // about another case than the timer's.
  Result<void> finish_timer(const TimerFinish& finish) override;
  Result<std::vector<TimerRecord>> timers(const std::string& case_id) override;
  // Ordered by start time, then name.
  Result<std::vector<ClockRecord>> clocks(const std::string& case_id) override;
  // Clocks without a deadline (paused) come last; `limit` is clamped to 1..500, like
  // list_cases. Errc::invalid_argument for another state or a malformed cursor.
  Result<ClockPage> list_clocks(const ClockQuery& query) override;
  // Notifications; defined in sqlite_time.cpp. Errc::invalid_argument for a malformed cursor.
  Result<NotificationPage> list_notifications(const NotificationQuery& query) override;
  Result<NotificationRecord> acknowledge_notification(const std::string& id,
                                                      const std::vector<std::string>& roles,
                                                      const std::string& user,
                                                      Timestamp at) override;

  // Errc::conflict when the id or hash already exists.
  Result<std::int64_t> pending_work(const std::string& case_id) override;
  Result<std::int64_t> count_cases_on_version(const std::string& workflow, int version) override;
  Result<MigrationRun> start_migration(const MigrationRun& run) override;
  Result<void> finish_migration(const MigrationRun& run) override;

  Result<std::optional<std::string>> setting(const std::string& name) override;
  Result<void> put_setting(const std::string& name, const std::string& value) override;
  Result<std::int64_t> count_cases_without_key() override;
  Result<StoreGauges> gauges() override;
  Result<void> ping() override;
  // Bulk import; defined in sqlite_import.cpp. Prepared statements, seq bound directly.
  Result<std::vector<std::string>> existing_codes(const std::vector<std::string>& codes) override;
  Result<ImportBatch> prepare_import(std::vector<ImportedCase> cases) override;
  Result<void> write_import(const ImportBatch& batch, const std::string& importer,
                            Timestamp at) override;

  Result<std::vector<std::pair<std::string, std::string>>> data_keys_not_wrapped_by(
      const std::string& master_id, std::size_t limit) override;
  Result<void> replace_data_key(const std::string& case_id, const std::string& old_key,
                                const std::string& new_key) override;

  // Without a digest (see open) append_audit writes nothing and succeeds.
  Result<void> erase_case(const CaseChange& change, const CaseEffects& effects) override;
  Result<CasePage> list_retention_due(const RetentionQuery& query) override;
  Result<std::vector<std::int64_t>> strip_fields(const CaseChange& change,
                                                 const std::vector<std::string>& fields,
                                                 const CaseEffects& effects) override;
  Result<void> append_audit(const std::vector<AuditRecord>& records) override;
  Result<AuditPage> audit_page(const AuditQuery& query) override;

  // Reports; defined in sqlite_reports.cpp. Errc::invalid_argument when from > to.
  Result<std::vector<CaseloadCount>> report_caseload(
      const std::optional<std::string>& workflow) override;
  Result<std::vector<EventCount>> report_event_counts(
      Timestamp from, Timestamp to, const std::optional<std::string>& workflow,
      const std::vector<std::string>& events) override;
  Result<std::vector<MoveCount>> report_moves(Timestamp from, Timestamp to,
                                              const std::optional<std::string>& workflow) override;
  Result<std::vector<StateStays>> report_stays(Timestamp from, Timestamp to,
                                               const std::optional<std::string>& workflow) override;
  Result<std::vector<ClosedCount>> report_closed(
      const std::optional<Timestamp>& from, const std::optional<Timestamp>& to,
      const std::optional<std::string>& workflow) override;
  Result<std::vector<LeftCareRecord>> report_left_care(const LeftCareQuery& query) override;

  Result<void> create_token(const TokenRecord& token) override;
  Result<std::optional<TokenRecord>> find_token(const std::string& hash) override;
  // Revoking a revoked token succeeds and keeps the first revocation time.
  Result<void> revoke_token(const std::string& id, Timestamp at) override;
  // Ordered by creation time, then id.
  Result<std::vector<TokenRecord>> tokens() override;

 private:
  friend class GroupCommitProbe;  // tests/store: drives write_grouped directly

  struct CloseDb {
    void operator()(sqlite3* db) const;
  };
  struct FinalizeStatement {
    void operator()(sqlite3_stmt* statement) const;
  };
  using DbHandle = std::unique_ptr<sqlite3, CloseDb>;
  using StatementHandle = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

  using StatementCache = std::unordered_map<std::string, StatementHandle>;

  // A connection that only reads, kept in the pool for reuse.
  struct ReadConnection {
    DbHandle db;
    StatementCache statements{};  // declared after db: finalized before it closes
  };

  // A connection borrowed for one read: a pooled read-only connection for a file database, so
  // that reads never wait while a commit group holds the writer (WAL readers see the last
  // commit); the writer itself, under mutex_, for a database in memory, which has one connection.
  class Reader {
   public:
    Reader(SqliteStore& store, std::unique_ptr<ReadConnection> pooled)
        : store_(store), pooled_(std::move(pooled)) {}
    Reader(SqliteStore& store, std::unique_lock<std::mutex> writer)
        : store_(store), writer_(std::move(writer)) {}
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    Reader(Reader&&) noexcept = default;
    Reader& operator=(Reader&&) = delete;

    Result<Statement> prepare(std::string_view sql);
    // Every statement from now until the reader is given back reads one snapshot (BEGIN; the
    // reader's end rolls it back: a read has nothing to commit).
    Result<void> begin_snapshot();

   private:
    SqliteStore& store_;
    std::unique_ptr<ReadConnection> pooled_;
    std::unique_lock<std::mutex> writer_;
    bool snapshot_ = false;
  };
  // Errc::storage when a new read connection cannot be opened.
  Result<Reader> reader();

  SqliteStore(DbHandle db, AuditDigest digest);

  // Requires (all below): mutex_ held.
  Result<void> configure(bool in_memory);
  Result<void> migrate();
  // The cached statement for `sql`, prepared on first use. Requires: the same SQL text is not
  // borrowed twice at once (the second borrow would reset the first).
  Result<Statement> prepare(std::string_view sql);
  static Result<Statement> prepare_cached(sqlite3* db, StatementCache& cache, std::string_view sql);
  // Within an open transaction: the compare-and-set of one case row and its history entry.
  Result<void> apply_change_locked(const CaseChange& change);
  // Replaces the case's blind index entries with `entries`.
  Result<void> replace_index_locked(
      const std::string& case_id, const std::vector<std::pair<std::string, std::string>>& entries);
  // Within an open transaction: the effects of a change to case `case_id` made at `now`. The
  // timer cancels apply to that case's timers and are stamped with `now`; the jobs, tasks, timers,
  // clocks and notifications carry their own case ids.
  // `prepared_audit`, when given, holds audit_text() of each of effects.audit, computed before
  // the write lock was taken.
  Result<void> insert_effects_locked(const std::string& case_id, Timestamp now,
                                     const CaseEffects& effects,
                                     const std::vector<AuditText>* prepared_audit = nullptr);
  // The timer cancels, timers and clocks of insert_effects_locked, in that order.
  Result<void> insert_timer_effects_locked(const std::string& case_id, Timestamp now,
                                           const CaseEffects& effects);
  Result<void> insert_incident_locked(const IncidentRecord& incident);
  // Within an open write transaction: chains `records` after the last row and inserts them.
  // Reading the last row inside the transaction that holds the write lock is what keeps two
  // writers (threads or processes) from forking the chain.
  // `texts`, when given, holds audit_text() of each record, computed before the write lock was
  // taken; otherwise this computes them.
  Result<void> append_audit_locked(std::vector<AuditRecord> records,
                                   const std::vector<AuditText>* texts = nullptr);
  // The case.open / case.write row of a history entry.
  Result<void> audit_change_locked(const std::string& case_id, const HistoryEntry& entry,
                                   std::int64_t version, std::string_view action);
  Result<void> insert_notification_locked(const NotificationRecord& notification);
  // A write waiting for its commit group (see the class comment).
  struct PendingWrite {
    const std::function<Result<void>()>* body = nullptr;
    Result<void> result{};
    bool done = false;
    std::condition_variable wake{};
    // The writes of the same group this one's caller wakes once it is woken itself (a binary
    // tree over the group: the writer wakes only the first). Set with `done`.
    std::array<std::shared_ptr<PendingWrite>, 2> wakes_next{};
  };
  // Runs `body` (which writes through the cached statements and must neither begin nor end a
  // transaction) in the next commit group and returns once that group committed: the body's own
  // error (its writes rolled back), the commit's error, or success. The body runs on the writer
  // thread with mutex_ held.
  Result<void> write_grouped(const std::function<Result<void>()>& body);
  // The writer thread: commits the queued writes group after group until the store closes.
  void write_loop();
  // Requires: group_mutex_ held. Starts the writer thread unless it runs: open() starts it for
  // a store opened for writing, write_grouped() for any other.
  void start_writer_locked();
  // Requires: mutex_ held. Runs the bodies of `group` in as few transactions as storage errors
  // allow (one when nothing fails at the storage level) and sets each one's result.
  void commit_group_locked(const std::vector<PendingWrite*>& group);
  // Runs one or more statements that return no rows; not cached.
  Result<void> execute(std::string_view sql, std::string_view what);
  // Resets the write-ahead log after erasure or retention; best effort.
  void truncate_wal_locked();
  // Requires: mutex_ held, no transaction open. When the log has grown past max_log_frames_
  // (writes outran the background checkpoints, which copy the log into the database file but
  // let it start again from the beginning only once they have caught up with it), runs a
  // checkpoint that restarts it. `wait`: waits (busy timeout) for the background checkpoint
  // and for readers (the import, which may hold everything up); otherwise gives up at once
  // when either is busy and tries again after the next commit (the server: a request never
  // waits for a reader's snapshot). Defined in sqlite_checkpoint.cpp.
  void restart_long_log_locked(bool wait);
  // Whether the log is past max_log_frames_; takes no lock.
  bool log_is_long() const;

  const AuditDigest digest_;
  std::mutex mutex_;
  // Declared before statements_ so that the statements are finalized before the connection
  // closes. GUARDED_BY(mutex_)
  DbHandle db_;
  // Prepared once per SQL text and reused for the life of the connection. GUARDED_BY(mutex_)
  StatementCache statements_;
  // The database file, for opening read connections; empty in memory.
  std::string path_;
  // Idle read connections; one is opened when none is idle, so there are at most as many as
  // threads that ever read at once.
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<ReadConnection>> readers_;  // GUARDED_BY(readers_mutex_)
  // Checkpoints the write-ahead log off the request path (a file database opened for writing);
  // declared after db_, so it unhooks itself before the connection closes.
  std::unique_ptr<Checkpointer> checkpointer_;
  // See restart_long_log_locked; tests lower it.
  std::atomic<int> max_log_frames_{kMaxLogFrames};
  // Writes waiting for a commit, oldest first; a group stays at the front while it commits.
  std::mutex group_mutex_;
  // Shared with the writer thread that answers them, so that it can wake each after letting go
  // of group_mutex_ even when the caller already saw `done` and returned.
  std::deque<std::shared_ptr<PendingWrite>> group_queue_;  // GUARDED_BY(group_mutex_)
  // Wakes the writer thread when a write arrives at an empty queue, or the store closes.
  std::condition_variable writer_wake_;
  bool writer_stopping_ = false;  // GUARDED_BY(group_mutex_)
  // Started by open() (a read-only store has none); joined by the destructor, first, before
  // anything it uses goes. GUARDED_BY(group_mutex_)
  std::thread writer_;
};

}  // namespace carepath::store
