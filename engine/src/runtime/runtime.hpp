// The transition pipeline and the other case operations, in one place. The API calls these;
// nothing else writes cases.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/access.hpp"
#include "core/actor.hpp"
#include "core/consent.hpp"
#include "core/error.hpp"
#include "core/machine.hpp"
#include "core/migration.hpp"
#include "core/schedule.hpp"
#include "core/store.hpp"
#include "core/time.hpp"
#include "core/timezone.hpp"
#include "runtime/migrate.hpp"
#include "runtime/registry.hpp"

namespace carepath::runtime {

// The audit rows of an answer that will show a case the request changed (the API's `case.read`
// row), called with the case as the change leaves it and written in the change's own commit:
// one commit (one fsync) per request instead of two, and the row exists exactly when the change
// does.
using AnswerAudit = std::function<std::vector<AuditRecord>(const CaseRecord& after)>;

struct FireRequest {
  std::string event{};
  boost::json::object data{};
  std::optional<std::string> comment{};
  std::optional<std::int64_t> if_match{};  // expected case version
  std::optional<std::string> idempotency_key{};
  std::string request_hash{};  // digest of the canonical request body; needed with a key
  // `consent_override.reason`: take the transition although consents it requires are not in
  // force (the actor must hold a role of each one's override_by); audited. Ignored when no
  // consent is missing.
  std::optional<std::string> consent_override{};
  // Not called when an Idempotency-Key replays an earlier answer (nothing is committed then).
  AnswerAudit answer_audit{};
};

// The consents recorded on a case (core/consent.hpp), oldest first, with each one's status.
struct CaseConsents {
  std::string case_id{};
  boost::json::array items{};
  std::vector<ConsentStatus> statuses{};  // one per item
  std::vector<std::string> valid{};       // names in force now
};

// What one run of the retention job removed, or would remove (dry run).
struct RetentionFieldCount {
  std::string field{};
  std::int64_t values = 0;  // in case data and history payloads
  std::int64_t cases = 0;
};

struct RetentionReport {
  std::int64_t cases = 0;                     // cases that had values removed
  std::int64_t values = 0;                    // values removed, over every field
  std::vector<RetentionFieldCount> fields{};  // by field name
};

// The 409 (type case-erased) for any change to an erased case.
Error case_erased(const CaseRecord& record);

// `before` at its next version, stamped `now`, and the history entry of a change that keeps the
// state (an edit, an erasure, a retention run) by `actor`, naming the `changed` fields.
struct InPlaceChange {
  CaseRecord after{};
  HistoryEntry entry{};
};
InPlaceChange change_in_place(const CaseRecord& before, std::string actor, std::string event,
                              std::vector<std::string> changed, Timestamp now);

// `record` with `data` in place of its data: what `after = record; after.data = data` gives,
// without copying the old data only to drop it (a transition's hot path; bench/core_bench).
// Every other member is copied; a static_assert on sizeof(CaseRecord) in runtime.cpp fails
// when CaseRecord changes, so that a new member is copied there too.
CaseRecord with_data(const CaseRecord& record, boost::json::object data);

struct FireResult {
  CaseRecord record;
  bool replayed = false;  // the answer of an earlier request with the same Idempotency-Key
};

// A clock of some case, for the work lists.
struct CaseClock {
  std::string case_id{};
  std::string case_code{};
  std::string workflow{};
  std::string case_state{};
  ClockStatus clock{};
};

struct CaseClockPage {
  std::vector<CaseClock> items{};
  std::optional<std::string> next_cursor{};
};

// Thread-safety: every member function may be called concurrently. Two changes to one case are
// serialised by the store's version check; a change that loses the race is re-planned on the
// fresh case, unless the caller pinned the version with If-Match.
class Runtime {
 public:
  // `zone` is the organisation's: durations in days and months, dates in fields and "today" in
  // guards count in it.
  Runtime(Store& store, const Clock& clock, const WorkflowRegistry& workflows,
          TimeZone zone = TimeZone::utc());

  // Opens a case on the newest version of `workflow` in its initial state.
  // Errc::not_found: unknown workflow. Errc::forbidden: the actor holds none of the workflow's
  // roles, or may not edit a field in `data`. Errc::unprocessable: invalid fields.
  Result<CaseRecord> open_case(const Actor& actor, std::string_view workflow,
                               const boost::json::object& data,
                               const AnswerAudit& answer_audit = {});

  // Errc::not_found: unknown case.
  Result<CaseRecord> get_case(const Actor& actor, const std::string& id);

  // Edits fields without a transition; recorded in history as "updated". Same checks as
  // open_case; Errc::precondition_failed when `if_match` is not the current version.
  Result<CaseRecord> update_case(const Actor& actor, const std::string& id,
                                 const boost::json::object& data,
                                 std::optional<std::int64_t> if_match,
                                 const std::optional<std::string>& comment);

  // Fires an event through the pipeline (see core/machine.hpp for the order of checks).
  // `clock_extended`, `clock_paused` and `clock_resumed` adjust a statutory clock instead:
  // data {clock, reason, by (extend only)}; the actor needs one of the clock's extendable_by
  // roles. Errc::unprocessable names what is missing; Errc::conflict when the clock is not in a
  // state the action applies to.
  Result<FireResult> fire(const Actor& actor, const std::string& id, const FireRequest& request);

