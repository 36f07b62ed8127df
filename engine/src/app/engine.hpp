// Wiring: config -> store, workflows, runtime and HTTP server, as `carepath serve` runs them.
// Integration tests boot the same way.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "api/server.hpp"
#include "app/backup_job.hpp"
#include "app/config.hpp"
#include "core/migration.hpp"
#include "core/store.hpp"
#include "core/time.hpp"
#include "plugin_host/registry.hpp"
#include "runtime/registry.hpp"
#include "runtime/retention_job.hpp"
#include "runtime/runtime.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/worker.hpp"

namespace carepath::app {

// What one reload did with one file of the workflows directory.
struct ReloadItem {
  std::string file;
  std::string workflow;               // empty when the file did not load far enough to name it
  int version = 0;                    // 0 likewise
  std::string status;                 // "added", "unchanged" or "refused"
  std::vector<std::string> errors{};  // "FILE:LINE:COL: error: ..." lines; only when refused
};

// What Engine::reload() did, one item per *.yaml / *.yml file, ordered by file name.
struct ReloadReport {
  std::vector<ReloadItem> items;

  std::size_t count(std::string_view status) const;
};

// {"items": [{"file", "workflow", "version", "status", "errors"}], "added", "refused",
// "unchanged"}: the answer of POST /v1/admin/workflows/reload.
boost::json::value to_json(const ReloadReport& report);

// Loads the workflows stored in `store` (cases may run on versions whose file is gone), then every
// *.yaml / *.yml file in `dir`, recording new sources in the store. Any error in any file refuses
// the whole load, with one `FILE:LINE:COL: error: ...` line per problem in the message; warnings
// are logged.
Result<void> load_workflows(Store& store, runtime::WorkflowRegistry& registry,
                            const std::string& dir, const Clock& clock, const StepCatalog* steps);

// The step catalog the engine runs with: the built-in core.* steps, then every plugin in the
// configured directories. A plugin that is refused is logged and left out; the rest load.
std::unique_ptr<plugin_host::Registry> load_steps(const Config& config);

class Engine {
 public:
  // Opens the database (creating its directory), loads the time zone and workflows, prepares the
  // server. `clock` may be null for the system clock (or the test clock `config.test_clock`
  // asks for); when given it must outlive the engine.
  static Result<std::unique_ptr<Engine>> open(const Config& config, const Clock* clock = nullptr);

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  Engine(Engine&&) = delete;
  Engine& operator=(Engine&&) = delete;

  // Starts the HTTP server, the step workers, the timer scheduler, the daily retention job and
  // the daily backup (Errc::invalid_argument when backup_dir is set but is not a directory).
  Result<std::uint16_t> start();
  // Stops accepting requests, lets those in flight finish, then lets running steps finish.
  void stop();

  // Reads the workflows directory again and judges each file on its own: a new (workflow,
  // version) is recorded and registered beside the versions already loaded ("added"); a file
  // identical to a loaded version is "unchanged"; a file with errors, a file that changes the
  // text of a loaded version (even one no case uses: a loaded version is never replaced at run
  // time) and two files defining the same (workflow, version) are "refused", and nothing of
  // them is recorded. Versions another process recorded in the database meanwhile (carepath
  // migrate does) are registered too. Plugins are not reloaded. An error only when the directory
  // cannot be read.
  // Thread-safety: may be called from any thread while requests run; reloads are serialised.
  Result<ReloadReport> reload();

  // Reads a migration plan (`file_name` is for messages) and checks it against the loaded
  // workflows. Errc::invalid_argument, type invalid-migration-plan, with details.errors holding
  // one "FILE:LINE:COL: error: ..." line per problem. `warnings` (may be null) gets the
  // plan's warnings in the same form.
  Result<MigrationPlan> read_plan(std::string_view text, const std::string& file_name,
                                  std::vector<std::string>* warnings = nullptr) const;
  // Runs a plan (see Runtime::migrate). One migration at a time: Errc::conflict, type
  // migration-in-progress, while another runs in this engine.
  Result<runtime::MigrationReport> migrate(const MigrationPlan& plan,
                                           const runtime::MigrationOptions& options);

  Store& store() { return *store_; }
  runtime::Runtime& runtime() { return *runtime_; }
  runtime::WorkflowRegistry& registry() { return registry_; }
  runtime::StepWorker& worker() { return *worker_; }
  runtime::TimerScheduler& scheduler() { return *scheduler_; }
  const plugin_host::Registry& steps() const { return *steps_; }

 private:
  Engine() = default;

  std::string workflows_dir_;
  const Clock* clock_ = nullptr;
  std::mutex reload_mutex_;   // one reload at a time
  std::mutex migrate_mutex_;  // one migration at a time

  // Destroyed in reverse order: the server and workers stop before what they use goes away, and
  // the plugin libraries are released last.
  SystemClock system_clock_;
  std::unique_ptr<ManualClock> test_clock_;
  std::unique_ptr<plugin_host::Registry> steps_;
  std::unique_ptr<Store> sqlite_;  // the database
  std::unique_ptr<Store> store_;   // the same, sealing sensitive values (security/protected_store)
  runtime::WorkflowRegistry registry_;
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<runtime::StepWorker> worker_;
  std::unique_ptr<runtime::TimerScheduler> scheduler_;
  std::unique_ptr<runtime::RetentionJob> retention_;  // at start-up, then daily
  std::unique_ptr<BackupJob> backup_;                 // daily, when backup_dir is set
  std::unique_ptr<api::Server> server_;
};

}  // namespace carepath::app
