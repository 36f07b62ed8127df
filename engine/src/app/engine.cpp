#include "app/engine.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "api/webhook.hpp"
#include "app/zoneinfo.hpp"
#include "core/log.hpp"
#include "runtime/builtin_steps.hpp"
#include "security/digest.hpp"
#include "store/sqlite_store.hpp"
#include "workflow/loader.hpp"

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

}  // namespace

std::unique_ptr<plugin_host::Registry> load_steps(const Config& config) {
  auto steps = std::make_unique<plugin_host::Registry>();
  // Built-in names are reserved ("core."), so adding them to a fresh registry cannot clash.
  (void)steps->add(runtime::make_core_set());
  (void)steps->add(runtime::make_core_assign());
  (void)steps->add(api::make_core_webhook(config.webhook_secret));
  plugin_host::Allowlist allow{config.plugin_allowlist};
  for (const auto& dir : config.plugins) {
    // The engine runs with the plugins that are good; each refusal is logged by the registry.
    (void)steps->load_directory(dir, config.plugin_allowlist.empty() ? nullptr : &allow);
  }
  return steps;  // each load and refusal was logged by the registry
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

  // Validate every file before recording any, so a broken file never half-applies a reload.
  std::string errors;
  std::vector<std::pair<fs::path, workflow::LoadResult>> good;
  std::map<std::pair<std::string, int>, fs::path> seen;
  for (const auto& file : files) {
    auto loaded = workflow::load_workflow_file(file, steps);
    log_warnings(loaded.diagnostics);
    if (!loaded.ok()) {
      errors += (errors.empty() ? "" : "\n") + error_lines(loaded.diagnostics);
      continue;
    }
    const auto key = std::make_pair(loaded.workflow->name, loaded.workflow->version);
    if (auto [it, inserted] = seen.emplace(key, file); !inserted) {
      errors += (errors.empty() ? "" : "\n") + file.string() + ":1:1: error: workflow '" +
                key.first + "' version " + std::to_string(key.second) + " is also defined in " +
                it->second.string();
      continue;
    }
    good.emplace_back(file, std::move(loaded));
  }
  if (!errors.empty()) {
    return Error{Errc::invalid_argument, errors};
  }
  for (auto& [file, loaded] : good) {
    auto workflow = with_digest(loaded);
    auto put = store.put_workflow(WorkflowSource{workflow->name, workflow->version,
                                                 workflow->sha256, loaded.source, clock.now()});
    if (!put) {
      return Error{put.error().code, file.string() + ":1:1: error: " + put.error().message};
    }
    log(LogLevel::info, "workflow loaded",
        {{"workflow", workflow->name},
         {"version", std::to_string(workflow->version)},
         {"file", file.string()}});
    registry.add(std::move(workflow));
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
  auto store = store::SqliteStore::open(config.db);
  if (!store) {
    return store.error();
  }
  engine->store_ = std::move(*store);
  engine->steps_ = load_steps(config);
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
  engine->runtime_->set_on_scheduled([worker = engine->worker_.get()] { worker->wake(); });
  engine->scheduler_ = std::make_unique<runtime::TimerScheduler>(
      *engine->runtime_, *engine->store_, the_clock,
      runtime::SchedulerOptions{config.step_lease_ms, 1'000, 64});
  engine->runtime_->set_on_timers([scheduler = engine->scheduler_.get()] { scheduler->wake(); });
  api::ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.body_limit = config.body_limit;
  options.threads = config.threads;
  if (engine->test_clock_) {
    options.test_clock = api::TestClock{engine->test_clock_.get(), [engine = engine.get()] {
                                          engine->worker_->wake();
                                          engine->scheduler_->wake();
                                        }};
  }
  engine->server_ = std::make_unique<api::Server>(options, *engine->runtime_, *engine->store_,
                                                  engine->steps_.get());
  return engine;
}

Result<std::uint16_t> Engine::start() {
  auto port = server_->start();
  if (port) {
    worker_->start();
    scheduler_->start();
  }
  return port;
}

void Engine::stop() {
  server_->stop();
  scheduler_->stop();
  worker_->stop();
}

Engine::~Engine() {
  if (server_) {
    stop();
  }
}

}  // namespace carepath::app
