// Internals shared by the SqliteStore source files (sqlite_store.cpp, sqlite_time.cpp) and the
// store's tests: the schema, the statement and transaction wrappers, cursors and a few query
// texts whose plans the tests check. Nothing outside src/store and tests/store includes this.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/object.hpp>
#include <sqlite3.h>

#include "core/error.hpp"
#include "core/metrics.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {

// --- Schema ---------------------------------------------------------------------------------

// Schema version 1. Events and idempotency rows point at their case, so with foreign keys on a
// case that has history can never be deleted; the triggers keep history append-only even for
// someone with a sqlite3 shell.
inline constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE workflows (
  name        TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  sha256      TEXT    NOT NULL,
  source_yaml TEXT    NOT NULL,
  loaded_at   INTEGER NOT NULL,
  PRIMARY KEY (name, version)
);

CREATE TABLE cases (
  rowid            INTEGER PRIMARY KEY,
  id               TEXT    NOT NULL UNIQUE,
  code             TEXT    NOT NULL UNIQUE,
  workflow         TEXT    NOT NULL,
  workflow_version INTEGER NOT NULL,
  state            TEXT    NOT NULL,
  data_json        TEXT    NOT NULL,
  version          INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX cases_by_workflow_state ON cases (workflow, state, rowid);
CREATE INDEX cases_by_workflow ON cases (workflow, rowid);
CREATE INDEX cases_by_state ON cases (state, rowid);
CREATE INDEX cases_by_workflow_version ON cases (workflow, workflow_version);

CREATE TABLE events (
  case_id      TEXT    NOT NULL REFERENCES cases (id),
  seq          INTEGER NOT NULL,
  at           INTEGER NOT NULL,
  actor        TEXT    NOT NULL,
  event        TEXT    NOT NULL,
  from_state   TEXT,
  to_state     TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  changed_json TEXT    NOT NULL,
  comment      TEXT,
  payload_json TEXT    NOT NULL,
  PRIMARY KEY (case_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TABLE idempotency (
  case_id      TEXT    NOT NULL REFERENCES cases (id),
  actor        TEXT    NOT NULL,
  key          TEXT    NOT NULL,
  request_hash TEXT    NOT NULL,
  status       INTEGER NOT NULL,
  response     TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (case_id, actor, key)
) WITHOUT ROWID;

CREATE TABLE tokens (
  id         TEXT    PRIMARY KEY,
  hash       TEXT    NOT NULL UNIQUE,
  user       TEXT    NOT NULL,
  roles_json TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
)sql";

// Version 2: the outbox of asynchronous step calls, tasks (pending steps) and incidents.
inline constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE outbox (
  id               INTEGER PRIMARY KEY,
  case_id          TEXT    NOT NULL REFERENCES cases (id),
  workflow         TEXT    NOT NULL,
  workflow_version INTEGER NOT NULL,
  step_ref         TEXT    NOT NULL,
  step_type        TEXT    NOT NULL,
  event            TEXT,
  from_state       TEXT,
  to_state         TEXT    NOT NULL,
  idempotency_key  TEXT    NOT NULL UNIQUE,
  attempts         INTEGER NOT NULL,
  max_attempts     INTEGER NOT NULL,
  backoff_ms       INTEGER NOT NULL,
  next_at          INTEGER NOT NULL,
  lease_until      INTEGER NOT NULL DEFAULT 0,
  status           TEXT    NOT NULL,
  last_error       TEXT,
  created_at       INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_at);

CREATE TABLE tasks (
  id               TEXT    PRIMARY KEY,
  token            TEXT    NOT NULL UNIQUE,
  case_id          TEXT    NOT NULL REFERENCES cases (id),
  step_type        TEXT    NOT NULL,
  step_ref         TEXT    NOT NULL,
  on_complete      TEXT,
  description_json TEXT    NOT NULL,
  status           TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  closed_at        INTEGER
);
CREATE INDEX tasks_by_case ON tasks (case_id, created_at);

CREATE TABLE incidents (
  id          TEXT    PRIMARY KEY,
  case_id     TEXT    NOT NULL REFERENCES cases (id),
  job_id      INTEGER REFERENCES outbox (id),  -- NULL for a failed task of a synchronous step
  step_type   TEXT    NOT NULL,
  message     TEXT    NOT NULL,
  attempts    INTEGER NOT NULL,
  status      TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  resolved_at INTEGER
);
CREATE INDEX incidents_by_case ON incidents (case_id, created_at);
)sql";

// Version 3: what triggered an engine-made change, timers and statutory clocks.
//
// Every index is partial where the queries only ever want a small part of the table, so that the
// scheduler, the supervisor's lists and the overdue filter read what they return and not the
// history of every timer and clock (tests/store/sqlite_time_test.cpp checks the plans):
// - timers_due: claim_timers and next_timer_at, over pending timers only;
// - timers_pending_by_case: the cancels a case change makes;
// - clocks_running_due: running clocks past their deadline ("breached" and list_cases
//   overdue_at);
// - clocks_warning: running, unbreached clocks past their warning time;
// - clocks_breached: clocks marked breached, running or stopped.
// clocks has its own integer key (like cases) so that list_clocks' cursor stays valid across a
// VACUUM, which may renumber an implicit rowid; (case_id, name) is the natural key.
inline constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE events ADD COLUMN trigger_json TEXT;

CREATE TABLE timers (
  id          INTEGER PRIMARY KEY,
  case_id     TEXT    NOT NULL REFERENCES cases (id),
  kind        TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  purpose     TEXT    NOT NULL,
  event       TEXT,
  due_at      INTEGER NOT NULL,
  occurrence  INTEGER NOT NULL,
  anchor_at   INTEGER NOT NULL,
  status      TEXT    NOT NULL,
  fired_at    INTEGER,
  note        TEXT,
  created_at  INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX timers_due ON timers (due_at, id) WHERE status = 'pending';
CREATE INDEX timers_pending_by_case ON timers (case_id, kind, name) WHERE status = 'pending';
CREATE INDEX timers_by_case ON timers (case_id, due_at);

CREATE TABLE clocks (
  rowid        INTEGER PRIMARY KEY,
  case_id      TEXT    NOT NULL REFERENCES cases (id),
  name         TEXT    NOT NULL,
  workflow     TEXT    NOT NULL,
  started_at   INTEGER NOT NULL,
  base_due_at  INTEGER NOT NULL,
  excluded_ms  INTEGER NOT NULL,
  paused_since INTEGER,
  pause_kind   TEXT,
  due_at       INTEGER,
  warn_at      INTEGER,
  stopped_at   INTEGER,
  warned_at    INTEGER,
  breached_at  INTEGER,
  log_json     TEXT    NOT NULL,
  UNIQUE (case_id, name)
);
CREATE INDEX clocks_running_due ON clocks (due_at) WHERE stopped_at IS NULL;
CREATE INDEX clocks_warning ON clocks (warn_at) WHERE stopped_at IS NULL AND breached_at IS NULL;
CREATE INDEX clocks_breached ON clocks (breached_at) WHERE breached_at IS NOT NULL;
)sql";

// Version 4: notifications, one per role a clock's warning or breach names in `notify`.
//
// An inbox reads one role at a time, newest first, through one of two indexes that end in
// (created_at, rowid) (a rowid table's indexes end in the rowid), so a page reads about as many
// rows as it returns however many have piled up:
// - notifications_by_role: every notification of a role;
// - notifications_unacknowledged: only those nobody has acknowledged yet.
// Like clocks, the table has its own integer key so that the inbox's cursor survives a VACUUM;
// `id` is the random identifier people and the API use.
inline constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE notifications (
  rowid           INTEGER PRIMARY KEY,
  id              TEXT    NOT NULL UNIQUE,
  case_id         TEXT    NOT NULL REFERENCES cases (id),
  workflow        TEXT    NOT NULL,
  role            TEXT    NOT NULL,
  kind            TEXT    NOT NULL,
  subject         TEXT    NOT NULL,
  due_at          INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  acknowledged_at INTEGER,
  acknowledged_by TEXT
);
CREATE INDEX notifications_by_role ON notifications (role, created_at);
CREATE INDEX notifications_unacknowledged ON notifications (role, created_at)
  WHERE acknowledged_at IS NULL;
)sql";

// Version 5: migration runs, and a way to find a case's unfinished outbox jobs.
inline constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE migrations (
  id           INTEGER PRIMARY KEY,
  plan         TEXT    NOT NULL,
  workflow     TEXT    NOT NULL,
  from_version INTEGER NOT NULL,
  to_version   INTEGER NOT NULL,
  actor        TEXT    NOT NULL,
  started_at   INTEGER NOT NULL,
  finished_at  INTEGER,
  status       TEXT    NOT NULL,
  moved        INTEGER NOT NULL,
  failed       INTEGER NOT NULL
);
CREATE INDEX migrations_by_plan ON migrations (plan, id);
CREATE INDEX outbox_pending_by_case ON outbox (case_id) WHERE status = 'pending';
)sql";