  // The case's consents as of now, for anyone who may see the case.
  Result<CaseConsents> consents(const Actor& actor, const std::string& id);

  // Fires one claimed timer (see Store::claim_timers) as the engine: its event through the
  // pipeline, a clock's warning or breach recorded, the next occurrence of an `every` timer
  // scheduled, all in one commit. A timer whose event cannot be taken is recorded as skipped
  // with the reason. Errors are storage errors only; a timer another engine finished is not one.
  Result<void> fire_timer(const TimerRecord& timer, const std::string& owner);

  // Every clock the case's workflow declares, started or not, as of now.
  Result<std::vector<ClockStatus>> clocks(const Actor& actor, const std::string& id);
  // Clocks in `query.state` across the cases this actor may see (query.now is set here).
  Result<CaseClockPage> list_clocks(const Actor& actor, ClockQuery query);
  // The case's "scheduled vs actual" sheet.
  Result<std::vector<ScheduleRow>> schedule(const Actor& actor, const std::string& id);

  // The actor's inbox: notifications for its own roles, of workflows it holds a role in, newest
  // first (query.roles is set here from the actor). Errc::invalid_argument: malformed cursor.
  Result<NotificationPage> notifications(const Actor& actor, NotificationQuery query);
  // Acknowledges a notification for one of the actor's roles and returns it; acknowledging it
  // again keeps the first time and user. Errc::not_found: unknown, or for none of its roles.
  // The role alone decides: holding a notify role means holding a role in its workflow.
  Result<NotificationRecord> acknowledge(const Actor& actor, const std::string& id);

  // Appends audit rows in their own transaction, stamping each `at` left 0 with now: the reads
  // the API answers with sensitive fields, and failed logins (case writes are audited by the
  // store itself, in their own transaction).
  Result<void> audit(std::vector<AuditRecord> records);
  // A page of the audit trail. Errc::forbidden unless the actor holds the 'auditor' role.
  Result<AuditPage> audit_page(const Actor& actor, const AuditQuery& query);

  // Which cases callers may see (object-level authorisation, core/access.hpp). Set before
  // serving.
  void set_access_policy(AccessPolicy policy) { access_ = policy; }

  const TimeZone& zone() const { return zone_; }
  Timestamp now() const { return clock_.now(); }

  Result<CasePage> list_cases(const Actor& actor, const CaseQuery& query);
  Result<HistoryPage> history(const Actor& actor, const std::string& id, std::size_t limit,
                              const std::optional<std::string>& cursor);
  // The case's whole history, oldest first (every page): for the schedule sheet and the graph.
  Result<std::vector<HistoryEntry>> whole_history(const Actor& actor, const std::string& id);

  // The events this actor may fire now, with what is missing for each.
  Result<std::vector<EventOption>> transitions(const Actor& actor, const std::string& id);

  // The workflow version a case runs on. Errc::unavailable (workflow-version-not-loaded) when it
  // is not loaded: another process migrated the case to a version this one has not read.
  Result<std::shared_ptr<const Workflow>> workflow_of(const CaseRecord& record) const;

  const WorkflowRegistry& workflows() const { return workflows_; }

  // Runs one claimed outbox job and records how it ended (see Store::finish_job): its output in
  // the case, a task when it is pending, a retry with backoff, or an incident when retries run
  // out. Errors are storage errors only; a failing step is an outcome, not an error.
  Result<void> run_job(const OutboxJob& job);

  // Completes an open task with data for the case (fields the workflow declares), then fires the
  // step's on_complete event, if any, as the engine. The token is the credential: whoever holds
  // it may complete the task. Errc::not_found: unknown token; Errc::conflict: already closed.
  Result<CaseRecord> complete_task(const Actor& actor, const std::string& token,
                                   const boost::json::object& data,
                                   std::optional<std::string> comment);
  // Fails an open task: recorded in history, and an incident is opened on the case.
  Result<CaseRecord> fail_task(const Actor& actor, const std::string& token,
                               const std::string& reason);
  Result<std::vector<TaskRecord>> tasks(const Actor& actor, const std::string& id);
  Result<std::vector<IncidentRecord>> incidents(const Actor& actor, const std::string& id);
  Result<void> retry_incident(const Actor& actor, const std::string& id,
                              const std::string& incident_id);

  // Moves every case on `plan.from` of `plan.workflow` to `plan.to` (both must be loaded; the
  // plan checked by workflow::load_migration_plan), or with options.dry_run only says what would
  // happen. Each case moves in its own transaction with a `migrated` history entry naming the
  // plan and both versions; a case that cannot move (see migrate_case_data, and unfinished steps
  // or tasks) stays as it is and is reported. Errors are storage errors only; the cases moved
  // before one stay moved, and running the plan again goes on from there.
  Result<MigrationReport> migrate(const MigrationPlan& plan, const MigrationOptions& options);

