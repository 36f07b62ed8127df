// A Store that encrypts what it is given before the store underneath writes it, and decrypts what
// it reads: every field a workflow marks `identifying`, `sensitive` or `privileged`, in the case
// data and in history payloads, history comments (free text), and the remembered answers of
// idempotent requests. Each case has its own data key, wrapped by the master key; the rest of the
// engine sees plain values and never a key.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/model.hpp"
#include "core/store.hpp"
#include "security/crypto.hpp"

namespace carepath::security {

// The keyring of a master key file, read again when the file changes (looked at no more than
// every few seconds) or a data key names a master key it does not hold: `carepath keys rotate`
// adds a key while the engine runs, and the engine starts wrapping new cases' keys with it.
//
// Thread-safety: every member function may be called from any thread.
class KeyFile {
 public:
  // Errc::invalid_argument when the file cannot be read (see load_key_file).
  static Result<std::shared_ptr<KeyFile>> open(const std::string& path);

  std::shared_ptr<const Keyring> keyring() const;
  // Reads the file again; keeps the keys it had when the file is now unreadable.
  Result<void> reload();
  const std::string& path() const { return path_; }

 private:
  KeyFile(std::string path, Keyring keyring);

  std::string path_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const Keyring> keyring_;  // GUARDED_BY(mutex_)
  mutable std::int64_t checked_at_ms_ = 0;          // GUARDED_BY(mutex_): steady clock
  mutable std::int64_t file_mtime_ns_ = 0;          // GUARDED_BY(mutex_)
};

// The compiled version `version` of workflow `name`, or null.
using WorkflowLookup =
    std::function<std::shared_ptr<const Workflow>(const std::string& name, int version)>;

// Checks that `keys` is the key file this database was sealed with: the first time, records a
// check value wrapped by the current master key; afterwards opens it. Errc::unauthenticated names
// the key id the database expects. Errc::conflict when the database holds cases written before
// encryption (they would be served in plaintext).
Result<void> check_database_key(Store& store, const KeyFile& keys);

struct Rotation {
  std::string key_id{};        // the new master key's
  std::int64_t rewrapped = 0;  // case data keys re-wrapped with it
};

// `carepath keys rotate`: checks that `keys` opens the database, adds a new master key at the
// top of the key file (the older ones stay, below, so that keys wrapped by them still open), then
// re-wraps every case's data key, the blind index key and the key check with it, in batches and
// with conditional updates, so that engines may keep running. Errors name how far it got;
// running it again goes on.
Result<Rotation> rotate_master_key(Store& store, KeyFile& keys);

// Thread-safety: as the store underneath; the data key cache is guarded.
class ProtectedStore final : public Store {
 public:
  // `inner` and `keys` must outlive this object; `workflows` says which fields are sensitive.
  ProtectedStore(Store& inner, std::shared_ptr<KeyFile> keys, WorkflowLookup workflows);

  Result<void> put_workflow(const WorkflowSource& source) override;
  Result<std::vector<WorkflowSource>> workflows() override;
  Result<void> create_case(const CaseRecord& record, const HistoryEntry& opened,
                           const CaseEffects& effects) override;
  Result<CaseRecord> get_case(const std::string& id) override;
  Result<void> update_case(const CaseRecord& after, std::int64_t expected_version,
                           const HistoryEntry& entry,
                           const std::optional<IdempotencyRecord>& idempotency,
                           const CaseEffects& effects) override;
  Result<CasePage> list_cases(const CaseQuery& query) override;
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
  Result<std::vector<TimerRecord>> claim_timers(Timestamp now, std::int64_t lease_ms,
                                                std::size_t limit,
                                                const std::string& owner) override;
  Result<std::optional<Timestamp>> next_timer_at() override;
  Result<void> finish_timer(const TimerFinish& finish) override;
  Result<std::vector<TimerRecord>> timers(const std::string& case_id) override;
  Result<std::vector<ClockRecord>> clocks(const std::string& case_id) override;
  Result<ClockPage> list_clocks(const ClockQuery& query) override;
  Result<NotificationPage> list_notifications(const NotificationQuery& query) override;
  Result<NotificationRecord> acknowledge_notification(const std::string& id,
                                                      const std::vector<std::string>& roles,
                                                      const std::string& user,
                                                      Timestamp at) override;
  Result<std::int64_t> pending_work(const std::string& case_id) override;
  Result<std::int64_t> count_cases_on_version(const std::string& workflow, int version) override;
  Result<MigrationRun> start_migration(const MigrationRun& run) override;
  Result<void> finish_migration(const MigrationRun& run) override;
  // Each case gets a new data key, wrapped by the current master key; its data and every history
  // entry are sealed, and its blind index, holder and placement computed, as create_case and
  // update_case do. Errc::invalid_argument when a case's workflow version is not known.
  Result<std::vector<std::string>> existing_codes(const std::vector<std::string>& codes) override;
  Result<ImportBatch> prepare_import(std::vector<ImportedCase> cases) override;
  Result<void> write_import(const ImportBatch& batch, const std::string& importer,
                            Timestamp at) override;
  Result<std::optional<std::string>> setting(const std::string& name) override;
  Result<void> put_setting(const std::string& name, const std::string& value) override;
  Result<std::int64_t> count_cases_without_key() override;
  Result<StoreGauges> gauges() override;
  Result<void> ping() override;
  Result<std::vector<std::pair<std::string, std::string>>> data_keys_not_wrapped_by(
      const std::string& master_id, std::size_t limit) override;
  Result<void> replace_data_key(const std::string& case_id, const std::string& old_key,
                                const std::string& new_key) override;
  // An erased case has no key: the change carries no sealed values (any left are dropped).
  Result<void> erase_case(const CaseChange& change, const CaseEffects& effects) override;
  Result<CasePage> list_retention_due(const RetentionQuery& query) override;
  Result<std::vector<std::int64_t>> strip_fields(const CaseChange& change,
                                                 const std::vector<std::string>& fields,
                                                 const CaseEffects& effects) override;
  // The audit trail holds names, never values: forwarded as it is.
  Result<void> append_audit(const std::vector<AuditRecord>& records) override;
  Result<AuditPage> audit_page(const AuditQuery& query) override;

  // Reports: aggregates, codes, placements and assignees, all plaintext columns; passed through.
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
  Result<void> revoke_token(const std::string& id, Timestamp at) override;
  Result<std::vector<TokenRecord>> tokens() override;

 private:
  // The data key a wrapped key opens to, from the cache or the key file.
  Result<KeyBytes> data_key(const std::string& case_id, const std::string& wrapped);
  // The key of the blind index (kept wrapped in the database's settings), read once.
  Result<KeyBytes> index_key();
  // The names of the fields of (workflow, version) that are sealed.
  std::vector<std::string> sealed_fields(const std::string& workflow, int version) const;

  Result<void> seal_case(CaseRecord& record, HistoryEntry* entry);
  Result<void> seal_change(CaseChange& change);
  Result<void> open_case(CaseRecord& record);
  Result<void> open_entry(const std::string& case_id, const KeyBytes& key, HistoryEntry& entry);

  Store& inner_;
  std::shared_ptr<KeyFile> keys_;
  WorkflowLookup workflows_;
  std::mutex cache_mutex_;
  std::unordered_map<std::string, KeyBytes> cache_;  // GUARDED_BY(cache_mutex_)
  std::optional<KeyBytes> index_key_;                // GUARDED_BY(cache_mutex_)
};

}  // namespace carepath::security
