// The Store interface: everything the engine keeps durably. All SQL lives behind it, so the same
// tests can run against another implementation (PostgreSQL later).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/audit.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

namespace carepath {

// The projection of one case: its current state and data.
struct CaseRecord {
  std::string id;    // opaque, unguessable
  std::string code;  // pseudonymous case code for people; never derived from identifying data
  std::string workflow;
  int workflow_version = 0;
  std::string state;
  boost::json::object data;
  std::int64_t version = 0;  // 1 at creation, +1 per change
  Timestamp created_at = 0;
  Timestamp updated_at = 0;
  // The case's data key, wrapped by a master key (security/crypto); empty when the store is used
  // without encryption (unit tests). Written at creation; update_case leaves it as it is.
  std::string data_key{};
  // Blind index entries (field name, keyed digest of its value) for equality search on
  // identifying fields without their plaintext. create_case and update_case replace the case's
  // entries with these; reads leave it empty.
  std::vector<std::pair<std::string, std::string>> blind_index{};
  // Who holds the case: the value of the workflow's assignment field (core.assign: a user name,
  // "team:<team>" or "role:<role>"), else the user who opened it. Empty on records of stores
  // used without it (unit tests). Kept in a column for object-level authorisation.
  std::string assignee{};
  // The value of the workflow's placement field (the home the child lives in), if any.
  std::optional<std::string> placement{};
  // The consents recorded for the case (core/consent.hpp), oldest first.
  boost::json::array consents{};
  // When the case entered a final state (the anchor of `retain: ... after closed`).
  std::optional<Timestamp> closed_at{};
  // When it was erased (POST /v1/cases/{id}/erase): its data key destroyed.
  std::optional<Timestamp> erased_at{};
};

// One entry of a case's append-only history.
struct HistoryEntry {
  std::int64_t seq = 0;  // 1, 2, ... per case; assigned by the store
  Timestamp at = 0;
  std::string actor;
  std::string event;                // "opened", "updated" or a workflow event
  std::optional<std::string> from;  // nullopt on "opened"
  std::string to;
  std::int64_t version = 0;          // the case version this entry produced
  std::vector<std::string> changed;  // names of the fields that changed
  std::optional<std::string> comment;
  // The data the change applied: the request's, with what synchronous steps set (null: removed);
  // kept to rebuild the projection (core/replay.hpp, `carepath verify`).
  boost::json::object payload;
  // What made the engine act, when it acted on its own: {"timer": ..., "due_at": ...,
  // "late_ms": ...} for a timer or clock deadline. Empty for people's requests.
  boost::json::object trigger{};
};

// The remembered first answer to a request with an Idempotency-Key.
struct IdempotencyRecord {
  std::string case_id;
  std::string actor;
  std::string key;
  std::string request_hash;  // hex digest of the canonical request
  int status = 0;
  std::string response;  // JSON text of the case as the first request left it
  Timestamp created_at = 0;
};

// An asynchronous step call waiting in the outbox, written in the same transaction as the change
// that scheduled it and run after commit by a worker.
struct OutboxJob {
  std::int64_t id = 0;  // assigned by the store
  std::string case_id{};
  std::string workflow{};
  int workflow_version = 0;
  std::string step_ref{};   // where the call sits in the workflow (runtime/step_refs)
  std::string step_type{};  // for people and metrics; the call is found again through step_ref
  std::optional<std::string> event{};  // the transition that scheduled it
  std::optional<std::string> from{};
  std::string to{};
  std::string idempotency_key{};  // "<case>/<version>/<step_ref>": unique, the same on every retry
  int attempts = 0;
  int max_attempts = 1;
  std::int64_t backoff_ms = 0;
  Timestamp next_at = 0;
  std::string status{};  // "pending", "done", "incident"
  std::optional<std::string> last_error{};
  Timestamp created_at = 0;
};

// A step that answered "pending": an outside system or a person completes it through the API
// with the task's unguessable token.
struct TaskRecord {
  std::string id{};
  std::string token{};
  std::string case_id{};
  std::string step_type{};
  std::string step_ref{};
  std::optional<std::string> on_complete{};  // event the engine fires when it completes
  boost::json::object description{};         // what the step said the task is
  std::string status{};                      // "open", "completed", "failed"
  Timestamp created_at = 0;
  std::optional<Timestamp> closed_at{};
};

// An asynchronous step whose retries ran out (or that failed for good).
struct IncidentRecord {
  std::string id{};
  std::string case_id{};
  std::int64_t job_id = 0;
  std::string step_type{};
  std::string message{};
  int attempts = 0;
  std::string status{};  // "open", "resolved"
  Timestamp created_at = 0;
  std::optional<Timestamp> resolved_at{};
};

// A timer waiting in the database: a state's timer (`after`, `every`), or a statutory clock's
// warning or breach. Claimed with a lease, like outbox jobs, so that one engine fires it.
struct TimerRecord {
  std::int64_t id = 0;  // assigned by the store
  std::string case_id{};
  std::string kind{};     // "timer" (a state's) or "clock"
  std::string name{};     // timer: "<state>/after/<i>", "<state>/every/<i>"; clock: its name
  std::string purpose{};  // timer: "fire"; clock: "warning" or "breach"
  std::optional<std::string> event{};  // fired when due; a clock may fire none
  Timestamp due_at = 0;
  std::int64_t occurrence = 1;          // every: 1, 2, ...
  Timestamp anchor_at = 0;              // every: when the state was entered
  std::string status{};                 // "pending", "fired", "skipped", "cancelled"
  std::optional<Timestamp> fired_at{};  // when it fired, was skipped or was cancelled
  std::optional<std::string> note{};    // why it was skipped; never field values
  Timestamp created_at = 0;
};

// Cancels the pending timers of the changed case of one kind, and of one name when given.
struct TimerCancel {
  std::string kind{};
  std::optional<std::string> name{};
};

// The state of one statutory clock of one case.
struct ClockRecord {
  std::string case_id{};
  std::string name{};
  std::string workflow{};
  Timestamp started_at = 0;
  Timestamp base_due_at = 0;     // started_at + due (+ extensions), in the organisation's zone
  std::int64_t excluded_ms = 0;  // excluded and paused time that has ended
  std::optional<Timestamp> paused_since{};
  std::optional<std::string> pause_kind{};  // "excluded" (between events) or "paused" (by hand)
  // base_due_at + excluded_ms; nullopt while paused (the deadline moves until it resumes).
  std::optional<Timestamp> due_at{};
  std::optional<Timestamp> warn_at{};  // due_at - warn_before
  std::optional<Timestamp> stopped_at{};
  std::optional<Timestamp> warned_at{};
  std::optional<Timestamp> breached_at{};  // the moment the deadline passed unmet
  // Pauses, resumptions and extensions: {"at", "action", "reason", "by", "actor"}.
  boost::json::array log{};
};

// A message for the people holding one role: a statutory clock of a case warned or breached
// and its `notify` named the role. It carries names and instants only, never case field values,
// because it is shown to everyone holding the role.
struct NotificationRecord {
  std::string id{};  // opaque, unguessable
  std::string case_id{};
  std::string workflow{};
  std::string role{};
  std::string kind{};     // "clock_warning" or "clock_breach"
  std::string subject{};  // the clock's name
  Timestamp due_at = 0;   // the deadline (or warning time) that fell due
  Timestamp created_at = 0;
  std::optional<Timestamp> acknowledged_at{};  // the first acknowledgement only
  std::optional<std::string> acknowledged_by{};
};

// What a case change schedules besides itself; written in the same transaction.
struct CaseEffects {
  std::vector<OutboxJob> jobs{};
  std::vector<TaskRecord> tasks{};
  std::vector<TimerCancel> timer_cancels{};  // applied before `timers` are inserted
  std::vector<TimerRecord> timers{};
  std::vector<ClockRecord> clocks{};  // inserted or replaced, by (case_id, name)
  std::vector<NotificationRecord> notifications{};
  // Audit rows beyond the one the store writes for every case change itself (see Store); their
  // seq, prev_hash and hash are assigned in the same transaction.
  std::vector<AuditRecord> audit{};
};

// Clocks across cases: the supervisor's work list.
struct ClockQuery {
  std::string state{};  // "warning" or "breached"
  Timestamp now = 0;
  std::optional<std::string> workflow{};
  std::size_t limit = 50;
  std::optional<std::string> cursor{};
};

struct ClockPage {
  std::vector<ClockRecord> items{};
  std::optional<std::string> next_cursor{};
};

// One person's inbox: the notifications for any of `roles`, newest first.
struct NotificationQuery {
  std::vector<std::string> roles{};  // the caller's; no roles, no notifications
  bool unacknowledged_only = false;
  std::size_t limit = 50;
  std::optional<std::string> cursor{};
};

struct NotificationPage {
  std::vector<NotificationRecord> items{};
  std::optional<std::string> next_cursor{};
};

// A new projection row, the version it replaces, and its history entry.
struct CaseChange {
  CaseRecord after{};
  std::int64_t expected_version = 0;
  HistoryEntry entry{};
};

// How a claimed timer ended: fired (with the change its event made), or skipped.
struct TimerFinish {
  std::int64_t timer_id = 0;
  std::string owner{};   // the claim's owner; another owner's claim makes it Errc::conflict
  std::string status{};  // "fired" or "skipped"
  Timestamp at = 0;
  std::optional<std::string> note{};
  std::optional<CaseChange> change{};
  CaseEffects effects{};
};

// How a claimed outbox job ended: its new status and what it changed.
struct JobResult {
  std::string status{};  // "done", "incident", or "pending" to retry at next_at
  int attempts = 0;
  Timestamp next_at = 0;
  std::optional<std::string> last_error{};
  std::optional<CaseChange> change{};
  CaseEffects effects{};
  std::optional<IncidentRecord> incident{};
};

struct WorkflowSource {
  std::string name;
  int version = 0;
  std::string sha256;
  std::string source;  // the YAML text
  Timestamp loaded_at = 0;
};

struct CaseQuery {
  std::optional<std::string> workflow;
  std::optional<std::string> state;
  // Only cases with a statutory clock that is running and past its deadline at this instant.
  std::optional<Timestamp> overdue_at;
  // Only cases on this version of `workflow` (which must be set): a migration's cases.
  std::optional<int> workflow_version;
  // Only cases whose blind index holds `digest` for field `field` (duplicate detection at
  // intake). Callers give the plaintext in `value`; ProtectedStore turns it into the digest.
  struct Match {
    std::string field;
    std::string value;
  };
  std::optional<Match> match;
  // Only the cases a caller may see (core/access.hpp): assignee IN `assignees` OR placement IN
  // `placements`.
  struct Scope {
    std::vector<std::string> assignees;
    std::vector<std::string> placements;
  };
  std::optional<Scope> scope;
  std::size_t limit = 50;
  std::optional<std::string> cursor;  // from CasePage::next_cursor
};

struct CasePage {
  std::vector<CaseRecord> items;
  std::optional<std::string> next_cursor;  // opaque; nullopt on the last page
};

// Cases of one workflow whose retention anchor is at or before `cutoff`: what the retention job
// (Runtime::apply_retention) looks at. Found through an index, never by reading every case.
struct RetentionQuery {
  std::string workflow{};
  std::string anchor{};  // "closed" (closed_at) or "opened" (created_at)
  Timestamp cutoff = 0;
  std::size_t limit = 100;
  std::optional<std::string> cursor{};  // from CasePage::next_cursor
};

struct HistoryPage {
  std::vector<HistoryEntry> items;
  std::optional<std::string> next_cursor;
};

// One run of a migration plan (`carepath migrate`, POST /v1/admin/migrations). A run that was
// interrupted (stopped, or killed) is taken up again by the next run of the same plan.
struct MigrationRun {
  std::int64_t id = 0;  // assigned by the store
  std::string plan{};
  std::string workflow{};
  int from_version = 0;
  int to_version = 0;
  std::string actor{};
  Timestamp started_at = 0;
  std::optional<Timestamp> finished_at{};
  std::string status{};     // "running", "finished" or "interrupted"
  std::int64_t moved = 0;   // cases moved, over every run of this record
  std::int64_t failed = 0;  // cases that could not move in the last run
  bool resumed = false;     // not stored: start_migration took up an unfinished run
};

// A page of the audit trail, in seq order; every filter is optional.
struct AuditQuery {
  std::optional<std::string> case_id{};
  std::optional<std::string> actor{};
  std::optional<std::string> action{};  // "break_glass": the break-glass report
  std::optional<Timestamp> from{};      // at >= from
  std::optional<Timestamp> to{};        // at < to
  std::size_t limit = 50;
  std::optional<std::string> cursor{};
};

struct AuditPage {
  std::vector<AuditRecord> items{};
  std::optional<std::string> next_cursor{};
};

struct TokenRecord {
  std::string id;    // public handle, shown by `token list`, accepted by `token revoke`
  std::string hash;  // hex SHA-256 of the secret token; the token itself is never stored
  std::string user;
  std::vector<std::string> roles;
  Timestamp created_at = 0;
  std::optional<Timestamp> revoked_at;
  std::vector<std::string> teams{};  // the user's teams (cases assigned to "team:<team>")
  std::vector<std::string> homes{};  // the homes whose cases a supervisor sees
};

// Thread-safety: every member function may be called from any thread; implementations
// serialise writes themselves. Every write is atomic: it happens whole or not at all.
//
// Audit: every write of a case (create_case, update_case, and the changes of finish_job,
// close_task and finish_timer) appends a "case.open" or "case.write" audit row naming the
// history entry's actor, event and changed fields, and start_migration and finish_migration a
// "migration" row, in the same transaction as the write, as do CaseEffects::audit rows.
// One case with its whole history, written by Store::import_cases (`carepath import`).
struct ImportedCase {
  CaseRecord record{};                  // as create_case takes it; version = history.size()
  std::vector<HistoryEntry> history{};  // oldest first; seq and version are 1, 2, ... in order
  CaseEffects effects{};                // the pending timers and clocks of its current state
};

class Store;

// A batch of ImportedCase made ready by Store::prepare_import for Store::write_import. It knows
// which stores prepared it: a store writes only a batch it prepared itself, so a batch that
// skipped a sealing store's preparation can never reach the database through it.
class ImportBatch {
 public:
  const std::vector<ImportedCase>& cases() const { return cases_; }
  bool prepared_by(const Store& store) const {
    return std::find(preparers_.begin(), preparers_.end(), &store) != preparers_.end();
  }