// Version 6: encryption at rest. Each case's data key, wrapped by a master key (the key file stays
// outside the database), and the engine's settings (the check that the key file is the right one).
inline constexpr std::string_view kSchemaV6 = R"sql(
ALTER TABLE cases ADD COLUMN data_key TEXT;
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE case_index (
  case_id TEXT NOT NULL REFERENCES cases (id),
  field   TEXT NOT NULL,
  digest  TEXT NOT NULL,
  PRIMARY KEY (case_id, field)
) WITHOUT ROWID;
CREATE INDEX case_index_by_digest ON case_index (field, digest);
)sql";

// Version 7: the audit trail (core/audit.hpp). seq is the rowid, assigned by the writer as the
// last seq + 1 inside its write transaction, so it has no gaps; the triggers keep the table
// append-only even for someone with a sqlite3 shell (who can drop them, which the hash chain
// then shows: `carepath audit verify`). case_id has no foreign key: a login.failed row has none,
// and the trail must outlive whatever happens to a case.
inline constexpr std::string_view kSchemaV7 = R"sql(
CREATE TABLE audit (
  seq          INTEGER PRIMARY KEY,
  at           INTEGER NOT NULL,
  actor        TEXT    NOT NULL,
  action       TEXT    NOT NULL,
  case_id      TEXT,
  fields_json  TEXT    NOT NULL,
  reason       TEXT,
  details_json TEXT    NOT NULL,
  prev_hash    TEXT    NOT NULL,
  hash         TEXT    NOT NULL
);
CREATE INDEX audit_by_case ON audit (case_id, seq) WHERE case_id IS NOT NULL;
CREATE INDEX audit_by_actor ON audit (actor, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
  SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
  SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
)sql";

