#include "app/engine.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/webhook.hpp"
#include "app/zoneinfo.hpp"
#include "core/log.hpp"
#include "runtime/builtin_steps.hpp"
#include "security/digest.hpp"
#include "security/protected_store.hpp"
#include "store/sqlite_store.hpp"
#include "workflow/loader.hpp"
#include "workflow/migration_plan.hpp"

namespace carepath::app {
namespace {

namespace fs = std::filesystem;

std::string error_lines(const std::vector<workflow::Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    if (d.severity != workflow::Severity::error) {
      continue;
    }
    if (!out.empty()) {
      out += '\n';
    }
    out += workflow::to_string(d);
  }
  return out;
}

void log_warnings(const std::vector<workflow::Diagnostic>& diagnostics) {
  for (const auto& d : diagnostics) {
    if (d.severity == workflow::Severity::warning) {
      log(LogLevel::warning, workflow::to_string(d));
    }
  }
}

// The loader leaves sha256 to us: it is the identity of a (workflow, version) in the store.
std::shared_ptr<const Workflow> with_digest(const workflow::LoadResult& loaded) {
  auto copy = std::make_shared<Workflow>(*loaded.workflow);
  copy->sha256 = security::sha256_hex(loaded.source);
  return copy;
}

// carepath-plugin-host: as configured, else beside the running carepath binary.
fs::path plugin_host_program(const Config& config) {
  if (!config.plugin_host.empty()) {
    return config.plugin_host;
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return "carepath-plugin-host";
  }
  return self.parent_path() / "carepath-plugin-host";
}

}  // namespace

std::unique_ptr<plugin_host::Registry> load_steps(const Config& config) {
  auto steps = std::make_unique<plugin_host::Registry>();
  // Built-in names are reserved ("core."), so adding them to a fresh registry cannot clash.
  (void)steps->add(runtime::make_core_set());
  (void)steps->add(runtime::make_core_assign());
  (void)steps->add(api::make_core_webhook(config.webhook_secret));
  plugin_host::CallPolicy policy;
  policy.step_timeout_ms = config.step_timeout_ms;
  for (const auto& [file, settings] : config.plugin_settings) {
    policy.plugins[file] = plugin_host::PluginSettings{
        settings.isolated ? plugin_host::Isolation::process : plugin_host::Isolation::in_process,
        settings.timeout_ms};
  }
  policy.host_executable = plugin_host_program(config);
  steps->set_policy(std::move(policy));
  plugin_host::Allowlist allow{config.plugin_allowlist};
  for (const auto& dir : config.plugins) {
    // The engine runs with the plugins that are good; each refusal is logged by the registry.
    (void)steps->load_directory(dir, config.plugin_allowlist.empty() ? nullptr : &allow);
  }
  (void)steps->check_settings();  // a misspelt file name would lose its isolation silently
  return steps;                   // each load and refusal was logged by the registry
}