 private:
  friend class Store;
  std::vector<ImportedCase> cases_;
  std::vector<const Store*> preparers_;
};

// How many cases are in one state of one workflow (any version).
struct StateCount {
  std::string workflow;
  std::string state;
  std::int64_t count = 0;
};

// The figures GET /metrics reads when it is scraped, each counted from an index.
struct StoreGauges {
  std::vector<StateCount> cases;     // every case; which states are final is the caller's call
  std::int64_t outbox_pending = 0;   // asynchronous step calls waiting to run
  std::int64_t incidents_open = 0;   // unresolved incidents
  std::int64_t timers_pending = 0;   // timers not yet fired or cancelled
  std::int64_t clocks_breached = 0;  // running clocks past their deadline and marked breached
};

// --- reports (docs/reports.md) ---
// Every report query is an aggregate over an index; none returns a field value except the
// placement (the home) and the assignee, which the loader keeps from being sensitive.

// Open cases (closed_at unset) of one (workflow, state, placement, assignee).
struct CaseloadCount {
  std::string workflow{};
  std::string state{};
  std::optional<std::string> placement{};
  std::optional<std::string> assignee{};
  std::int64_t count = 0;
};

// History entries of some events taken in a period, counted by what they were: the statutory
// reports' restorations, deaths and runaways (the caller maps (workflow, version, from, event,
// to) to `counts_as`). `workflow_version` and `placement` are the case's when the entry was
// written (for entries written before schema version 11, the case's when the database was
// upgraded).
struct EventCount {
  std::string workflow{};
  int workflow_version = 0;
  std::string event{};
  std::optional<std::string> from_state{};  // nullopt on "opened"
  std::string to_state{};
  std::optional<std::string> placement{};  // the case's home after the entry
  std::int64_t count = 0;                  // entries
  std::int64_t cases = 0;                  // distinct cases among them
};

// History entries taken in a period that opened a case or changed its state: the flow report's
// entries into and exits from each state.
struct MoveCount {
  std::string workflow{};
  std::optional<std::string> from_state{};  // nullopt on "opened"
  std::string to_state{};
  std::int64_t count = 0;
};

// How long cases stayed in one state of one workflow: every stay that ended in the period, from
// the entry that brought the case in (a change of state, or its opening) to the one that took
// it out, in milliseconds, ascending.
struct StateStays {
  std::string workflow{};
  std::string state{};
  std::vector<std::int64_t> durations_ms{};
};

// Closed cases (closed_at set) of one (workflow, version, final state).
struct ClosedCount {
  std::string workflow{};
  int workflow_version = 0;
  std::string state{};
  std::int64_t count = 0;
};

// A case that left care by one of the `events` of a LeftCareQuery: its pseudonymous code and
// where it stood, never a field value other than the placement.
struct LeftCareRecord {
  std::string code{};
  std::string workflow{};
  int workflow_version = 0;
  std::optional<std::string> placement{};  // its home now (kept after it left)
  std::string event{};                     // the event by which it left care (the last one)
  std::string left_from{};                 // the state it left
  Timestamp left_at = 0;
  std::string state_at{};  // its state at `until` (the last entry before it)
  std::string state{};     // its state now
  std::optional<Timestamp> closed_at{};
};

// The cases of `workflow` that took one of `events` (from one of the states paired with it;
// nullopt for any) before `until` and were not closed before `since`: who was in aftercare at
// some time in [since, until). Erased cases are left out (they are counted, never listed).
struct LeftCareQuery {
  std::string workflow{};
  std::vector<std::pair<std::string, std::optional<std::string>>> events{};  // (event, from)
  Timestamp since = 0;
  Timestamp until = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Records a workflow source. Identical (name, version, sha256): no-op. Same (name, version)
  // with another sha256: replaced when no case uses it, else Errc::conflict.
  virtual Result<void> put_workflow(const WorkflowSource& source) = 0;
  // Every stored workflow source, ordered by name then version.
  virtual Result<std::vector<WorkflowSource>> workflows() = 0;

