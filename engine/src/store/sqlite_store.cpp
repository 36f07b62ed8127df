#include "store/sqlite_store.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include <boost/json.hpp>
#include <sqlite3.h>

#include "core/metrics.hpp"
#include "core/thread_name.hpp"
#include "store/sqlite_checkpoint.hpp"
#include "store/sqlite_internal.hpp"
#include "store/sqlite_wal_buffer.hpp"

namespace carepath::store {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  const bool durability = primary == SQLITE_FULL || primary == SQLITE_READONLY ||
                          primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN;
  const Errc code = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || durability)
                        ? Errc::unavailable
                        : Errc::storage;
  std::string message = "sqlite: ";
  message += what;
  message += ": ";
  // SQLite's messages name tables and columns, never bound values, so they are safe to show.
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  Error error = make_error(code, std::move(message));
  if (durability) {
    error.type = std::string(kStorageUnavailable);
  }
  return error;
}

void configure_sqlite_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Without this SQLite counts every allocation of every connection under one process-wide
    // mutex: at 64 connections a tenth of all futex calls were threads waiting on it. Nothing
    // in carepath reads those counts (sqlite3_memory_used). When SQLite was already initialised
    // (by a program embedding the store) the call is refused and nothing changes.
    static_cast<void>(sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0));
  });
}

std::size_t clamp_limit(std::size_t limit) {
  return std::clamp<std::size_t>(limit, 1, kMaxPageSize);
}

std::string hex16(std::uint64_t value) {
  std::array<char, 16> hex{};
  const auto written = std::to_chars(hex.data(), hex.data() + hex.size(), value, 16);
  const auto digits = static_cast<std::size_t>(written.ptr - hex.data());
  std::string text(16 - digits, '0');
  text.append(hex.data(), digits);
  return text;
}

std::optional<std::uint64_t> parse_hex16(std::string_view text) {
  if (text.size() != 16) {
    return std::nullopt;
  }
  // from_chars would also take upper case; one spelling per cursor keeps them comparable.
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return std::nullopt;
    }
  }
  std::uint64_t value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (parsed.ec != std::errc{}) {
    return std::nullopt;
  }
  return value;
}

std::string encode_cursor(char kind, std::int64_t position) {
  return std::string(1, kind) + hex16(static_cast<std::uint64_t>(position));
}

Result<std::int64_t> decode_cursor(char kind, const std::optional<std::string>& cursor) {
  if (!cursor) {
    return 0;
  }
  const std::string_view text = *cursor;
  const auto value = text.empty() || text[0] != kind ? std::nullopt : parse_hex16(text.substr(1));
  if (!value || *value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return make_error(Errc::invalid_argument, "invalid cursor");
  }
  return static_cast<std::int64_t>(*value);
}

Result<boost::json::object> parse_object(const std::string& text, std::string_view what) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    return make_error(Errc::storage, std::string(what) + ": stored JSON is not an object");
  }
  return std::move(value.as_object());
}

namespace {

bool is_uniqueness_violation(int rc) {
  return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

Result<std::vector<std::string>> parse_strings(const std::string& text, std::string_view what) {
  const Error invalid =
      make_error(Errc::storage, std::string(what) + ": stored JSON is not a list of strings");
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_array()) {
    return invalid;
  }
  std::vector<std::string> strings;
  strings.reserve(value.as_array().size());
  for (const auto& item : value.as_array()) {
    if (!item.is_string()) {
      return invalid;
    }
    strings.emplace_back(item.as_string());
  }
  return strings;
}

std::string serialize_strings(const std::vector<std::string>& strings) {
  boost::json::array array;
  array.reserve(strings.size());
  for (const auto& s : strings) {
    array.emplace_back(boost::json::string_view(s.data(), s.size()));
  }
  return boost::json::serialize(array);
}

// Column lists shared by the SQL texts and the readers below; keep the two in step. Macros, not
// constants, because they are pasted into string literals at compile time.
#define CP_CASE_COLUMNS                                                                       \
  "id, code, workflow, workflow_version, state, data_json, version, created_at, updated_at, " \
  "rowid, data_key, assignee, placement, consents_json, closed_at, erased_at"
#define CP_EVENT_COLUMNS                                                                        \
  "seq, at, actor, event, from_state, to_state, version, changed_json, comment, payload_json, " \
  "trigger_json"
#define CP_TOKEN_COLUMNS \
  "id, hash, user, roles_json, created_at, revoked_at, teams_json, homes_json"
#define CP_IDEMPOTENCY_COLUMNS "case_id, actor, key, request_hash, status, response, created_at"
#define CP_WORKFLOW_COLUMNS "name, version, sha256, source_yaml, loaded_at"

constexpr int kCaseRowidColumn = 9;

Result<CaseRecord> read_case(const Statement& row) {
  CaseRecord record;
  record.id = row.text(0);
  record.code = row.text(1);
  record.workflow = row.text(2);
  record.workflow_version = static_cast<int>(row.int64(3));
  record.state = row.text(4);
  auto data = parse_object(row.text(5), "case '" + record.id + "'");
  if (!data) {
    return data.error();
  }
  record.data = std::move(*data);
  record.version = row.int64(6);
  record.created_at = row.int64(7);
  record.updated_at = row.int64(8);
  record.data_key = row.optional_text(10).value_or("");
  record.assignee = row.optional_text(11).value_or("");
  record.placement = row.optional_text(12);
  boost::system::error_code ec;
  auto consents = boost::json::parse(row.text(13), ec);
  if (ec || !consents.is_array()) {
    return make_error(Errc::storage, "case '" + record.id + "': stored consents are not a list");
  }
  record.consents = std::move(consents.as_array());
  record.closed_at = row.optional_int64(14);
  record.erased_at = row.optional_int64(15);
  return record;
}

Result<HistoryEntry> read_event(const Statement& row, const std::string& case_id) {
  HistoryEntry entry;
  entry.seq = row.int64(0);
  entry.at = row.int64(1);
  entry.actor = row.text(2);
  entry.event = row.text(3);
  entry.from = row.optional_text(4);
  entry.to = row.text(5);
  entry.version = row.int64(6);
  const std::string what = "case '" + case_id + "' event " + std::to_string(entry.seq);
  auto changed = parse_strings(row.text(7), what);
  if (!changed) {
    return changed.error();
  }
  entry.changed = std::move(*changed);
  entry.comment = row.optional_text(8);
  auto payload = parse_object(row.text(9), what);
  if (!payload) {
    return payload.error();
  }
  entry.payload = std::move(*payload);
  // NULL for people's requests, and for every entry written before schema version 3.
  if (!row.is_null(10)) {
    auto trigger = parse_object(row.text(10), what);
    if (!trigger) {
      return trigger.error();
    }
    entry.trigger = std::move(*trigger);
  }
  return entry;
}

// The assignee column: NULL for a case nobody is assigned ("" in the record), so that the partial
// index cases_by_assignee holds only assigned cases.
std::optional<std::string> stored_assignee(const CaseRecord& record) {
  return record.assignee.empty() ? std::nullopt : std::optional<std::string>(record.assignee);
}

// Binds assignee, placement, consents_json, closed_at and erased_at from `first` on.
void bind_scope(Statement& statement, int first, const CaseRecord& record) {
  statement.bind_optional_text(first, stored_assignee(record));
  statement.bind_optional_text(first + 1, record.placement);
  statement.bind_text(first + 2, boost::json::serialize(record.consents));
  statement.bind_optional_int64(first + 3, record.closed_at);
  statement.bind_optional_int64(first + 4, record.erased_at);
}

Result<TokenRecord> read_token(const Statement& row) {
  TokenRecord token;
  token.id = row.text(0);
  token.hash = row.text(1);
  token.user = row.text(2);
  auto roles = parse_strings(row.text(3), "token '" + token.id + "'");
  if (!roles) {
    return roles.error();
  }
  token.roles = std::move(*roles);
  token.created_at = row.int64(4);
  token.revoked_at = row.optional_int64(5);
  for (auto [column, list] : {std::pair{6, &token.teams}, std::pair{7, &token.homes}}) {
    auto names = parse_strings(row.text(column), "token '" + token.id + "'");
    if (!names) {
      return names.error();
    }
    *list = std::move(*names);
  }
  return token;
}

IdempotencyRecord read_idempotency(const Statement& row) {
  IdempotencyRecord record;
  record.case_id = row.text(0);
  record.actor = row.text(1);
  record.key = row.text(2);
  record.request_hash = row.text(3);
  record.status = static_cast<int>(row.int64(4));
  record.response = row.text(5);
  record.created_at = row.int64(6);
  return record;
}

WorkflowSource read_workflow(const Statement& row) {
  WorkflowSource source;
  source.name = row.text(0);
  source.version = static_cast<int>(row.int64(1));
  source.sha256 = row.text(2);
  source.source = row.text(3);
  source.loaded_at = row.int64(4);
  return source;
}

// The next seq is computed inside the INSERT, under the write lock the caller's transaction
// holds, so two writers can never pick the same one. The columns the reports group by (schema
// version 11) are the case row's as the caller's transaction has just written it (bound from the
// record, not read back: three lookups less), and, on an entry that changes the state, from the
// case's last entry that opened it or changed its state.
constexpr std::string_view kInsertEvent =
    "INSERT INTO events (case_id, seq, at, actor, event, from_state, to_state, version, "
    "changed_json, comment, payload_json, trigger_json, workflow, workflow_version, placement, "
    "entered_at) VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE case_id = ?1), "
    "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
    "CASE WHEN ?5 IS NOT NULL AND ?5 <> ?6 THEN (SELECT p.at FROM events AS p "
    "WHERE p.case_id = ?1 AND (p.from_state IS NULL OR p.from_state <> p.to_state) "
    "ORDER BY p.seq DESC LIMIT 1) END)";

// `record`: the case as the caller's transaction wrote it.
void bind_event(Statement& insert, const CaseRecord& record, const HistoryEntry& entry) {
  insert.bind_text(1, record.id);
  insert.bind_int64(2, entry.at);
  insert.bind_text(3, entry.actor);
  insert.bind_text(4, entry.event);
  insert.bind_optional_text(5, entry.from);
  insert.bind_text(6, entry.to);
  insert.bind_int64(7, record.version);
  insert.bind_text(8, serialize_strings(entry.changed));
  insert.bind_optional_text(9, entry.comment);
  insert.bind_text(10, boost::json::serialize(entry.payload));
  insert.bind_optional_text(11, entry.trigger.empty() ? std::nullopt
                                                      : std::optional<std::string>(
                                                            boost::json::serialize(entry.trigger)));
  insert.bind_text(12, record.workflow);
  insert.bind_int64(13, record.workflow_version);
  insert.bind_optional_text(14, record.placement);
}

// The columns of `cases` that indexes hold. An UPDATE that names a column rewrites every index
// entry holding it, even with the value it had, and each rewritten entry is a page more in the
// log: naming all of them cost a transition 8.4 pages of the log where 7 were needed (http_bench,
// 64 connections). So an update sets these only when they change (bits of a mask).
enum IndexedCaseColumn : unsigned {
  workflow_column = 1U << 0,
  workflow_version_column = 1U << 1,
  state_column = 1U << 2,
  assignee_column = 1U << 3,
  placement_column = 1U << 4,
  closed_at_column = 1U << 5,
  erased_at_column = 1U << 6,
};

// The UPDATE of a case that sets the columns no index holds and, of the indexed ones, those in
// `changed`. Parameters: ?1 id, ?2 the expected version, ?3 data_json, ?4 version, ?5 updated_at,
// ?6 consents_json, then ?7 to ?13 for the indexed columns in the order of IndexedCaseColumn
// (each bound only when set). At most 128 texts, each prepared once.
std::string case_update_sql(unsigned changed) {
  static constexpr std::array<std::pair<IndexedCaseColumn, std::string_view>, 7> kAssignments{{
      {workflow_column, ", workflow = ?7"},
      {workflow_version_column, ", workflow_version = ?8"},
      {state_column, ", state = ?9"},
      {assignee_column, ", assignee = ?10"},
      {placement_column, ", placement = ?11"},
      {closed_at_column, ", closed_at = ?12"},
      {erased_at_column, ", erased_at = ?13"},
  }};
  std::string sql =
      "UPDATE cases SET data_json = ?3, version = ?4, updated_at = ?5, consents_json = ?6";
  for (const auto& [column, assignment] : kAssignments) {
    if ((changed & column) != 0) {
      sql += assignment;
    }
  }
  sql += " WHERE id = ?1 AND version = ?2";
  return sql;
}

std::string plural(std::int64_t count, std::string_view noun) {
  std::string text = std::to_string(count) + " " + std::string(noun);
  if (count != 1) {
    text += "s";
  }
  return text;
}

}  // namespace