  // Erases a case (crypto-shredding): destroys its data key, removes every field above
  // sensitivity `none` from its data, cancels its pending work, and records an "erased" history
  // entry and a "case.erase" audit row with `reason`, in one transaction; state, dates and
  // plain fields stay for statistics. Returns the case as it reads afterwards.
  // Errc::forbidden unless the actor holds 'admin'; Errc::not_found: unknown case;
  // Errc::conflict (case-erased): erased already.
  Result<CaseRecord> erase_case(const Actor& actor, const std::string& id,
                                const std::string& reason);

  // The retention job: removes from each case, and from its history payloads, the values of
  // fields whose `retain:` period has passed at `now` (see Field::retain), one transaction per
  // case with a "retention_applied" history entry and a "retention" audit row, both by
  // "system". Cases are found through the store's index on the anchor, in batches. Running it
  // again changes nothing. With `dry_run`, only counts. Errors are storage errors; the cases
  // done before one stay done.
  Result<RetentionReport> apply_retention(Timestamp now, bool dry_run = false);

  // Called after a commit that scheduled outbox jobs (the worker's wake-up).
  void set_on_scheduled(std::function<void()> wake) { on_scheduled_ = std::move(wake); }
  // Called after a commit that scheduled timers (the scheduler's wake-up).
  void set_on_timers(std::function<void()> wake) { on_timers_ = std::move(wake); }

 private:
  // Changes of one case through this runtime (fire, update_case) wait for each other instead of
  // racing to the commit, where all but one of a commit group would lose and be re-planned: the
  // case's stripe of these locks is held from reading the case to the commit. Changes of other
  // cases go on in parallel (two cases share a stripe by chance: one in 1,024). Another process
  // writing the same database is still kept apart by the version check and re-planning.
  std::unique_lock<std::mutex> lock_case(const std::string& id) const;
  mutable std::array<std::mutex, 1024> case_locks_{};

  struct CaseAndWorkflow {
    CaseRecord record{};
    std::shared_ptr<const Workflow> workflow{};
  };
  // Whether `actor` may know the case exists: a role in its workflow and the case within its
  // scope (core/access.hpp). The engine itself sees every case.
  bool may_see(const Actor& actor, const CaseRecord& record, const Workflow& workflow) const;
  // get_case, and the workflow version the case runs on.
  Result<CaseAndWorkflow> case_with_workflow(const Actor& actor, const std::string& id);

  // A change ready to commit: the new projection, its history entry and what it schedules.
  struct Prepared {
    CaseRecord after{};
    HistoryEntry entry{};
    CaseEffects effects{};
  };
  // Plans `event` on `record` for `actor` at `now`: the row, its steps, and the timers and clocks
  // it moves. `clocks` overrides the case's stored clocks (a timer that just updated one).
  Result<Prepared> prepare_transition(const Actor& actor, const CaseRecord& record,
                                      const Workflow& workflow, const std::string& event,
                                      const boost::json::object& data,
                                      const std::optional<std::string>& comment, Timestamp now,
                                      const std::vector<ClockRecord>* clocks = nullptr,
                                      const std::optional<std::string>& consent_override = {});
  // consent_given and consent_withdrawn: the case's consents change, its state and data do not.
  Result<Prepared> prepare_consent(const Actor& actor, const CaseRecord& record,
                                   const Workflow& workflow, ConsentAction action,
                                   const FireRequest& request, Timestamp now);
  Result<Prepared> prepare_adjustment(const Actor& actor, const CaseRecord& record,
                                      const Workflow& workflow, ClockAction action,
                                      const FireRequest& request, Timestamp now);
  // Adds the time rules' effects of a change to `effects`.
  Result<void> add_time_effects(const Workflow& workflow, const CaseRecord& after,
                                const std::optional<std::string>& event, bool entered,
                                std::span<const std::string> changed, Timestamp now,
                                CaseEffects& effects,
                                const std::vector<ClockRecord>* clocks = nullptr);
  // Runs the step calls of a transition in order (the source state's on_exit, the row's steps,
  // the target state's on_enter): synchronous ones now, merging their output into `data`;
  // asynchronous ones, and tasks of pending steps, become effects of the commit.
  Result<CaseEffects> run_steps(const Workflow& workflow, const CaseRecord& before,
                                const std::optional<std::string>& event,
                                const std::optional<std::string>& from, const std::string& to,
                                const Transition* row, std::size_t row_index,
                                boost::json::object& data, std::vector<std::string>& changed,
                                std::int64_t new_version, Timestamp now);
  void scheduled(const CaseEffects& effects) const;
  // Closes an open task as `status` ("completed", "failed") with a history entry `event` that
  // merges `data`; applied again to the fresh case when another change wins the race.
  Result<CaseRecord> close_task(const Actor& actor, const TaskRecord& task,
                                const std::string& status, const std::string& event,
                                const boost::json::object& data, std::optional<std::string> comment,
                                const std::optional<IncidentRecord>& incident);

  Store& store_;
  const Clock& clock_;
  const WorkflowRegistry& workflows_;
  TimeZone zone_;
  AccessPolicy access_{};
  std::function<void()> on_scheduled_;
  std::function<void()> on_timers_;
};

}  // namespace carepath::runtime