  // Inserts a new case, its first history entry ("opened") and its effects. `opened.seq` is
  // ignored (1). Errc::conflict when the id or code already exists.
  virtual Result<void> create_case(const CaseRecord& record, const HistoryEntry& opened,
                                   const CaseEffects& effects) = 0;

  // Errc::not_found when there is no such case.
  virtual Result<CaseRecord> get_case(const std::string& id) = 0;

  // Replaces the case row with `after` (whose version must be expected_version + 1), appends
  // `entry` and, when given, the idempotency record, all in one transaction.
  // Errc::not_found: no such case. Errc::precondition_failed: the stored version is not
  // `expected_version` (details["current_version"] holds the stored one). Errc::conflict: an
  // idempotency record with the same (case, actor, key) exists.
  virtual Result<void> update_case(const CaseRecord& after, std::int64_t expected_version,
                                   const HistoryEntry& entry,
                                   const std::optional<IdempotencyRecord>& idempotency,
                                   const CaseEffects& effects) = 0;

  // Cases matching the query, in creation order; limit is clamped to 1..500.
  virtual Result<CasePage> list_cases(const CaseQuery& query) = 0;

  // History of one case, oldest first, starting after the cursor. Errc::not_found: no such case.
  virtual Result<HistoryPage> history(const std::string& case_id, std::size_t limit,
                                      const std::optional<std::string>& cursor) = 0;