void SqliteStore::CloseDb::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}

void SqliteStore::FinalizeStatement::operator()(sqlite3_stmt* statement) const {
  sqlite3_finalize(statement);
}

SqliteStore::SqliteStore(DbHandle db, AuditDigest digest) : digest_(digest), db_(std::move(db)) {
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(group_mutex_);
    writer_stopping_ = true;
  }
  writer_wake_.notify_one();
  if (writer_.joinable()) {
    writer_.join();  // after every queued write: their callers wait for them
  }
  readers_.clear();
  checkpointer_.reset();  // stops using db_ first
  // The statements must go before the connection; the member order ensures it, and this makes
  // it explicit.
  statements_.clear();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       AuditDigest digest) {
  if (path.empty()) {
    return make_error(Errc::invalid_argument, "database path is empty");
  }
  const bool in_memory = path == ":memory:";
  if (!in_memory) {
    const std::filesystem::path directory = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!directory.empty() && !std::filesystem::is_directory(directory, ec)) {
      return make_error(Errc::invalid_argument,
                        "database directory '" + directory.string() + "' does not exist");
    }
  }

  configure_sqlite_library();
  sqlite3* raw = nullptr;
  // The writer gathers each commit's writes to the log into one (store/sqlite_wal_buffer.hpp);
  // it runs with synchronous=FULL (configure), which that needs.
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 wal_buffer_vfs());
  DbHandle db(raw);  // sqlite3_open_v2 hands out a handle to close even when it fails
  if (rc != SQLITE_OK) {
    Error error = sqlite_error(raw, rc, "open database '" + path + "'");
    if (error.type == kStorageUnavailable) {
      error.message = "database '" + path + "' cannot be opened for writing: " + error.message;
    }
    return error;
  }

  // A file SQLite could only open for reading (its mode, a read-only mount) would fail at the
  // first write, maybe long after start-up; carepath refuses to start on it instead.
  const auto unwritable = [&path](Error error) {
    if (error.type == kStorageUnavailable) {
      error.message = "database '" + path +
                      "' cannot be written (a read-only file, directory or file system, or a "
                      "full disk): carepath writes the file and creates '" +
                      path + "-wal' and '" + path + "-shm' beside it; " + error.message;
    }
    return error;
  };
  if (!in_memory && sqlite3_db_readonly(raw, "main") == 1) {
    return unwritable(
        sqlite_error(nullptr, SQLITE_READONLY, "open database '" + path + "' for writing"));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db), digest));
  std::lock_guard lock(store->mutex_);
  auto configured = store->configure(in_memory);
  if (!configured) {
    return unwritable(configured.error());
  }
  auto migrated = store->migrate();
  if (!migrated) {
    return unwritable(migrated.error());
  }
  if (!in_memory) {
    // Once the schema is migrated (building an index on a large table sorts through temporary
    // files), the writer keeps its temporary files in memory. A commit group's savepoint journal
    // outgrew SQLite's 64 KiB in memory with a single transition (about 17 pages) and became a
    // file in /var/tmp, created and deleted for every commit: five more system calls each, and
    // page images of the database written outside its directory.
    if (auto temporary = store->execute("PRAGMA temp_store = MEMORY", "set temp_store");
        !temporary) {
      return temporary.error();
    }
    auto checkpointer = Checkpointer::start(path, store->db_.get());
    if (!checkpointer) {
      return checkpointer.error();
    }
    store->checkpointer_ = std::move(*checkpointer);
    store->path_ = path;
  }
  {
    std::lock_guard queue_lock(store->group_mutex_);
    store->start_writer_locked();
  }
  return store;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open_read_only(const std::string& path,
                                                                 AuditDigest digest) {
  std::error_code ec;
  if (path.empty() || path == ":memory:" || !std::filesystem::is_regular_file(path, ec)) {
    return make_error(Errc::not_found, "there is no database at '" + path + "'");
  }
  configure_sqlite_library();
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return sqlite_error(raw, rc, "open database '" + path + "'");
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db), digest));
  std::lock_guard lock(store->mutex_);
  sqlite3_extended_result_codes(store->db_.get(), 1);
  sqlite3_busy_timeout(store->db_.get(), kBusyTimeoutMs);
  auto version = store->prepare("PRAGMA user_version");
  if (!version) {
    return version.error();
  }
  auto row = version->step("read schema version of '" + path + "'");
  if (!row) {
    return row.error();
  }
  const std::int64_t current = *row ? version->int64(0) : 0;
  if (current != kSchemaVersion) {
    return make_error(Errc::storage,
                      "database '" + path + "' has schema version " + std::to_string(current) +
                          (current > kSchemaVersion
                               ? ", newer than this carepath supports (" +
                                     std::to_string(kSchemaVersion) + "); use a newer carepath"
                               : ", older than this carepath's (" + std::to_string(kSchemaVersion) +
                                     "); open it once with `carepath serve` to upgrade it"));
  }
  return store;
}