// Version 8: protection of identity, second part. Each case's holder and placement, kept in
// columns for object-level authorisation (a caseworker's own cases, a supervisor's homes); its
// consents; when it was closed (the anchor of retention rules) and erased. Tokens name the
// teams and homes of their user. Existing cases get their holder (assigned_to, else who opened
// them); their placement is set by their next change, since which field holds it depends on the
// workflow.
inline constexpr std::string_view kSchemaV8 = R"sql(
ALTER TABLE cases ADD COLUMN assignee TEXT;
ALTER TABLE cases ADD COLUMN placement TEXT;
ALTER TABLE cases ADD COLUMN consents_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE cases ADD COLUMN closed_at INTEGER;
ALTER TABLE cases ADD COLUMN erased_at INTEGER;
CREATE INDEX cases_by_assignee ON cases (assignee, rowid) WHERE assignee IS NOT NULL;
CREATE INDEX cases_by_placement ON cases (placement, rowid) WHERE placement IS NOT NULL;
CREATE INDEX cases_closed ON cases (closed_at) WHERE closed_at IS NOT NULL;
ALTER TABLE tokens ADD COLUMN teams_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tokens ADD COLUMN homes_json TEXT NOT NULL DEFAULT '[]';
UPDATE cases SET assignee = COALESCE(
  CASE WHEN json_type(data_json, '$.assigned_to') = 'text'
       THEN NULLIF(json_extract(data_json, '$.assigned_to'), '') END,
  (SELECT actor FROM events WHERE events.case_id = cases.id AND events.seq = 1));
)sql";

// Version 9: retention (`retain:` in a workflow) removes expired values from history payloads.
// Events stay append-only in every other way: an update may touch payload_json only, and only to
// remove members, leaving every other member as it was.
inline constexpr std::string_view kSchemaV9 = R"sql(
DROP TRIGGER events_no_update;
CREATE TRIGGER events_no_update BEFORE UPDATE OF case_id, seq, at, actor, event, from_state,
  to_state, version, changed_json, comment, trigger_json ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_payload_only_shrinks BEFORE UPDATE OF payload_json ON events