  virtual Result<std::optional<IdempotencyRecord>> find_idempotency(const std::string& case_id,
                                                                    const std::string& actor,
                                                                    const std::string& key) = 0;

  // Claims up to `limit` pending jobs due at `now` whose lease has expired, leasing them until
  // now + lease_ms, so that two engines on one database never run a job at the same time and a
  // job claimed by an engine that died is taken up again when its lease runs out.
  virtual Result<std::vector<OutboxJob>> claim_jobs(Timestamp now, std::int64_t lease_ms,
                                                    std::size_t limit) = 0;
  // When the next pending job falls due (ignoring leases); nullopt when none is pending.
  virtual Result<std::optional<Timestamp>> next_job_at() = 0;
  // Records how a claimed job ended, with its case change, effects and incident, atomically.
  // Errc::precondition_failed when the change's version check fails (nothing is written).
  virtual Result<void> finish_job(std::int64_t job_id, const JobResult& result) = 0;

  // Incidents of a case, newest first.
  virtual Result<std::vector<IncidentRecord>> incidents(const std::string& case_id) = 0;
  // Resolves an open incident and puts its job back in the outbox, due at `now`, with its
  // attempts reset. Errc::not_found: no such incident on that case; Errc::conflict: not open.
  virtual Result<void> retry_incident(const std::string& case_id, const std::string& incident_id,
                                      Timestamp now) = 0;