Result<void> SqliteStore::configure(bool in_memory) {
  sqlite3* db = db_.get();
  sqlite3_extended_result_codes(db, 1);
  // Before anything else touches the file, so that even the journal-mode switch waits for
  // another process instead of failing.
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // Refuses writes to sqlite_schema and similar foot-guns that could corrupt the file.
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);

  if (!in_memory) {
    auto mode = prepare("PRAGMA journal_mode = WAL");
    if (!mode) {
      return mode.error();
    }
    auto row = mode->step("set journal mode");
    if (!row) {
      return row.error();
    }
    // SQLite answers with the mode it actually uses; it keeps the old one when WAL is not
    // possible (some network file systems), and then two processes would block each other.
    if (!*row || mode->text(0) != "wal") {
      return make_error(Errc::storage, "sqlite: the database cannot use WAL journal mode");
    }
  }
  // secure_delete: freed space is zeroed, so that an erased case's destroyed data key (and
  // values removed by retention) do not linger in free pages of the file.
  auto pragmas =
      execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
              "configure");
  if (!pragmas) {
    return pragmas.error();
  }
  auto foreign_keys = prepare("PRAGMA foreign_keys");
  if (!foreign_keys) {
    return foreign_keys.error();
  }
  auto row = foreign_keys->step("check foreign keys");
  if (!row) {
    return row.error();
  }
  if (!*row || foreign_keys->int64(0) != 1) {
    return make_error(Errc::storage, "sqlite: foreign keys cannot be enabled");
  }
  return {};
}

Result<void> SqliteStore::migrate() {
  Transaction transaction(db_.get());
  auto began = transaction.begin_immediate();
  if (!began) {
    return began.error();
  }

  std::int64_t current = 0;
  {
    auto version = prepare("PRAGMA user_version");
    if (!version) {
      return version.error();
    }
    auto row = version->step("read schema version");
    if (!row) {
      return row.error();
    }
    current = *row ? version->int64(0) : 0;
  }
  if (current > kSchemaVersion) {
    return make_error(Errc::storage, "database schema version " + std::to_string(current) +
                                         " is newer than this carepath supports (" +
                                         std::to_string(kSchemaVersion) +
                                         "); use a newer carepath");
  }
  if (current < 0) {
    return make_error(Errc::storage,
                      "database schema version " + std::to_string(current) + " is invalid");
  }
  if (current == kSchemaVersion) {
    return transaction.commit();
  }

  for (auto step = static_cast<std::size_t>(current); step < kMigrations.size(); ++step) {
    auto migrated =
        execute(kMigrations[step], "migrate schema to version " + std::to_string(step + 1));
    if (!migrated) {
      return migrated.error();
    }
  }
  // PRAGMA takes no bound parameters; the value is our own constant.
  auto stamped =
      execute("PRAGMA user_version = " + std::to_string(kSchemaVersion), "set schema version");
  if (!stamped) {
    return stamped.error();
  }
  return transaction.commit();
}

Result<Statement> SqliteStore::prepare(std::string_view sql) {
  return prepare_cached(db_.get(), statements_, sql);
}

Result<Statement> SqliteStore::prepare_cached(sqlite3* db, StatementCache& cache,
                                              std::string_view sql) {
  auto found = cache.find(std::string(sql));
  if (found == cache.end()) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StatementHandle handle(raw);
    if (rc != SQLITE_OK) {
      return sqlite_error(db, rc, "prepare statement");
    }
    found = cache.emplace(std::string(sql), std::move(handle)).first;
  }
  assert(sqlite3_stmt_busy(found->second.get()) == 0 && "statement borrowed twice at once");
  return Statement(db, found->second.get());
}

Result<SqliteStore::Reader> SqliteStore::reader() {
  if (path_.empty()) {
    return Reader(*this, std::unique_lock(mutex_));
  }
  {
    std::lock_guard lock(readers_mutex_);
    if (!readers_.empty()) {
      auto connection = std::move(readers_.back());
      readers_.pop_back();
      return Reader(*this, std::move(connection));
    }
  }
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  auto connection = std::make_unique<ReadConnection>(ReadConnection{DbHandle(raw)});
  if (rc != SQLITE_OK) {
    return sqlite_error(raw, rc, "open a read connection to '" + path_ + "'");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  // PRAGMA takes no bound parameters; the value is our own constant.
  const std::string cache = "PRAGMA cache_size = -" + std::to_string(kReadCacheKiB);
  if (const int set = sqlite3_exec(raw, cache.c_str(), nullptr, nullptr, nullptr);
      set != SQLITE_OK) {
    return sqlite_error(raw, set, "size the page cache of a read connection");
  }
  return Reader(*this, std::move(connection));
}

SqliteStore::Reader::~Reader() {
  bool clean = true;
  if (snapshot_ && (pooled_ || writer_.owns_lock())) {
    auto rollback = prepare("ROLLBACK");
    clean = rollback && rollback->run("end a read snapshot");
  }
  // A connection whose snapshot could not be ended closes (which ends it) instead of going back
  // to the pool, where it would keep later reads on old data and the WAL from being checkpointed.
  if (pooled_ && clean) {
    std::lock_guard lock(store_.readers_mutex_);
    store_.readers_.push_back(std::move(pooled_));
  }
}

Result<void> SqliteStore::Reader::begin_snapshot() {
  auto begin = prepare("BEGIN");
  if (!begin) {
    return begin.error();
  }
  if (auto begun = begin->run("begin a read snapshot"); !begun) {
    return begun;
  }
  snapshot_ = true;
  return {};
}

Result<Statement> SqliteStore::Reader::prepare(std::string_view sql) {
  if (pooled_) {
    return prepare_cached(pooled_->db.get(), pooled_->statements, sql);
  }
  return store_.prepare(sql);
}

Result<void> SqliteStore::execute(std::string_view sql, std::string_view what) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return sqlite_error(db_.get(), rc, what);
  }
  return {};
}

Result<void> SqliteStore::write_grouped(const std::function<Result<void>()>& body) {
  const auto self = std::make_shared<PendingWrite>();
  self->body = &body;
  std::unique_lock queue_lock(group_mutex_);
  start_writer_locked();
  group_queue_.push_back(self);
  // The writer sleeps only on an empty queue; otherwise it takes this write after its group.
  if (group_queue_.size() == 1) {
    writer_wake_.notify_one();
  }
  self->wake.wait(queue_lock, [&] { return self->done; });
  const auto next = std::move(self->wakes_next);
  queue_lock.unlock();
  for (const auto& write : next) {
    if (write) {
      write->wake.notify_one();
    }
  }
  return std::move(self->result);
}

void SqliteStore::start_writer_locked() {
  if (!writer_.joinable()) {
    writer_ = std::thread([this] { write_loop(); });
  }
}