namespace {

// The *.yaml / *.yml files of `dir`, sorted by name.
Result<std::vector<fs::path>> workflow_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error{Errc::invalid_argument, "workflows directory '" + dir + "' does not exist"};
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
      files.push_back(entry.path());
    }
  }
  if (ec) {
    return Error{Errc::invalid_argument, "workflows directory '" + dir + "': " + ec.message()};
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> error_list(const std::vector<workflow::Diagnostic>& diagnostics) {
  std::vector<std::string> out;
  for (const auto& d : diagnostics) {
    if (d.severity == workflow::Severity::error) {
      out.push_back(workflow::to_string(d));
    }
  }
  return out;
}

// One file of the workflows directory, judged on its own. `workflow` is set while the file may
// still be recorded ("added" pending, or "unchanged").
struct Judged {
  ReloadItem item;
  std::string source;
  std::shared_ptr<const Workflow> workflow;
};

// Loads every file of `dir` and judges it against the others and against `registry`. When
// `replace_loaded` is false (a reload), a file that changes the text of a loaded version is
// refused; at start-up the store decides (it replaces a version no case uses).
Result<std::vector<Judged>> judge_directory(const std::string& dir,
                                            const runtime::WorkflowRegistry& registry,
                                            const StepCatalog* steps, bool replace_loaded) {
  auto files = workflow_files(dir);
  if (!files) {
    return files.error();
  }
  std::vector<Judged> judged;
  std::map<std::pair<std::string, int>, std::vector<std::size_t>> by_key;
  for (const auto& file : *files) {
    Judged j;
    j.item.file = file.string();
    auto loaded = workflow::load_workflow_file(file, steps);
    log_warnings(loaded.diagnostics);
    if (!loaded.ok()) {
      j.item.status = "refused";
      j.item.errors = error_list(loaded.diagnostics);
      judged.push_back(std::move(j));
      continue;
    }
    j.workflow = with_digest(loaded);
    j.source = std::move(loaded.source);
    j.item.workflow = j.workflow->name;
    j.item.version = j.workflow->version;
    const auto current = registry.find(j.workflow->name, j.workflow->version);
    if (current && current->sha256 == j.workflow->sha256) {
      j.item.status = "unchanged";
    } else if (current && !replace_loaded) {
      j.item.status = "refused";
      j.item.errors.push_back(
          j.item.file + ":1:1: error: workflow '" + j.item.workflow + "' version " +
          std::to_string(j.item.version) +
          " is already loaded with other text; a loaded version is never replaced while the "
          "engine runs, even when no case uses it: raise `version` to add the change beside it");
      j.workflow.reset();
    } else {
      j.item.status = "added";
    }
    by_key[{j.item.workflow, j.item.version}].push_back(judged.size());
    judged.push_back(std::move(j));
  }
  // Two files defining the same (workflow, version): neither is the right one to keep.
  for (const auto& [key, indexes] : by_key) {
    if (indexes.size() < 2) {
      continue;
    }
    for (const auto i : indexes) {
      auto& j = judged[i];
      for (const auto other : indexes) {
        if (other != i) {
          j.item.errors.push_back(j.item.file + ":1:1: error: workflow '" + key.first +
                                  "' version " + std::to_string(key.second) +
                                  " is also defined in " + judged[other].item.file);
        }
      }
      j.item.status = "refused";
      j.workflow.reset();
    }
  }
  return judged;
}

// Records an "added" file in the store, then registers it. On a store error the file is refused.
Result<void> record(Judged& j, Store& store, runtime::WorkflowRegistry& registry,
                    const Clock& clock) {
  auto put = store.put_workflow(WorkflowSource{j.workflow->name, j.workflow->version,
                                               j.workflow->sha256, j.source, clock.now()});
  if (!put) {
    j.item.status = "refused";
    j.item.errors.push_back(j.item.file + ":1:1: error: " + put.error().message);
    j.workflow.reset();
    return Error{put.error().code, j.item.errors.back()};
  }
  registry.add(j.workflow);
  return {};
}

}  // namespace

std::size_t ReloadReport::count(std::string_view status) const {
  return static_cast<std::size_t>(std::count_if(
      items.begin(), items.end(), [&](const ReloadItem& item) { return item.status == status; }));
}

boost::json::value to_json(const ReloadReport& report) {
  boost::json::array items;
  for (const auto& item : report.items) {
    boost::json::array errors;
    for (const auto& e : item.errors) {
      errors.emplace_back(e);
    }
    items.push_back(boost::json::object{
        {"file", item.file},
        {"workflow",
         item.workflow.empty() ? boost::json::value(nullptr) : boost::json::value(item.workflow)},
        {"version",
         item.version == 0 ? boost::json::value(nullptr) : boost::json::value(item.version)},
        {"status", item.status},
        {"errors", std::move(errors)}});
  }
  return boost::json::object{{"items", std::move(items)},
                             {"added", report.count("added")},
                             {"refused", report.count("refused")},
                             {"unchanged", report.count("unchanged")}};
}

Result<void> load_workflows(Store& store, runtime::WorkflowRegistry& registry,
                            const std::string& dir, const Clock& clock, const StepCatalog* steps) {
  auto stored = store.workflows();
  if (!stored) {
    return stored.error();
  }
  for (const auto& source : *stored) {
    const std::string label =
        "stored workflow " + source.name + " v" + std::to_string(source.version);
    auto loaded = workflow::load_workflow_text(source.source, label, steps);
    if (!loaded.ok()) {
      return Error{Errc::invalid_argument, label +
                                               " no longer loads; cases that use it cannot run:\n" +
                                               error_lines(loaded.diagnostics)};
    }
    registry.add(with_digest(loaded));
  }

  // Every file is judged before any is recorded, so a broken file stops the start untouched.
  auto judged = judge_directory(dir, registry, steps, /*replace_loaded=*/true);
  if (!judged) {
    return judged.error();
  }
  std::string errors;
  for (const auto& j : *judged) {
    for (const auto& e : j.item.errors) {
      errors += (errors.empty() ? "" : "\n") + e;
    }
  }
  if (!errors.empty()) {
    return Error{Errc::invalid_argument, errors};
  }
  for (auto& j : *judged) {
    if (j.item.status == "added") {
      if (auto recorded = record(j, store, registry, clock); !recorded) {
        return recorded.error();
      }
    }
    log(LogLevel::info, "workflow loaded",
        {{"workflow", j.item.workflow},
         {"version", std::to_string(j.item.version)},
         {"file", j.item.file}});
  }
  return {};
}