  virtual Result<std::optional<TaskRecord>> find_task(const std::string& token) = 0;
  virtual Result<std::vector<TaskRecord>> tasks(const std::string& case_id) = 0;
  // Closes an open task ("completed" or "failed") with its case change, the change's effects and
  // an incident, atomically.
  // Errc::conflict when the task is no longer open; Errc::precondition_failed as finish_job.
  virtual Result<void> close_task(const std::string& task_id, const std::string& status,
                                  Timestamp now, const std::optional<CaseChange>& change,
                                  const CaseEffects& effects,
                                  const std::optional<IncidentRecord>& incident) = 0;

  // --- timers and statutory clocks ---
  // Claims up to `limit` pending timers due at `now` whose lease has expired, in the order they
  // fall due (then id), leasing them to `owner` until now + lease_ms.
  virtual Result<std::vector<TimerRecord>> claim_timers(Timestamp now, std::int64_t lease_ms,
                                                        std::size_t limit,
                                                        const std::string& owner) = 0;
  // When the next pending timer falls due (ignoring leases); nullopt when none is pending.
  virtual Result<std::optional<Timestamp>> next_timer_at() = 0;
  // Records how a claimed timer ended, with its case change and effects, atomically.
  // Errc::conflict when the timer is no longer pending or is leased to another owner (nothing is
  // written); Errc::precondition_failed when the change's version check fails.
  virtual Result<void> finish_timer(const TimerFinish& finish) = 0;
  // Every timer of a case, pending or not, by due time then id.
  virtual Result<std::vector<TimerRecord>> timers(const std::string& case_id) = 0;
  virtual Result<std::vector<ClockRecord>> clocks(const std::string& case_id) = 0;
  // "breached": the deadline passed unmet (breached_at set, or running with due_at <= now);
  // "warning": running, not breached, warn_at <= now < due_at. Ordered by due time.
  virtual Result<ClockPage> list_clocks(const ClockQuery& query) = 0;