// A thread of its own commits, rather than the first of the waiting request threads (as until
// 2026-11-23): a leader chosen among them had to be woken and to get a core among the runnable
// request threads for every group, and the write lock stood free meanwhile. With the writer
// thread, transitions at 64 connections went from 4,637-5,188 to 5,643-5,656 a second in
// alternating runs (docs/performance.md, "A writer thread of its own").
void SqliteStore::write_loop() {
  name_this_thread("cp-writer");
  std::unique_lock queue_lock(group_mutex_);
  for (;;) {
    writer_wake_.wait(queue_lock, [&] { return writer_stopping_ || !group_queue_.empty(); });
    if (group_queue_.empty()) {
      return;  // closing, and every write answered
    }
    // The group stays at the front of the queue while it commits; writes that arrive meanwhile
    // queue up behind it for the next group.
    const std::size_t count = std::min(group_queue_.size(), kMaxGroup);
    const std::vector<std::shared_ptr<PendingWrite>> group(
        group_queue_.begin(), group_queue_.begin() + static_cast<std::ptrdiff_t>(count));
    queue_lock.unlock();
    std::chrono::steady_clock::duration held{};
    {
      std::vector<PendingWrite*> writes;
      writes.reserve(group.size());
      for (const auto& write : group) {
        writes.push_back(write.get());
      }
      std::lock_guard lock(mutex_);
      const auto started = std::chrono::steady_clock::now();
      commit_group_locked(writes);
      held = std::chrono::steady_clock::now() - started;
    }
    // Observed once the write lock is let go: the histogram's own mutex is no part of the group.
    metrics::engine().db_write_group.observe({}, std::chrono::duration<double>(held).count());
    metrics::engine().db_commit_group.observe({}, static_cast<double>(count));
    queue_lock.lock();
    group_queue_.erase(group_queue_.begin(),
                       group_queue_.begin() + static_cast<std::ptrdiff_t>(count));
    for (std::size_t i = 0; i < count; ++i) {
      group[i]->done = true;
      for (std::size_t k = 0; k < 2; ++k) {
        if (const std::size_t child = 2 * i + 1 + k; child < count) {
          group[i]->wakes_next[k] = group[child];
        }
      }
    }
    queue_lock.unlock();
    // The writer wakes the group's first caller only, and each caller woken wakes two more (a
    // binary tree): a wake-up is a system call that costs tens of microseconds on this machine,
    // and one per write kept the writer from its next group. Woken after the lock is let go, so
    // that a caller does not wake only to wait for it; `wakes_next` keeps the condition
    // variables alive.
    group.front()->wake.notify_one();
    // Under sustained writes the background checkpoints never catch up with the log, so it would
    // grow without bound (490 MB in under a minute of http_bench), and each commit would make
    // the file longer, which costs fdatasync a write of the file's metadata besides the pages.
    // Once the group is answered, the writer restarts a long log before the next group.
    if (log_is_long()) {
      std::lock_guard lock(mutex_);
      restart_long_log_locked(/*wait=*/false);
    }
    queue_lock.lock();
  }
}

void SqliteStore::commit_group_locked(const std::vector<PendingWrite*>& group) {
  sqlite3* db = db_.get();
  // Writes not yet committed, in arrival order. Each round is one transaction; a round ends early
  // only when SQLite rolls the whole transaction back (a full disk, an I/O error), and then the
  // writes it held run again in the next round, without the one that failed.
  std::vector<PendingWrite*> waiting = group;
  // Each write runs inside a savepoint of its own, so that a failed one is undone alone. The
  // statements are prepared once (sqlite3_exec would parse each text for every write).
  const auto savepoint = [this](std::string_view sql) -> Result<void> {
    auto statement = prepare(sql);
    if (!statement) {
      return statement.error();
    }
    return statement->run(sql);
  };
  while (!waiting.empty()) {
    Transaction transaction(db);
    if (auto began = transaction.begin_immediate(); !began) {
      for (PendingWrite* write : waiting) {
        write->result = began.error();
      }
      return;
    }
    std::vector<PendingWrite*> done;
    std::vector<PendingWrite*> again;
    bool lost = false;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      PendingWrite* write = waiting[i];
      if (auto begun = savepoint("SAVEPOINT grouped_write"); !begun) {
        write->result = begun.error();
      } else {
        try {
          write->result = (*write->body)();
        } catch (const std::exception& e) {
          // The caller waits on this thread's answer: nothing may escape and strand it.
          write->result = make_error(Errc::internal, std::string("write failed: ") + e.what());
        } catch (...) {
          write->result = make_error(Errc::internal, "write failed: unknown exception");
        }
        if (write->result) {
          static_cast<void>(savepoint("RELEASE grouped_write"));
          done.push_back(write);
          continue;
        }
      }
      if (sqlite3_get_autocommit(db) != 0) {
        // SQLite rolled back the whole transaction: the writes before this one are gone too.
        again.assign(done.begin(), done.end());
        again.insert(again.end(), waiting.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                     waiting.end());
        done.clear();
        lost = true;
        break;
      }
      static_cast<void>(savepoint("ROLLBACK TO grouped_write"));
      static_cast<void>(savepoint("RELEASE grouped_write"));
    }
    if (!lost) {
      if (auto committed = transaction.commit(); !committed) {
        for (PendingWrite* write : done) {
          write->result = committed.error();
        }
      }
    }
    waiting = std::move(again);
  }
}

Result<void> SqliteStore::put_workflow(const WorkflowSource& source) {
  const std::string what =
      "workflow '" + source.name + "' version " + std::to_string(source.version);
  std::lock_guard lock(mutex_);
  Transaction transaction(db_.get());
  auto began = transaction.begin_immediate();
  if (!began) {
    return began.error();
  }

  std::optional<std::string> stored_sha256;
  {
    auto select = prepare("SELECT sha256 FROM workflows WHERE name = ?1 AND version = ?2");
    if (!select) {
      return select.error();
    }
    select->bind_text(1, source.name);
    select->bind_int64(2, source.version);
    auto row = select->step(what);
    if (!row) {
      return row.error();
    }
    if (*row) {
      stored_sha256 = select->text(0);
    }
  }

  if (!stored_sha256) {
    auto insert =
        prepare("INSERT INTO workflows (" CP_WORKFLOW_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!insert) {
      return insert.error();
    }
    insert->bind_text(1, source.name);
    insert->bind_int64(2, source.version);
    insert->bind_text(3, source.sha256);
    insert->bind_text(4, source.source);
    insert->bind_int64(5, source.loaded_at);
    auto inserted = insert->run(what);
    if (!inserted) {
      return inserted.error();
    }
    return transaction.commit();
  }
  if (*stored_sha256 == source.sha256) {
    return {};  // the transaction rolls back having changed nothing
  }

  std::int64_t case_count = 0;
  {
    auto count =
        prepare("SELECT COUNT(*) FROM cases WHERE workflow = ?1 AND workflow_version = ?2");
    if (!count) {
      return count.error();
    }
    count->bind_text(1, source.name);
    count->bind_int64(2, source.version);
    auto row = count->step(what);
    if (!row) {
      return row.error();
    }
    case_count = *row ? count->int64(0) : 0;
  }
  // Cases keep pointing at (name, version); changing the definition under them would change
  // what their history means.
  if (case_count > 0) {
    return make_error(Errc::conflict, what + " is already used by " + plural(case_count, "case") +
                                          " and its file has changed; give the changed workflow "
                                          "a new version");
  }

  auto update = prepare(
      "UPDATE workflows SET sha256 = ?3, source_yaml = ?4, loaded_at = ?5 "
      "WHERE name = ?1 AND version = ?2");
  if (!update) {
    return update.error();
  }
  update->bind_text(1, source.name);
  update->bind_int64(2, source.version);
  update->bind_text(3, source.sha256);
  update->bind_text(4, source.source);
  update->bind_int64(5, source.loaded_at);
  auto updated = update->run(what);
  if (!updated) {
    return updated.error();
  }
  return transaction.commit();
}

Result<std::vector<WorkflowSource>> SqliteStore::workflows() {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select =
      reading->prepare("SELECT " CP_WORKFLOW_COLUMNS " FROM workflows ORDER BY name, version");
  if (!select) {
    return select.error();
  }
  std::vector<WorkflowSource> sources;
  for (;;) {
    auto row = select->step("list workflows");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    sources.push_back(read_workflow(*select));
  }
  return sources;
}