Result<std::unique_ptr<Engine>> Engine::open(const Config& config, const Clock* clock) {
  std::unique_ptr<Engine> engine(new Engine());
  if (clock == nullptr && !config.test_clock.empty()) {
    const Timestamp start = config.test_clock == "now"
                                ? engine->system_clock_.now()
                                : parse_datetime(config.test_clock).value_or(0);
    engine->test_clock_ = std::make_unique<ManualClock>(start);
    log(LogLevel::warning,
        "running on a test clock: time moves only through POST /v1/admin/clock; never use this "
        "for real cases",
        {{"now", format_timestamp(start)}});
  }
  const Clock* chosen = clock;
  if (chosen == nullptr) {
    chosen = engine->test_clock_ != nullptr ? static_cast<const Clock*>(engine->test_clock_.get())
                                            : &engine->system_clock_;
  }
  const Clock& the_clock = *chosen;
  auto zone = load_time_zone(config.timezone);
  if (!zone) {
    return Error{Errc::invalid_argument, "timezone: " + zone.error().message};
  }

  if (config.db != ":memory:") {
    const auto parent = fs::path(config.db).parent_path();
    std::error_code ec;
    if (!parent.empty()) {
      fs::create_directories(parent, ec);
      if (ec) {
        return Error{Errc::storage,
                     "cannot create database directory '" + parent.string() + "': " + ec.message()};
      }
    }
  }
  // The key first: without it nothing is opened, so a missing key never means plaintext.
  if (config.master_key.empty()) {
    return Error{Errc::invalid_argument,
                 "no master key: name the key file with --master-key FILE or "
                 "CAREPATH_MASTER_KEY_FILE (create one with `carepath keys init FILE`); "
                 "sensitive fields are stored encrypted under it"};
  }
  auto keys = security::KeyFile::open(config.master_key);
  if (!keys) {
    return keys.error();
  }
  auto store = store::SqliteStore::open(config.db, &security::sha256_hex);
  if (!store) {
    return store.error();
  }
  engine->sqlite_ = std::move(*store);
  if (auto checked = security::check_database_key(*engine->sqlite_, **keys); !checked) {
    return checked.error();
  }
  engine->store_ = std::make_unique<security::ProtectedStore>(
      *engine->sqlite_, std::move(*keys),
      [registry = &engine->registry_](const std::string& name, int version) {
        return registry->find(name, version);
      });
  engine->steps_ = load_steps(config);
  engine->workflows_dir_ = config.workflows;
  engine->clock_ = &the_clock;
  if (auto loaded = load_workflows(*engine->store_, engine->registry_, config.workflows, the_clock,
                                   engine->steps_.get());
      !loaded) {
    return loaded.error();
  }
  engine->runtime_ = std::make_unique<runtime::Runtime>(*engine->store_, the_clock,
                                                        engine->registry_, std::move(*zone));
  engine->worker_ = std::make_unique<runtime::StepWorker>(
      *engine->runtime_, *engine->store_, the_clock,
      runtime::WorkerOptions{config.step_workers, config.step_lease_ms, 1'000});
  engine->runtime_->set_access_policy(AccessPolicy{config.own_cases_only});
  engine->runtime_->set_on_scheduled([worker = engine->worker_.get()] { worker->wake(); });
  engine->scheduler_ = std::make_unique<runtime::TimerScheduler>(
      *engine->runtime_, *engine->store_, the_clock,
      runtime::SchedulerOptions{config.step_lease_ms, 1'000, 64});
  engine->runtime_->set_on_timers([scheduler = engine->scheduler_.get()] { scheduler->wake(); });
  engine->retention_ = std::make_unique<runtime::RetentionJob>(*engine->runtime_, the_clock);
  if (!config.backup_dir.empty()) {
    engine->backup_ = make_backup_job(config, the_clock, engine->runtime_->zone());
  }
  api::ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.body_limit = config.body_limit;
  options.header_limit = config.header_limit;
  options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  options.request_timeout = std::chrono::milliseconds(config.request_timeout_ms);
  options.max_connections = config.max_connections;
  options.trusted_proxies = config.trusted_proxies;
  options.limits = api::RequestLimits{config.json_max_depth, config.json_max_members,
                                      config.json_max_string, config.auth_failures_per_minute};
  options.threads = config.threads;
  options.io_threads = config.io_threads;
  if (engine->test_clock_) {
    options.test_clock = api::TestClock{engine->test_clock_.get(), [engine = engine.get()] {
                                          engine->worker_->wake();
                                          engine->scheduler_->wake();
                                          engine->retention_->wake();
                                          if (engine->backup_) {
                                            engine->backup_->wake();
                                          }
                                        }};
  }
  options.reload_workflows = [engine = engine.get()]() -> Result<boost::json::value> {
    auto report = engine->reload();
    if (!report) {
      return report.error();
    }
    return to_json(*report);
  };
  options.run_migration = [engine = engine.get()](
                              std::string_view text, bool dry_run,
                              const Actor& actor) -> Result<boost::json::value> {
    auto plan = engine->read_plan(text, "plan");
    if (!plan) {
      return plan.error();
    }
    runtime::MigrationOptions run;
    run.dry_run = dry_run;
    run.actor = actor;
    auto report = engine->migrate(*plan, run);
    if (!report) {
      return report.error();
    }
    return runtime::to_json(*report);
  };
  engine->server_ = std::make_unique<api::Server>(options, *engine->runtime_, *engine->store_,
                                                  engine->steps_.get());
  return engine;
}

Result<std::uint16_t> Engine::start() {
  // Checked here, not at open: the one-shot commands that open the engine never back up.
  if (backup_) {
    if (auto checked = backup_->check(); !checked) {
      return checked.error();
    }
  }
  auto port = server_->start();
  if (port) {
    worker_->start();
    scheduler_->start();
    retention_->start();
    if (backup_) {
      backup_->start();
    }
  }
  return port;
}

Result<MigrationPlan> Engine::read_plan(std::string_view text, const std::string& file_name,
                                        std::vector<std::string>* warnings) const {
  const auto find = [this](const std::string& name, int version) {
    return version == 0 ? registry_.latest(name) : registry_.find(name, version);
  };
  auto loaded = workflow::load_migration_plan(text, file_name, find);
  boost::json::array errors;
  std::string message;
  for (const auto& d : loaded.diagnostics) {
    if (d.severity == workflow::Severity::warning) {
      if (warnings != nullptr) {
        warnings->push_back(workflow::to_string(d));
      }
      continue;
    }
    errors.emplace_back(workflow::to_string(d));
    message += (message.empty() ? "" : "\n") + workflow::to_string(d);
  }
  if (!loaded.ok()) {
    return Error{Errc::invalid_argument,
                 "the migration plan has errors:\n" + message,
                 {{"errors", std::move(errors)}},
                 "invalid-migration-plan"};
  }
  return std::move(*loaded.plan);
}

Result<runtime::MigrationReport> Engine::migrate(const MigrationPlan& plan,
                                                 const runtime::MigrationOptions& options) {
  std::unique_lock lock(migrate_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Error{Errc::conflict,
                 "another migration is running in this engine; try again when it has finished",
                 {},
                 "migration-in-progress"};
  }
  return runtime_->migrate(plan, options);
}

Result<ReloadReport> Engine::reload() {
  std::lock_guard lock(reload_mutex_);
  // Versions another process recorded since this one started (`carepath migrate` records those
  // of its workflows directory, and may already have moved cases onto them).
  if (auto stored = store_->workflows()) {
    for (const auto& source : *stored) {
      if (registry_.find(source.name, source.version)) {
        continue;
      }
      const std::string label =
          "stored workflow " + source.name + " v" + std::to_string(source.version);
      auto loaded = workflow::load_workflow_text(source.source, label, steps_.get());
      if (!loaded.ok()) {
        log(LogLevel::error, "stored workflow no longer loads",
            {{"workflow", source.name}, {"version", std::to_string(source.version)}});
        continue;
      }
      registry_.add(with_digest(loaded));
      log(LogLevel::info, "workflow loaded from the database",
          {{"workflow", source.name}, {"version", std::to_string(source.version)}});
    }
  }
  auto judged = judge_directory(workflows_dir_, registry_, steps_.get(), /*replace_loaded=*/false);
  if (!judged) {
    return judged.error();
  }
  ReloadReport report;
  for (auto& j : *judged) {
    if (j.item.status == "added") {
      // A store error refuses this file only; the report says why.
      (void)record(j, *store_, registry_, *clock_);
    }
    report.items.push_back(std::move(j.item));
  }
  return report;
}

void Engine::stop() {
  server_->stop();
  if (backup_) {
    backup_->stop();
  }
  retention_->stop();
  scheduler_->stop();
  worker_->stop();
}

Engine::~Engine() {
  if (server_) {
    stop();
  }
}

}  // namespace carepath::app