  // --- notifications ---
  // Notifications for any of `query.roles`, newest first (created_at, then the order they were
  // written); limit is clamped to 1..500.
  virtual Result<NotificationPage> list_notifications(const NotificationQuery& query) = 0;
  // Records that `user` acknowledged the notification at `at` and returns it. Acknowledging it
  // again succeeds and keeps the first time and user. Errc::not_found when there is no such
  // notification or its role is not one of `roles` (the two are not told apart).
  virtual Result<NotificationRecord> acknowledge_notification(const std::string& id,
                                                              const std::vector<std::string>& roles,
                                                              const std::string& user,
                                                              Timestamp at) = 0;

  // Outbox jobs still to run and tasks still open for the case: work that belongs to the version
  // the case runs on, so a migration waits for it.
  virtual Result<std::int64_t> pending_work(const std::string& case_id) = 0;
  // How many cases run on `version` of `workflow` (a migration's total), without reading them.
  virtual Result<std::int64_t> count_cases_on_version(const std::string& workflow, int version) = 0;
  // Records the start of a run of `run.plan`, or takes up the last run of that plan when it did
  // not finish (returned with `resumed` set and its id and counts). Only plan, workflow,
  // from_version, to_version, actor and started_at of `run` are read.
  virtual Result<MigrationRun> start_migration(const MigrationRun& run) = 0;
  // Records how run `run.id` ended: status, finished_at, moved and failed.
  virtual Result<void> finish_migration(const MigrationRun& run) = 0;