Result<void> SqliteStore::create_case(const CaseRecord& record, const HistoryEntry& opened,
                                      const CaseEffects& effects) {
  const std::string what = "create case '" + record.id + "'";
  return write_grouped([&]() -> Result<void> {
    {
      auto insert = prepare(
          "INSERT INTO cases (id, code, workflow, workflow_version, state, "
          "data_json, version, created_at, updated_at, data_key, assignee, placement, "
          "consents_json, closed_at, erased_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
      if (!insert) {
        return insert.error();
      }
      insert->bind_text(1, record.id);
      insert->bind_text(2, record.code);
      insert->bind_text(3, record.workflow);
      insert->bind_int64(4, record.workflow_version);
      insert->bind_text(5, record.state);
      insert->bind_text(6, boost::json::serialize(record.data));
      insert->bind_int64(7, record.version);
      insert->bind_int64(8, record.created_at);
      insert->bind_int64(9, record.updated_at);
      insert->bind_optional_text(
          10, record.data_key.empty() ? std::nullopt : std::optional<std::string>(record.data_key));
      bind_scope(*insert, 11, record);
      auto inserted = insert->run(what);
      if (!inserted) {
        if (is_uniqueness_violation(insert->last_result_code())) {
          return make_error(Errc::conflict,
                            "case '" + record.id + "': a case with this id or code already exists");
        }
        return inserted.error();
      }
    }

    if (auto audited = audit_change_locked(record.id, opened, record.version, kAuditCaseOpen);
        !audited) {
      return audited.error();
    }
    {
      auto insert = prepare(kInsertEvent);
      if (!insert) {
        return insert.error();
      }
      bind_event(*insert, record, opened);
      auto inserted = insert->run(what);
      if (!inserted) {
        return inserted.error();
      }
    }
    if (auto indexed = replace_index_locked(record.id, record.blind_index); !indexed) {
      return indexed.error();
    }
    if (auto inserted = insert_effects_locked(record.id, record.created_at, effects); !inserted) {
      return inserted.error();
    }
    return {};
  });
}

Result<CaseRecord> SqliteStore::get_case(const std::string& id) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT " CP_CASE_COLUMNS " FROM cases WHERE id = ?1");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, id);
  auto row = select->step("read case '" + id + "'");
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return make_error(Errc::not_found, "case '" + id + "' not found");
  }
  return read_case(*select);
}

Result<void> SqliteStore::apply_change_locked(const CaseChange& change) {
  const CaseRecord& after = change.after;
  const std::int64_t expected_version = change.expected_version;
  const std::string what = "update case '" + after.id + "'";
  if (expected_version < 1 || after.version != expected_version + 1) {
    return make_error(Errc::invalid_argument,
                      "case '" + after.id + "': the new version must be the expected one plus 1");
  }
  // The stored row first: its version is the optimistic lock that makes concurrent writers to
  // one case (threads here, or other processes) lose cleanly instead of overwriting each other;
  // its indexed columns say which of them the update must set. The write lock this transaction
  // holds keeps the row as read until the UPDATE.
  unsigned changed = 0;
  {
    auto select = prepare(
        "SELECT version, workflow, workflow_version, state, assignee, placement, closed_at, "
        "erased_at FROM cases WHERE id = ?1");
    if (!select) {
      return select.error();
    }
    select->bind_text(1, after.id);
    auto row = select->step(what);
    if (!row) {
      return row.error();
    }
    if (!*row) {
      return make_error(Errc::not_found, "case '" + after.id + "' not found");
    }
    if (const std::int64_t current = select->int64(0); current != expected_version) {
      Error error = make_error(Errc::precondition_failed,
                               "case '" + after.id + "': expected version " +
                                   std::to_string(expected_version) + " but it is at version " +
                                   std::to_string(current));
      error.details["current_version"] = current;
      error.type = "version-mismatch";
      return error;
    }
    const auto differs = [&changed](bool different, IndexedCaseColumn column) {
      if (different) {
        changed |= column;
      }
    };
    differs(select->text_view(1) != after.workflow, workflow_column);
    differs(select->int64(2) != after.workflow_version, workflow_version_column);
    differs(select->text_view(3) != after.state, state_column);
    differs(select->optional_text(4) != stored_assignee(after), assignee_column);
    differs(select->optional_text(5) != after.placement, placement_column);
    differs(select->optional_int64(6) != after.closed_at, closed_at_column);
    differs(select->optional_int64(7) != after.erased_at, erased_at_column);
  }
  {
    auto update = prepare(case_update_sql(changed));
    if (!update) {
      return update.error();
    }
    update->bind_text(1, after.id);
    update->bind_int64(2, expected_version);
    update->bind_text(3, boost::json::serialize(after.data));
    update->bind_int64(4, after.version);
    update->bind_int64(5, after.updated_at);
    update->bind_text(6, boost::json::serialize(after.consents));
    if ((changed & workflow_column) != 0) {
      update->bind_text(7, after.workflow);
    }
    if ((changed & workflow_version_column) != 0) {
      update->bind_int64(8, after.workflow_version);
    }
    if ((changed & state_column) != 0) {
      update->bind_text(9, after.state);
    }
    if ((changed & assignee_column) != 0) {
      update->bind_optional_text(10, stored_assignee(after));
    }
    if ((changed & placement_column) != 0) {
      update->bind_optional_text(11, after.placement);
    }
    if ((changed & closed_at_column) != 0) {
      update->bind_optional_int64(12, after.closed_at);
    }
    if ((changed & erased_at_column) != 0) {
      update->bind_optional_int64(13, after.erased_at);
    }
    if (auto updated = update->run(what); !updated) {
      return updated.error();
    }
    if (update->changes() != 1) {
      return make_error(Errc::storage, what + ": the row changed under the write lock");
    }
  }

  if (auto audited = audit_change_locked(after.id, change.entry, after.version, kAuditCaseWrite);
      !audited) {
    return audited.error();
  }
  auto insert = prepare(kInsertEvent);
  if (!insert) {
    return insert.error();
  }
  bind_event(*insert, after, change.entry);
  if (auto inserted = insert->run(what); !inserted) {
    return inserted;
  }
  return replace_index_locked(after.id, after.blind_index);
}

Result<void> SqliteStore::replace_index_locked(
    const std::string& case_id, const std::vector<std::pair<std::string, std::string>>& entries) {
  const std::string what = "index case '" + case_id + "'";
  // Most changes leave the identifying fields as they were: then the entries are kept, instead
  // of being deleted (and zeroed: secure_delete) and written again, two more pages in the log.
  {
    auto stored = prepare("SELECT field, digest FROM case_index WHERE case_id = ?1 ORDER BY field");
    if (!stored) {
      return stored.error();
    }
    stored->bind_text(1, case_id);
    std::vector<std::pair<std::string, std::string>> now;
    for (;;) {
      auto row = stored->step(what);
      if (!row) {
        return row.error();
      }
      if (!*row) {
        break;
      }
      now.emplace_back(stored->text(0), stored->text(1));
    }
    auto wanted = entries;
    std::sort(wanted.begin(), wanted.end());
    if (now == wanted) {
      return {};
    }
  }
  auto clear = prepare("DELETE FROM case_index WHERE case_id = ?1");
  if (!clear) {
    return clear.error();
  }
  clear->bind_text(1, case_id);
  if (auto r = clear->run(what); !r) {
    return r;
  }
  for (const auto& [field, digest] : entries) {
    auto insert = prepare("INSERT INTO case_index (case_id, field, digest) VALUES (?1, ?2, ?3)");
    if (!insert) {
      return insert.error();
    }
    insert->bind_text(1, case_id);
    insert->bind_text(2, field);
    insert->bind_text(3, digest);
    if (auto r = insert->run(what); !r) {
      return r;
    }
  }
  return {};
}

Result<void> SqliteStore::insert_effects_locked(const std::string& case_id, Timestamp now,
                                                const CaseEffects& effects,
                                                const std::vector<AuditText>* prepared_audit) {
  for (const OutboxJob& job : effects.jobs) {
    auto insert = prepare(
        "INSERT INTO outbox (case_id, workflow, workflow_version, step_ref, step_type, event, "
        "from_state, to_state, idempotency_key, attempts, max_attempts, backoff_ms, next_at, "
        "lease_until, status, last_error, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, 'pending', NULL, ?14)");
    if (!insert) {
      return insert.error();
    }
    insert->bind_text(1, job.case_id);
    insert->bind_text(2, job.workflow);
    insert->bind_int64(3, job.workflow_version);
    insert->bind_text(4, job.step_ref);
    insert->bind_text(5, job.step_type);
    insert->bind_optional_text(6, job.event);
    insert->bind_optional_text(7, job.from);
    insert->bind_text(8, job.to);
    insert->bind_text(9, job.idempotency_key);
    insert->bind_int64(10, job.attempts);
    insert->bind_int64(11, job.max_attempts);
    insert->bind_int64(12, job.backoff_ms);
    insert->bind_int64(13, job.next_at);
    insert->bind_int64(14, job.created_at);
    if (auto r = insert->run("schedule step '" + job.step_type + "'"); !r) {
      return r.error();
    }
  }
  for (const TaskRecord& task : effects.tasks) {
    auto insert = prepare(
        "INSERT INTO tasks (id, token, case_id, step_type, step_ref, on_complete, "
        "description_json, status, created_at, closed_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, NULL)");
    if (!insert) {
      return insert.error();
    }
    insert->bind_text(1, task.id);
    insert->bind_text(2, task.token);
    insert->bind_text(3, task.case_id);
    insert->bind_text(4, task.step_type);
    insert->bind_text(5, task.step_ref);
    insert->bind_optional_text(6, task.on_complete);
    insert->bind_text(7, boost::json::serialize(task.description));
    insert->bind_int64(8, task.created_at);
    if (auto r = insert->run("create task for step '" + task.step_type + "'"); !r) {
      return r.error();
    }
  }
  for (const NotificationRecord& notification : effects.notifications) {
    if (auto r = insert_notification_locked(notification); !r) {
      return r.error();
    }
  }
  if (!effects.audit.empty()) {
    if (auto audited = append_audit_locked(effects.audit, prepared_audit); !audited) {
      return audited.error();
    }
  }
  return insert_timer_effects_locked(case_id, now, effects);
}