WHEN json_type(NEW.payload_json) IS NOT 'object' OR EXISTS (
  SELECT 1 FROM json_each(NEW.payload_json) AS n WHERE NOT EXISTS (
    SELECT 1 FROM json_each(OLD.payload_json) AS o
    WHERE o.key = n.key AND o.type = n.type AND o.value IS n.value))
BEGIN
  SELECT RAISE(ABORT, 'events are append-only; retention may only remove payload members');
END;
)sql";

// Version 10: reports (docs/reports.md), each read through an index and none by reading every
// case or every history entry:
// - cases_open: the caseload, a count over open cases only, answered from the index alone;
// - cases_closed_by_state: the outcomes of every closed case, from the index alone (a period's
//   are found through cases_closed);
// - events_by_at: the entries of a period (flow, the CWC's quarterly report), from the index
//   alone (a WITHOUT ROWID table's index holds its key, case_id and seq);
// - events_by_event: the cases that took one event (left care) before a date.
inline constexpr std::string_view kSchemaV10 = R"sql(
CREATE INDEX cases_open ON cases (workflow, state, placement, assignee, closed_at)
  WHERE closed_at IS NULL;
CREATE INDEX cases_closed_by_state ON cases (workflow, workflow_version, state, closed_at)
  WHERE closed_at IS NOT NULL;
CREATE INDEX events_by_at ON events (at, event, from_state, to_state);
CREATE INDEX events_by_event ON events (event, at);
)sql";

// Version 11: the period reports read history entries alone, never joining each to its case
// (docs/reports.md#speed). Each entry carries what those reports group it by, copied from its
// case when the entry is written (kInsertEvent) and never changed after:
// - workflow, workflow_version, placement: the case's after the change the entry records;
// - entered_at: on an entry that changed the state, when the case entered the state it left
//   (the time of its last earlier entry that opened it or changed its state).
// Existing entries get their case's workflow, version and placement now (what the reports of
// version 10 grouped them by) and their entered_at. Two indexes answer every period report from
// the index alone:
// - events_moves: the entries that opened a case or changed its state, by time (flow);
// - events_counted: every entry by event and time (the CWC's quarterly report, the aftercare
//   list's leavings), replacing events_by_event; events_by_at has no reader left;
// - cases_closed_when: the outcomes of the cases closed in a period, from the index alone;
// - cases_listed: the cases of a workflow by closing time with what the aftercare list shows
//   (erased_at, NULL in every entry, makes it covering: SQLite reads the columns of a partial
//   index's condition from the table otherwise).
// events_no_update now covers the new columns too.
inline constexpr std::string_view kSchemaV11 = R"sql(
ALTER TABLE events ADD COLUMN workflow TEXT;
ALTER TABLE events ADD COLUMN workflow_version INTEGER;
ALTER TABLE events ADD COLUMN placement TEXT;
ALTER TABLE events ADD COLUMN entered_at INTEGER;
DROP INDEX events_by_at;
DROP INDEX events_by_event;
UPDATE events SET (workflow, workflow_version, placement, entered_at) = (
  SELECT c.workflow, c.workflow_version, c.placement,
         CASE WHEN events.from_state IS NOT NULL AND events.from_state <> events.to_state THEN
           (SELECT p.at FROM events AS p WHERE p.case_id = events.case_id AND p.seq < events.seq
              AND (p.from_state IS NULL OR p.from_state <> p.to_state)
            ORDER BY p.seq DESC LIMIT 1) END
  FROM cases AS c WHERE c.id = events.case_id);
DROP TRIGGER events_no_update;
CREATE TRIGGER events_no_update BEFORE UPDATE OF case_id, seq, at, actor, event, from_state,
  to_state, version, changed_json, comment, trigger_json, workflow, workflow_version, placement,
  entered_at ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE INDEX events_moves ON events (at, workflow, from_state, to_state, entered_at)
  WHERE from_state IS NOT to_state;
CREATE INDEX events_counted ON events (event, at, workflow, workflow_version, from_state,
  to_state, placement);
CREATE INDEX cases_closed_when ON cases (closed_at, workflow, workflow_version, state)
  WHERE closed_at IS NOT NULL;
CREATE INDEX cases_listed ON cases (workflow, closed_at, id, code, workflow_version, placement,
  state, erased_at) WHERE erased_at IS NULL;
)sql";