  // --- bulk import (`carepath import`) ---
  // Of `codes`, those a case in the store already has (any order).
  virtual Result<std::vector<std::string>> existing_codes(
      const std::vector<std::string>& codes) = 0;
  // Bulk import in two steps, so that `carepath import` can prepare one batch on its own thread
  // while the one before is written. prepare_import does the work that needs no transaction (a
  // sealing store seals the cases; the database store checks their shape) and may run alongside
  // write_import of another batch. Errc::invalid_argument when a case has no history or its
  // versions do not follow 1, 2, ...
  virtual Result<ImportBatch> prepare_import(std::vector<ImportedCase> cases) = 0;
  // Inserts the batch in one transaction: all of it or none. For each case: its row, every
  // history entry (seq 1, 2, ... as given), its blind index, its effects, and one "case.import"
  // audit row (actor `importer`, at `at`, the names of its data fields, details: workflow,
  // workflow_version and events) in place of the "case.open"/"case.write" rows of create_case
  // and update_case. Errc::conflict, naming the code, when an id or code already exists;
  // Errc::invalid_argument when this store did not prepare the batch.
  virtual Result<void> write_import(const ImportBatch& batch, const std::string& importer,
                                    Timestamp at) = 0;
  // Both steps on the caller's thread.
  Result<void> import_cases(std::vector<ImportedCase> cases, const std::string& importer,
                            Timestamp at) {
    auto batch = prepare_import(std::move(cases));
    if (!batch) {
      return batch.error();
    }
    return write_import(*batch, importer, at);
  }

  // --- encryption at rest (security/protected_store) ---
  // A named value of the engine's own (the master key check); nullopt when not set.
  virtual Result<std::optional<std::string>> setting(const std::string& name) = 0;
  virtual Result<void> put_setting(const std::string& name, const std::string& value) = 0;
  // How many cases have no data key and were not erased: cases written before encryption, which
  // the engine refuses to serve in plaintext.
  virtual Result<std::int64_t> count_cases_without_key() = 0;
  // Counts for the metrics endpoint; reads no case.
  virtual Result<StoreGauges> gauges() = 0;
  // A trivial query: whether the database answers (GET /readyz).
  virtual Result<void> ping() = 0;
  // Up to `limit` (case id, data key) pairs whose data key is not wrapped by master key
  // `master_id`: what a rotation still has to re-wrap.
  virtual Result<std::vector<std::pair<std::string, std::string>>> data_keys_not_wrapped_by(
      const std::string& master_id, std::size_t limit) = 0;
  // Replaces the case's wrapped data key when it is still `old_key` (Errc::precondition_failed
  // otherwise): a rotation re-wrapping it.
  virtual Result<void> replace_data_key(const std::string& case_id, const std::string& old_key,
                                        const std::string& new_key) = 0;