Result<void> SqliteStore::insert_incident_locked(const IncidentRecord& incident) {
  auto insert = prepare(
      "INSERT INTO incidents (id, case_id, job_id, step_type, message, attempts, status, "
      "created_at, resolved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, NULL)");
  if (!insert) {
    return insert.error();
  }
  insert->bind_text(1, incident.id);
  insert->bind_text(2, incident.case_id);
  insert->bind_optional_int64(
      3, incident.job_id != 0 ? std::optional<std::int64_t>(incident.job_id) : std::nullopt);
  insert->bind_text(4, incident.step_type);
  insert->bind_text(5, incident.message);
  insert->bind_int64(6, incident.attempts);
  insert->bind_int64(7, incident.created_at);
  return insert->run("open incident on case '" + incident.case_id + "'");
}

Result<void> SqliteStore::update_case(const CaseRecord& after, std::int64_t expected_version,
                                      const HistoryEntry& entry,
                                      const std::optional<IdempotencyRecord>& idempotency,
                                      const CaseEffects& effects) {
  const std::string what = "update case '" + after.id + "'";
  const std::vector<AuditText> texts = audit_texts(effects.audit);  // before the write lock
  return write_grouped([&]() -> Result<void> {
    if (auto applied = apply_change_locked(CaseChange{after, expected_version, entry}); !applied) {
      return applied.error();
    }
    if (idempotency) {
      auto insert = prepare("INSERT INTO idempotency (" CP_IDEMPOTENCY_COLUMNS
                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
      if (!insert) {
        return insert.error();
      }
      insert->bind_text(1, idempotency->case_id);
      insert->bind_text(2, idempotency->actor);
      insert->bind_text(3, idempotency->key);
      insert->bind_text(4, idempotency->request_hash);
      insert->bind_int64(5, idempotency->status);
      insert->bind_text(6, idempotency->response);
      insert->bind_int64(7, idempotency->created_at);
      auto inserted = insert->run(what);
      if (!inserted) {
        if (is_uniqueness_violation(insert->last_result_code())) {
          return make_error(Errc::conflict, "case '" + idempotency->case_id +
                                                "': this idempotency key was already used by '" +
                                                idempotency->actor + "'");
        }
        return inserted.error();
      }
    }
    if (auto inserted = insert_effects_locked(after.id, after.updated_at, effects, &texts);
        !inserted) {
      return inserted.error();
    }
    return {};
  });
}

std::string case_list_sql(bool workflow, bool state, bool overdue, bool version, bool match,
                          bool scope) {
  // With overdue_at the plan starts from clocks_running_due, whose few rows (the overdue clocks)
  // name the cases to read; the unary + keeps SQLite from walking cases_by_workflow or
  // cases_by_state instead, which would read every case of the workflow or state.
  const std::string_view and_column = overdue ? " AND +" : " AND ";
  std::string sql = "SELECT " CP_CASE_COLUMNS " FROM cases WHERE rowid > ?1";
  if (workflow) {
    sql.append(and_column).append("workflow = ?2");
  }
  if (state) {
    sql.append(and_column).append("state = ?3");
  }
  if (version) {
    sql.append(and_column).append("workflow_version = ?6");
  }
  if (match) {
    sql += " AND id IN (SELECT case_id FROM case_index WHERE field = ?7 AND digest = ?8)";
  }
  if (scope) {
    // The lists come as JSON arrays, so that one SQL text serves every length.
    sql +=
        " AND (assignee IN (SELECT value FROM json_each(?9)) OR placement IN (SELECT value FROM "
        "json_each(?10)))";
  }
  if (overdue) {
    sql +=
        " AND id IN (SELECT case_id FROM clocks WHERE stopped_at IS NULL AND due_at IS NOT NULL "
        "AND due_at <= ?5)";
  }
  sql += " ORDER BY rowid LIMIT ?4";
  return sql;
}

Result<CasePage> SqliteStore::list_cases(const CaseQuery& query) {
  auto after = decode_cursor(kCaseCursor, query.cursor);
  if (!after) {
    return after.error();
  }
  const std::size_t limit = clamp_limit(query.limit);
  // One fixed SQL text per filter combination, so each is prepared once and can use its index.
  if (query.workflow_version && !query.workflow) {
    return make_error(Errc::invalid_argument, "a workflow version filter needs the workflow");
  }
  const std::string sql = case_list_sql(
      query.workflow.has_value(), query.state.has_value(), query.overdue_at.has_value(),
      query.workflow_version.has_value(), query.match.has_value(), query.scope.has_value());

  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(sql);
  if (!select) {
    return select.error();
  }
  select->bind_int64(1, *after);
  select->bind_optional_text(2, query.workflow);
  select->bind_optional_text(3, query.state);
  if (query.overdue_at) {
    select->bind_int64(5, *query.overdue_at);  // ?5 exists only in the overdue texts
  }
  if (query.workflow_version) {
    select->bind_int64(6, *query.workflow_version);
  }
  if (query.match) {
    select->bind_text(7, query.match->field);
    select->bind_text(8, query.match->value);
  }
  if (query.scope) {
    select->bind_text(9, serialize_strings(query.scope->assignees));
    select->bind_text(10, serialize_strings(query.scope->placements));
  }
  // One row more than asked for says whether another page exists.
  select->bind_int64(4, static_cast<std::int64_t>(limit) + 1);

  CasePage page;
  std::int64_t last_rowid = 0;
  for (;;) {
    auto row = select->step("list cases");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    if (page.items.size() == limit) {
      page.next_cursor = encode_cursor(kCaseCursor, last_rowid);
      break;
    }
    auto record = read_case(*select);
    if (!record) {
      return record.error();
    }
    page.items.push_back(std::move(*record));
    last_rowid = select->int64(kCaseRowidColumn);
  }
  return page;
}

Result<CasePage> SqliteStore::list_retention_due(const RetentionQuery& query) {
  // Keyset on (anchor, rowid): each page is one range of the anchor's index, however many cases
  // earlier runs already cleaned. The cursor is 'r', then both positions in hex.
  constexpr char kRetentionCursor = 'r';
  std::int64_t after_anchor = std::numeric_limits<std::int64_t>::min();
  std::int64_t after_rowid = 0;
  if (query.cursor) {
    const std::string_view text = *query.cursor;
    const auto anchor = text.size() == 33 && text[0] == kRetentionCursor
                            ? parse_hex16(text.substr(1, 16))
                            : std::nullopt;
    const auto rowid = anchor ? parse_hex16(text.substr(17)) : std::nullopt;
    if (!rowid) {
      return make_error(Errc::invalid_argument, "invalid cursor");
    }
    after_anchor = static_cast<std::int64_t>(*anchor);
    after_rowid = static_cast<std::int64_t>(*rowid);
  }
  // closed: the partial index cases_closed; opened: the workflow's cases (cases_by_workflow).
  std::string_view sql;
  int anchor_column = 0;
  if (query.anchor == "closed") {
    sql = "SELECT " CP_CASE_COLUMNS
          " FROM cases WHERE closed_at IS NOT NULL AND closed_at <= ?2 AND "
          "(closed_at, rowid) > (?3, ?4) AND workflow = ?1 ORDER BY closed_at, rowid LIMIT ?5";
    anchor_column = 14;
  } else if (query.anchor == "opened") {
    sql = "SELECT " CP_CASE_COLUMNS
          " FROM cases WHERE workflow = ?1 AND created_at <= ?2 AND "
          "(created_at, rowid) > (?3, ?4) ORDER BY created_at, rowid LIMIT ?5";
    anchor_column = 7;
  } else {
    return make_error(Errc::invalid_argument, "unknown retention anchor '" + query.anchor + "'");
  }
  const std::size_t limit = clamp_limit(query.limit);
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(sql);
  if (!select) {
    return select.error();
  }
  select->bind_text(1, query.workflow);
  select->bind_int64(2, query.cutoff);
  select->bind_int64(3, after_anchor);
  select->bind_int64(4, after_rowid);
  select->bind_int64(5, static_cast<std::int64_t>(limit) + 1);
  CasePage page;
  std::int64_t last_anchor = 0;
  std::int64_t last_rowid = 0;
  for (;;) {
    auto row = select->step("list cases due for retention");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    if (page.items.size() == limit) {
      page.next_cursor = std::string(1, kRetentionCursor) +
                         hex16(static_cast<std::uint64_t>(last_anchor)) +
                         hex16(static_cast<std::uint64_t>(last_rowid));
      break;
    }
    auto record = read_case(*select);
    if (!record) {
      return record.error();
    }
    page.items.push_back(std::move(*record));
    last_anchor = select->int64(anchor_column);
    last_rowid = select->int64(kCaseRowidColumn);
  }
  return page;
}

Result<HistoryPage> SqliteStore::history(const std::string& case_id, std::size_t limit,
                                         const std::optional<std::string>& cursor) {
  auto after = decode_cursor(kHistoryCursor, cursor);
  if (!after) {
    return after.error();
  }
  limit = clamp_limit(limit);
  const std::string what = "read history of case '" + case_id + "'";

  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  {
    auto exists = reading->prepare("SELECT 1 FROM cases WHERE id = ?1");
    if (!exists) {
      return exists.error();
    }
    exists->bind_text(1, case_id);
    auto row = exists->step(what);
    if (!row) {
      return row.error();
    }
    if (!*row) {
      return make_error(Errc::not_found, "case '" + case_id + "' not found");
    }
  }

  auto select =
      reading->prepare("SELECT " CP_EVENT_COLUMNS
                       " FROM events WHERE case_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, case_id);
  select->bind_int64(2, *after);
  select->bind_int64(3, static_cast<std::int64_t>(limit) + 1);

  HistoryPage page;
  for (;;) {
    auto row = select->step(what);
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    if (page.items.size() == limit) {
      page.next_cursor = encode_cursor(kHistoryCursor, page.items.back().seq);
      break;
    }
    auto entry = read_event(*select, case_id);
    if (!entry) {
      return entry.error();
    }
    page.items.push_back(std::move(*entry));
  }
  return page;
}

Result<std::optional<IdempotencyRecord>> SqliteStore::find_idempotency(const std::string& case_id,
                                                                       const std::string& actor,
                                                                       const std::string& key) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select =
      reading->prepare("SELECT " CP_IDEMPOTENCY_COLUMNS
                       " FROM idempotency WHERE case_id = ?1 AND actor = ?2 AND key = ?3");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, case_id);
  select->bind_text(2, actor);
  select->bind_text(3, key);
  auto row = select->step("read idempotency record of case '" + case_id + "'");
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return std::optional<IdempotencyRecord>{};
  }
  return std::optional<IdempotencyRecord>{read_idempotency(*select)};
}