// Version 12: the cases without a data key (erased ones, and any written before encryption at
// rest), so that the start-up check below reads only those instead of every case (data_key, NULL
// in every entry, makes it covering, as erased_at does cases_listed).
inline constexpr std::string_view kSchemaV12 = R"sql(
CREATE INDEX cases_without_key ON cases (erased_at, data_key) WHERE data_key IS NULL;
)sql";

// Cases without a data key that are not erased (written before encryption at rest), counted at
// every start-up (security::check_database_key), through cases_without_key. Without an index of
// its own SQLite walked the partial index cases_listed and looked each case up in the table in
// the index's order (random ids): 8.6 s of the start-up at a million cases on a warm page cache,
// and reading the whole table in order still took 0.6 s warm and 6 to 10 s cold
// (bench/README.md, large_bench).
inline constexpr std::string_view kCountCasesWithoutKeySql =
    "SELECT count(*) FROM cases INDEXED BY cases_without_key WHERE data_key IS NULL AND "
    "erased_at IS NULL";

// kMigrations[i] takes a database from user_version i to i + 1. Append a step for each new
// version; never edit a released one, because databases in the field have already run it.
inline constexpr std::array<std::string_view, 12> kMigrations = {
    kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4,  kSchemaV5,  kSchemaV6,
    kSchemaV7, kSchemaV8, kSchemaV9, kSchemaV10, kSchemaV11, kSchemaV12};
static_assert(kMigrations.size() == SqliteStore::kSchemaVersion);

// --- Errors, limits, JSON -------------------------------------------------------------------

inline constexpr std::size_t kMaxPageSize = 500;
// The most rows one claim_jobs or claim_timers call leases; a worker that wants more calls again.
inline constexpr std::size_t kMaxClaimBatch = 100;

// Error::type of a write the storage could not make durable: a full disk, a read-only database,
// file or file system, an I/O error or a failed fsync (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR,
// SQLITE_CANTOPEN). With Errc::unavailable, the API answers 503 with Retry-After (api/problem.hpp).
// The change is not acknowledged, and nothing retries it behind the caller's back. (A failed
// fsync may leave a committed WAL frame that a later start reads back: hence Idempotency-Key.)
inline constexpr std::string_view kStorageUnavailable = "storage-unavailable";

// Errc::unavailable for SQLITE_BUSY and SQLITE_LOCKED (worth retrying); Errc::unavailable with
// type kStorageUnavailable for a write the storage refused or could not make durable;
// Errc::storage otherwise.
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

// Sets SQLite's process-wide options, once, before the first connection opens (sqlite3_config
// is refused after that): every path that opens a connection calls it first.
void configure_sqlite_library();

// Clamps a page size to 1..kMaxPageSize.
std::size_t clamp_limit(std::size_t limit);

// Errc::storage when `text` is not a JSON object; `what` names the row for the message.
Result<boost::json::object> parse_object(const std::string& text, std::string_view what);

// --- Cursors --------------------------------------------------------------------------------
// A cursor is a kind letter, so that one list's cursor is not silently accepted by another,
// then one or more positions as 16 lowercase hex digits each. Clients must treat them as opaque.
inline constexpr char kCaseCursor = 'c';
inline constexpr char kHistoryCursor = 'h';
inline constexpr char kClockCursor = 'k';
inline constexpr char kNotificationCursor = 'n';
inline constexpr char kAuditCursor = 'a';

// `value` as exactly 16 lowercase hex digits.
std::string hex16(std::uint64_t value);
// The value of exactly 16 lowercase hex digits; nullopt for anything else.
std::optional<std::uint64_t> parse_hex16(std::string_view text);

std::string encode_cursor(char kind, std::int64_t position);
// 0 when there is no cursor; Errc::invalid_argument ("invalid cursor") when it is malformed.
Result<std::int64_t> decode_cursor(char kind, const std::optional<std::string>& cursor);

// --- Statements and transactions ------------------------------------------------------------