  // --- erasure and retention ---
  // Erases a case (POST /v1/cases/{id}/erase) in one transaction: applies `change` as
  // update_case does (its `after` holds only the fields kept, erased_at set; its entry is the
  // "erased" history entry), destroys the data key (NULL: crypto-shredding what stays sealed in
  // the history), deletes the case's blind index rows and idempotency records, cancels its
  // pending timers and outbox jobs and its open tasks (their descriptions emptied), and appends
  // effects.audit. Errors as update_case.
  virtual Result<void> erase_case(const CaseChange& change, const CaseEffects& effects) = 0;
  // Cases due for retention: see RetentionQuery; ordered by the anchor, then creation.
  // Errc::invalid_argument for a malformed cursor or anchor.
  virtual Result<CasePage> list_retention_due(const RetentionQuery& query) = 0;
  // Removes the members named `fields` from the payloads of the case's history entries and the
  // stored case data, deletes its idempotency records (they hold the case as an answer), then
  // applies `change` (the case without them and a "retention_applied" entry) with
  // effects.audit, in one transaction. Returns how many values of each of `fields` were removed
  // (in the same order); when there were none, nothing is written, so a second run changes
  // nothing. Null values count as none.
  virtual Result<std::vector<std::int64_t>> strip_fields(const CaseChange& change,
                                                         const std::vector<std::string>& fields,
                                                         const CaseEffects& effects) = 0;

  // --- the audit trail (core/audit.hpp) ---
  // Appends rows in one transaction of their own, assigning seq, prev_hash and hash (the given
  // ones are ignored); `at` and the rest are written as given.
  virtual Result<void> append_audit(const std::vector<AuditRecord>& records) = 0;
  // Rows matching the query in seq order; limit is clamped to 1..500. Errc::invalid_argument for
  // a malformed cursor. With no filters, pages walk the whole chain (`carepath audit verify`).
  virtual Result<AuditPage> audit_page(const AuditQuery& query) = 0;

  // --- reports (docs/reports.md) ---
  // Open cases by (workflow, state, placement, assignee); `workflow` filters. Erased cases count.
  virtual Result<std::vector<CaseloadCount>> report_caseload(
      const std::optional<std::string>& workflow) = 0;
  // History entries of one of `events` with from <= at < to, grouped as EventCount says;
  // `workflow` filters. No events, no rows.
  virtual Result<std::vector<EventCount>> report_event_counts(
      Timestamp from, Timestamp to, const std::optional<std::string>& workflow,
      const std::vector<std::string>& events) = 0;
  // History entries with from <= at < to that opened a case or changed its state, grouped as
  // MoveCount says; `workflow` filters.
  virtual Result<std::vector<MoveCount>> report_moves(
      Timestamp from, Timestamp to, const std::optional<std::string>& workflow) = 0;
  // Stays (see StateStays) that ended with from <= at < to; `workflow` filters.
  virtual Result<std::vector<StateStays>> report_stays(
      Timestamp from, Timestamp to, const std::optional<std::string>& workflow) = 0;
  // Closed cases by final state, with from <= closed_at < to when given; `workflow` filters.
  virtual Result<std::vector<ClosedCount>> report_closed(
      const std::optional<Timestamp>& from, const std::optional<Timestamp>& to,
      const std::optional<std::string>& workflow) = 0;
  // See LeftCareQuery; one record per case (its last such event before `until`), by left_at.
  virtual Result<std::vector<LeftCareRecord>> report_left_care(const LeftCareQuery& query) = 0;

  virtual Result<void> create_token(const TokenRecord& token) = 0;
  // The unrevoked token with this hash; nullopt when none.
  virtual Result<std::optional<TokenRecord>> find_token(const std::string& hash) = 0;
  // Revokes by id. Errc::not_found when there is no such token.
  virtual Result<void> revoke_token(const std::string& id, Timestamp at) = 0;
  virtual Result<std::vector<TokenRecord>> tokens() = 0;

 protected:
  // For prepare_import: `cases` as a batch this store prepared.
  ImportBatch prepared_batch(std::vector<ImportedCase> cases) const {
    ImportBatch batch;
    batch.cases_ = std::move(cases);
    batch.preparers_.push_back(this);
    return batch;
  }
  // For a decorator's prepare_import: the batch its inner store prepared, prepared by it too.
  ImportBatch prepared_batch(ImportBatch inner) const {
    inner.preparers_.push_back(this);
    return inner;
  }
};

}  // namespace carepath