Result<void> SqliteStore::create_token(const TokenRecord& token) {
  const std::string what = "create token '" + token.id + "'";
  std::lock_guard lock(mutex_);
  auto insert =
      prepare("INSERT INTO tokens (" CP_TOKEN_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!insert) {
    return insert.error();
  }
  insert->bind_text(1, token.id);
  insert->bind_text(2, token.hash);
  insert->bind_text(3, token.user);
  insert->bind_text(4, serialize_strings(token.roles));
  insert->bind_int64(5, token.created_at);
  insert->bind_optional_int64(6, token.revoked_at);
  insert->bind_text(7, serialize_strings(token.teams));
  insert->bind_text(8, serialize_strings(token.homes));
  auto inserted = insert->run(what);
  if (!inserted) {
    if (is_uniqueness_violation(insert->last_result_code())) {
      return make_error(Errc::conflict, "token '" + token.id + "' already exists");
    }
    return inserted.error();
  }
  return {};
}

Result<std::optional<TokenRecord>> SqliteStore::find_token(const std::string& hash) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT " CP_TOKEN_COLUMNS
                                 " FROM tokens WHERE hash = ?1 AND revoked_at IS NULL");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, hash);
  auto row = select->step("find token");
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return std::optional<TokenRecord>{};
  }
  auto token = read_token(*select);
  if (!token) {
    return token.error();
  }
  return std::optional<TokenRecord>{std::move(*token)};
}

Result<void> SqliteStore::revoke_token(const std::string& id, Timestamp at) {
  const std::string what = "revoke token '" + id + "'";
  std::lock_guard lock(mutex_);
  // The IS NULL keeps the first revocation time when a token is revoked twice.
  {
    auto update = prepare("UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
    if (!update) {
      return update.error();
    }
    update->bind_text(1, id);
    update->bind_int64(2, at);
    auto updated = update->run(what);
    if (!updated) {
      return updated.error();
    }
    if (update->changes() > 0) {
      return {};
    }
  }
  auto exists = prepare("SELECT 1 FROM tokens WHERE id = ?1");
  if (!exists) {
    return exists.error();
  }
  exists->bind_text(1, id);
  auto row = exists->step(what);
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return make_error(Errc::not_found, "token '" + id + "' not found");
  }
  return {};
}

Result<std::vector<TokenRecord>> SqliteStore::tokens() {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT " CP_TOKEN_COLUMNS " FROM tokens ORDER BY created_at, id");
  if (!select) {
    return select.error();
  }
  std::vector<TokenRecord> tokens;
  for (;;) {
    auto row = select->step("list tokens");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    auto token = read_token(*select);
    if (!token) {
      return token.error();
    }
    tokens.push_back(std::move(*token));
  }
  return tokens;
}

#undef CP_CASE_COLUMNS
#undef CP_EVENT_COLUMNS
#undef CP_TOKEN_COLUMNS
#undef CP_IDEMPOTENCY_COLUMNS
#undef CP_WORKFLOW_COLUMNS

namespace {

#define CP_OUTBOX_COLUMNS                                                                       \
  "id, case_id, workflow, workflow_version, step_ref, step_type, event, from_state, to_state, " \
  "idempotency_key, attempts, max_attempts, backoff_ms, next_at, status, last_error, created_at"

OutboxJob read_job(const Statement& row) {
  OutboxJob job;
  job.id = row.int64(0);
  job.case_id = row.text(1);
  job.workflow = row.text(2);
  job.workflow_version = static_cast<int>(row.int64(3));
  job.step_ref = row.text(4);
  job.step_type = row.text(5);
  job.event = row.optional_text(6);
  job.from = row.optional_text(7);
  job.to = row.text(8);
  job.idempotency_key = row.text(9);
  job.attempts = static_cast<int>(row.int64(10));
  job.max_attempts = static_cast<int>(row.int64(11));
  job.backoff_ms = row.int64(12);
  job.next_at = row.int64(13);
  job.status = row.text(14);
  job.last_error = row.optional_text(15);
  job.created_at = row.int64(16);
  return job;
}

#define CP_TASK_COLUMNS                                                                          \
  "id, token, case_id, step_type, step_ref, on_complete, description_json, status, created_at, " \
  "closed_at"

Result<TaskRecord> read_task(const Statement& row) {
  TaskRecord task;
  task.id = row.text(0);
  task.token = row.text(1);
  task.case_id = row.text(2);
  task.step_type = row.text(3);
  task.step_ref = row.text(4);
  task.on_complete = row.optional_text(5);
  auto description = parse_object(row.text(6), "task description");
  if (!description) {
    return description.error();
  }
  task.description = std::move(*description);
  task.status = row.text(7);
  task.created_at = row.int64(8);
  task.closed_at = row.optional_int64(9);
  return task;
}

#define CP_INCIDENT_COLUMNS \
  "id, case_id, job_id, step_type, message, attempts, status, created_at, resolved_at"

IncidentRecord read_incident(const Statement& row) {
  IncidentRecord incident;
  incident.id = row.text(0);
  incident.case_id = row.text(1);
  incident.job_id = row.is_null(2) ? 0 : row.int64(2);
  incident.step_type = row.text(3);
  incident.message = row.text(4);
  incident.attempts = static_cast<int>(row.int64(5));
  incident.status = row.text(6);
  incident.created_at = row.int64(7);
  incident.resolved_at = row.optional_int64(8);
  return incident;
}

}  // namespace