// A cached prepared statement borrowed for one use. On destruction it is reset and its bindings
// cleared, so the next borrower starts clean and no read snapshot is left open.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}
  ~Statement() {
    if (statement_ != nullptr) {
      sqlite3_reset(statement_);
      sqlite3_clear_bindings(statement_);
    }
  }
  Statement(Statement&& other) noexcept
      : db_(other.db_),
        statement_(std::exchange(other.statement_, nullptr)),
        bind_rc_(other.bind_rc_),
        last_rc_(other.last_rc_) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  // Binding errors (only SQLITE_TOOBIG or SQLITE_NOMEM in practice) are kept and reported by the
  // next step(), so call sites stay a straight list of binds.
  void bind_text(int index, std::string_view text) {
    note_bind(sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                  SQLITE_UTF8));
  }
  void bind_int64(int index, std::int64_t value) {
    note_bind(sqlite3_bind_int64(statement_, index, value));
  }
  void bind_optional_text(int index, const std::optional<std::string>& text) {
    if (text) {
      bind_text(index, *text);
    } else {
      note_bind(sqlite3_bind_null(statement_, index));
    }
  }
  void bind_optional_int64(int index, const std::optional<std::int64_t>& value) {
    if (value) {
      bind_int64(index, *value);
    } else {
      note_bind(sqlite3_bind_null(statement_, index));
    }
  }

  // True when a row is ready, false when the statement has finished.
  Result<bool> step(std::string_view what) {
    if (bind_rc_ != SQLITE_OK) {
      last_rc_ = bind_rc_;
      return sqlite_error(db_, bind_rc_, what);
    }
    last_rc_ = sqlite3_step(statement_);
    if (last_rc_ == SQLITE_ROW) {
      return true;
    }
    if (last_rc_ == SQLITE_DONE) {
      return false;
    }
    return sqlite_error(db_, last_rc_, what);
  }

  // Steps to the end; for statements that return no rows.
  Result<void> run(std::string_view what) {
    auto stepped = step(what);
    while (stepped && *stepped) {
      stepped = step(what);
    }
    if (!stepped) {
      return stepped.error();
    }
    return {};
  }

  // The extended result code of the last step, to tell constraint violations apart.
  int last_result_code() const { return last_rc_; }
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  std::int64_t changes() const { return sqlite3_changes64(db_); }

  std::int64_t int64(int column) const { return sqlite3_column_int64(statement_, column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  std::string text(int column) const {
    const auto* data = sqlite3_column_text(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr) {
      return {};
    }
    return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
  }
  // The column's text without a copy: valid until the next step or reset.
  std::string_view text_view(int column) const {
    const auto* data = sqlite3_column_text(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr) {
      return {};
    }
    return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
  }
  std::optional<std::string> optional_text(int column) const {
    if (is_null(column)) {
      return std::nullopt;
    }
    return text(column);
  }
  std::optional<std::int64_t> optional_int64(int column) const {
    if (is_null(column)) {
      return std::nullopt;
    }
    return int64(column);
  }

 private:
  void note_bind(int rc) {
    if (bind_rc_ == SQLITE_OK) {
      bind_rc_ = rc;
    }
  }

  sqlite3* db_;
  sqlite3_stmt* statement_;
  int bind_rc_ = SQLITE_OK;
  int last_rc_ = SQLITE_OK;
};

// Rolls back unless committed, so that every early return leaves the database as it was.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    // SQLite has already rolled back after some errors (SQLITE_FULL, SQLITE_IOERR, ...).
    if (active_ && sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&&) = delete;
  Transaction& operator=(Transaction&&) = delete;

  // IMMEDIATE takes the write lock now, waiting up to the busy timeout. A deferred transaction
  // that read first and wrote later could fail with SQLITE_BUSY without waiting at all.
  Result<void> begin_immediate() {
    const int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return sqlite_error(db_, rc, "begin transaction");
    }
    active_ = true;
    return {};
  }

  Result<void> commit() {
    const auto started = std::chrono::steady_clock::now();
    const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    metrics::engine().db_commit.observe(
        {}, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (rc != SQLITE_OK) {
      return sqlite_error(db_, rc, "commit");
    }
    active_ = false;
    return {};
  }

 private:
  sqlite3* db_;
  bool active_ = false;
};

// --- Query texts the plan tests check -------------------------------------------------------
// Column lists shared by the SQL texts and the readers; keep the two in step. Macros, not
// constants, because they are pasted into string literals at compile time.

#define CP_TIMER_COLUMNS                                                                       \
  "id, case_id, kind, name, purpose, event, due_at, occurrence, anchor_at, status, fired_at, " \
  "note, created_at"
#define CP_CLOCK_COLUMNS                                                                      \
  "case_id, name, workflow, started_at, base_due_at, excluded_ms, paused_since, pause_kind, " \
  "due_at, warn_at, stopped_at, warned_at, breached_at, log_json, rowid"

// ?1 now, ?2 limit. Walks timers_due in (due_at, id) order and stops after ?2 rows.
inline constexpr std::string_view kClaimTimersSql =
    "SELECT " CP_TIMER_COLUMNS
    " FROM timers WHERE status = 'pending' AND due_at <= ?1 AND lease_until <= ?1 "
    "ORDER BY due_at, id LIMIT ?2";

// The first entry of timers_due: one index seek.
inline constexpr std::string_view kNextTimerSql =
    "SELECT MIN(due_at) FROM timers WHERE status = 'pending'";

// ?1 case, ?2 kind, ?3 name, ?4 when. Both touch only timers_pending_by_case's rows of the case.
inline constexpr std::string_view kCancelTimersSql =
    "UPDATE timers SET status = 'cancelled', fired_at = ?4 "
    "WHERE case_id = ?1 AND kind = ?2 AND status = 'pending'";
inline constexpr std::string_view kCancelNamedTimersSql =
    "UPDATE timers SET status = 'cancelled', fired_at = ?4 "
    "WHERE case_id = ?1 AND kind = ?2 AND name = ?3 AND status = 'pending'";

// list_clocks: ?1 now, ?2 workflow or NULL, (?3, ?4, ?5) the cursor's position as
// (due_at IS NULL, due_at or 0, rowid), ?6 limit. Rows come in (due_at NULLS LAST, rowid)
// order; the row-value comparison with that same key is the keyset cursor. The rows are found
// through the partial indexes and the few matches sorted, since no index can give NULLS LAST.
//
// "breached" is two disjoint halves so that each uses its own index: an OR of the two would
// make SQLite scan the whole table.
#define CP_CLOCK_PAGE                                                \
  "(?2 IS NULL OR workflow = ?2) "                                   \
  "AND (due_at IS NULL, COALESCE(due_at, 0), rowid) > (?3, ?4, ?5) " \
  "ORDER BY due_at IS NULL, due_at, rowid LIMIT ?6"

inline constexpr std::string_view kBreachedClocksSql =
    "SELECT " CP_CLOCK_COLUMNS " FROM (SELECT " CP_CLOCK_COLUMNS
    " FROM clocks WHERE breached_at IS NOT NULL "
    "UNION ALL SELECT " CP_CLOCK_COLUMNS
    " FROM clocks WHERE breached_at IS NULL AND stopped_at IS NULL AND due_at IS NOT NULL "
    "AND due_at <= ?1) WHERE " CP_CLOCK_PAGE;

inline constexpr std::string_view kWarningClocksSql =
    "SELECT " CP_CLOCK_COLUMNS
    " FROM clocks WHERE stopped_at IS NULL AND breached_at IS NULL AND warn_at IS NOT NULL "
    "AND warn_at <= ?1 AND due_at > ?1 AND " CP_CLOCK_PAGE;

#define CP_NOTIFICATION_COLUMNS                                                       \
  "id, case_id, workflow, role, kind, subject, due_at, created_at, acknowledged_at, " \
  "acknowledged_by, rowid"

// One role's inbox page: ?1 role, (?2, ?3) the cursor's (created_at, rowid), ?4 limit. Walks
// notifications_by_role (or notifications_unacknowledged) backwards from the cursor and stops
// after ?4 rows; list_notifications merges the pages of the caller's roles.
#define CP_NOTIFICATION_PAGE                                       \
  " AND (created_at, rowid) < (?2, ?3) ORDER BY created_at DESC, " \
  "rowid DESC LIMIT ?4"

inline constexpr std::string_view kRoleNotificationsSql =
    "SELECT " CP_NOTIFICATION_COLUMNS " FROM notifications WHERE role = ?1" CP_NOTIFICATION_PAGE;
inline constexpr std::string_view kRoleUnacknowledgedNotificationsSql =
    "SELECT " CP_NOTIFICATION_COLUMNS
    " FROM notifications WHERE role = ?1 AND acknowledged_at IS NULL" CP_NOTIFICATION_PAGE;

// Reports (sqlite_reports.cpp). ?3 (or ?1) is the workflow, or NULL for every workflow.
// Open cases, from cases_open alone.
inline constexpr std::string_view kReportCaseloadSql =
    "SELECT workflow, state, placement, assignee, COUNT(*) FROM cases "
    "WHERE closed_at IS NULL AND (?1 IS NULL OR workflow = ?1) "
    "GROUP BY workflow, state, placement, assignee ORDER BY workflow, state, placement, assignee";