Result<std::vector<OutboxJob>> SqliteStore::claim_jobs(Timestamp now, std::int64_t lease_ms,
                                                       std::size_t limit) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_.get());
  auto began = transaction.begin_immediate();
  if (!began) {
    return began.error();
  }
  std::vector<OutboxJob> jobs;
  {
    auto select = prepare("SELECT " CP_OUTBOX_COLUMNS
                          " FROM outbox WHERE status = 'pending' AND next_at <= ?1 "
                          "AND lease_until <= ?1 ORDER BY next_at, id LIMIT ?2");
    if (!select) {
      return select.error();
    }
    select->bind_int64(1, now);
    select->bind_int64(
        2, static_cast<std::int64_t>(std::clamp<std::size_t>(limit, 1, kMaxClaimBatch)));
    for (;;) {
      auto row = select->step("claim outbox jobs");
      if (!row) {
        return row.error();
      }
      if (!*row) {
        break;
      }
      jobs.push_back(read_job(*select));
    }
  }
  for (const auto& job : jobs) {
    auto lease = prepare("UPDATE outbox SET lease_until = ?2 WHERE id = ?1");
    if (!lease) {
      return lease.error();
    }
    lease->bind_int64(1, job.id);
    lease->bind_int64(2, now + lease_ms);
    if (auto r = lease->run("lease outbox job"); !r) {
      return r.error();
    }
  }
  if (auto committed = transaction.commit(); !committed) {
    return committed.error();
  }
  return jobs;
}

Result<std::optional<Timestamp>> SqliteStore::next_job_at() {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(
      "SELECT MIN(MAX(next_at, lease_until)) FROM outbox WHERE status = 'pending'");
  if (!select) {
    return select.error();
  }
  auto row = select->step("find the next outbox job");
  if (!row) {
    return row.error();
  }
  if (!*row || select->is_null(0)) {
    return std::optional<Timestamp>{};
  }
  return std::optional<Timestamp>{select->int64(0)};
}

Result<void> SqliteStore::finish_job(std::int64_t job_id, const JobResult& result) {
  return write_grouped([&]() -> Result<void> {
    // The case and moment the effects' timer cancels belong to: the change's, else the job's case.
    // JobResult carries no time of its own, so without a change the new timers' creation time
    // stands in for it, and failing that the wall clock; the time is only ever shown to people.
    std::string case_id;
    Timestamp now = 0;
    if (result.change) {
      if (auto applied = apply_change_locked(*result.change); !applied) {
        return applied.error();
      }
      case_id = result.change->after.id;
      now = result.change->after.updated_at;
    } else {
      auto select = prepare("SELECT case_id FROM outbox WHERE id = ?1");
      if (!select) {
        return select.error();
      }
      select->bind_int64(1, job_id);
      auto row = select->step("read outbox job");
      if (!row) {
        return row.error();
      }
      if (*row) {
        case_id = select->text(0);
      }
      now = !result.effects.timers.empty() ? result.effects.timers.front().created_at
                                           : SystemClock().now();
    }
    if (auto inserted = insert_effects_locked(case_id, now, result.effects); !inserted) {
      return inserted.error();
    }
    if (result.incident) {
      if (auto inserted = insert_incident_locked(*result.incident); !inserted) {
        return inserted.error();
      }
    }
    auto update = prepare(
        "UPDATE outbox SET status = ?2, attempts = ?3, next_at = ?4, last_error = ?5, "
        "lease_until = 0 WHERE id = ?1");
    if (!update) {
      return update.error();
    }
    update->bind_int64(1, job_id);
    update->bind_text(2, result.status);
    update->bind_int64(3, result.attempts);
    update->bind_int64(4, result.next_at);
    update->bind_optional_text(5, result.last_error);
    if (auto r = update->run("finish outbox job"); !r) {
      return r.error();
    }
    return {};
  });
}

Result<std::vector<IncidentRecord>> SqliteStore::incidents(const std::string& case_id) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT " CP_INCIDENT_COLUMNS
                                 " FROM incidents WHERE case_id = ?1 ORDER BY created_at DESC, id");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, case_id);
  std::vector<IncidentRecord> out;
  for (;;) {
    auto row = select->step("list incidents");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    out.push_back(read_incident(*select));
  }
  return out;
}

Result<void> SqliteStore::retry_incident(const std::string& case_id, const std::string& incident_id,
                                         Timestamp now) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_.get());
  auto began = transaction.begin_immediate();
  if (!began) {
    return began.error();
  }
  std::int64_t job_id = 0;
  {
    auto select = prepare("SELECT job_id, status FROM incidents WHERE id = ?1 AND case_id = ?2");
    if (!select) {
      return select.error();
    }
    select->bind_text(1, incident_id);
    select->bind_text(2, case_id);
    auto row = select->step("read incident");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      return make_error(Errc::not_found,
                        "incident '" + incident_id + "' not found on case '" + case_id + "'");
    }
    if (select->text(1) != "open") {
      Error e = make_error(Errc::conflict, "incident '" + incident_id + "' is not open");
      e.type = "incident-not-open";
      return e;
    }
    if (select->is_null(0)) {
      Error e = make_error(Errc::conflict, "incident '" + incident_id +
                                               "' came from a failed task, not an outbox job; "
                                               "fire the step's transition again instead");
      e.type = "incident-not-retryable";
      return e;
    }
    job_id = select->int64(0);
  }
  {
    auto resolve =
        prepare("UPDATE incidents SET status = 'resolved', resolved_at = ?2 WHERE id = ?1");
    if (!resolve) {
      return resolve.error();
    }
    resolve->bind_text(1, incident_id);
    resolve->bind_int64(2, now);
    if (auto r = resolve->run("resolve incident"); !r) {
      return r.error();
    }
  }
  auto requeue = prepare(
      "UPDATE outbox SET status = 'pending', attempts = 0, next_at = ?2, lease_until = 0 "
      "WHERE id = ?1");
  if (!requeue) {
    return requeue.error();
  }
  requeue->bind_int64(1, job_id);
  requeue->bind_int64(2, now);
  if (auto r = requeue->run("requeue outbox job"); !r) {
    return r.error();
  }
  return transaction.commit();
}

Result<std::optional<TaskRecord>> SqliteStore::find_task(const std::string& token) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT " CP_TASK_COLUMNS " FROM tasks WHERE token = ?1");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, token);
  auto row = select->step("find task");
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return std::optional<TaskRecord>{};
  }
  auto task = read_task(*select);
  if (!task) {
    return task.error();
  }
  return std::optional<TaskRecord>{std::move(*task)};
}

Result<std::vector<TaskRecord>> SqliteStore::tasks(const std::string& case_id) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare("SELECT " CP_TASK_COLUMNS
                                 " FROM tasks WHERE case_id = ?1 ORDER BY created_at, id");
  if (!select) {
    return select.error();
  }
  select->bind_text(1, case_id);
  std::vector<TaskRecord> out;
  for (;;) {
    auto row = select->step("list tasks");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    auto task = read_task(*select);
    if (!task) {
      return task.error();
    }
    out.push_back(std::move(*task));
  }
  return out;
}

Result<void> SqliteStore::close_task(const std::string& task_id, const std::string& status,
                                     Timestamp now, const std::optional<CaseChange>& change,
                                     const CaseEffects& effects,
                                     const std::optional<IncidentRecord>& incident) {
  return write_grouped([&]() -> Result<void> {
    {
      auto close =
          prepare("UPDATE tasks SET status = ?2, closed_at = ?3 WHERE id = ?1 AND status = 'open'");
      if (!close) {
        return close.error();
      }
      close->bind_text(1, task_id);
      close->bind_text(2, status);
      close->bind_int64(3, now);
      if (auto r = close->run("close task"); !r) {
        return r.error();
      }
      if (close->changes() == 0) {
        Error e = make_error(Errc::conflict, "task '" + task_id + "' is no longer open");
        e.type = "task-closed";
        return e;
      }
    }
    if (change) {
      if (auto applied = apply_change_locked(*change); !applied) {
        return applied.error();
      }
      if (auto inserted = insert_effects_locked(change->after.id, now, effects); !inserted) {
        return inserted.error();
      }
    }
    if (incident) {
      if (auto inserted = insert_incident_locked(*incident); !inserted) {
        return inserted.error();
      }
    }
    return {};
  });
}

}  // namespace carepath::store