// ?1 from, ?2 to, ?4 event. The period's entries of one event, from events_counted alone.
inline constexpr std::string_view kReportEventCountsSql =
    "SELECT workflow, workflow_version, event, from_state, to_state, placement, COUNT(*), "
    "COUNT(DISTINCT case_id) FROM events WHERE event = ?4 AND at >= ?1 AND at < ?2 "
    "AND (?3 IS NULL OR workflow = ?3) GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6";

// ?1 from, ?2 to. The period's entries that opened a case or changed its state, from
// events_moves alone (the partial index's condition is spelt as the index spells it).
inline constexpr std::string_view kReportMovesSql =
    "SELECT workflow, from_state, to_state, COUNT(*) FROM events "
    "WHERE at >= ?1 AND at < ?2 AND from_state IS NOT to_state "
    "AND (?3 IS NULL OR workflow = ?3) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

// ?1 from, ?2 to. Each entry of the period that changed the state ends a stay, which began at
// entered_at; from events_moves alone.
inline constexpr std::string_view kReportStaysSql =
    "SELECT workflow, from_state, at - entered_at FROM events "
    "WHERE at >= ?1 AND at < ?2 AND from_state IS NOT to_state AND from_state IS NOT NULL "
    "AND (?3 IS NULL OR workflow = ?3) ORDER BY 1, 2, 3";

// Every closed case, from cases_closed_by_state alone.
inline constexpr std::string_view kReportClosedAllSql =
    "SELECT workflow, workflow_version, state, COUNT(*) FROM cases "
    "WHERE closed_at IS NOT NULL AND (?3 IS NULL OR workflow = ?3) GROUP BY 1, 2, 3 "
    "ORDER BY 1, 2, 3";
// ?1 from, ?2 to (closed_at): the cases closed in a period, from cases_closed_when alone.
inline constexpr std::string_view kReportClosedSql =
    "SELECT workflow, workflow_version, state, COUNT(*) FROM cases "
    "WHERE closed_at IS NOT NULL AND closed_at >= ?1 AND closed_at < ?2 "
    "AND (?3 IS NULL OR workflow = ?3) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

// The aftercare list (report_left_care) in three index-only reads, joined in memory:
// ?1 event, ?2 until, ?3 the state it was taken from or NULL, ?4 workflow: every such entry
// before `until`, from events_counted.
inline constexpr std::string_view kReportLeftCareSql =
    "SELECT case_id, at, from_state FROM events WHERE event = ?1 AND at < ?2 "
    "AND (?3 IS NULL OR from_state = ?3) AND workflow = ?4";
// The number of rows kReportLeftCareSql will read (?1 event, ?2 until), to size the join.
inline constexpr std::string_view kReportLeftCareCountSql =
    "SELECT count(*) FROM events WHERE event = ?1 AND at < ?2";
// ?1 workflow, ?2 since: the cases not closed before `since` and not erased, from cases_listed.
inline constexpr std::string_view kReportListedCasesSql =
    "SELECT id, code, workflow_version, placement, state, closed_at FROM cases "
    "WHERE workflow = ?1 AND closed_at IS NULL AND erased_at IS NULL UNION ALL "
    "SELECT id, code, workflow_version, placement, state, closed_at FROM cases "
    "WHERE workflow = ?1 AND closed_at >= ?2 AND erased_at IS NULL";
// ?1 until, ?2 workflow: the changes of state since `until`, from events_moves; a case's first
// one left the state it was in at `until`.
inline constexpr std::string_view kReportMovesSinceSql =
    "SELECT case_id, seq, at, from_state FROM events WHERE at >= ?1 "
    "AND from_state IS NOT to_state AND from_state IS NOT NULL AND workflow = ?2";

// The SQL text list_cases runs for one combination of filters: ?1 the cursor's rowid,
// ?2 workflow, ?3 state, ?4 limit, ?5 overdue_at, ?6 workflow_version, ?7 and ?8 a blind index
// field and digest, ?9 and ?10 a caller's scope (JSON arrays of assignees and placements).
// Unused parameters are never read.
std::string case_list_sql(bool workflow, bool state, bool overdue, bool version = false,
                          bool match = false, bool scope = false);

}  // namespace carepath::store
