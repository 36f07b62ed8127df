// Wiring: config -> store, workflows, runtime and HTTP server, as `carepath serve` runs them.
// Integration tests boot the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/server.hpp"
#include "app/config.hpp"
#include "core/store.hpp"
#include "core/time.hpp"
#include "runtime/registry.hpp"
#include "runtime/runtime.hpp"

namespace carepath::app {

// Loads the workflows stored in `store` (cases may run on versions whose file is gone), then every
// *.yaml / *.yml file in `dir`, recording new sources in the store. Any error in any file refuses
// the whole load, with one `FILE:LINE:COL: error: ...` line per problem in the message; warnings
// are logged.
Result<void> load_workflows(Store& store, runtime::WorkflowRegistry& registry,
                            const std::string& dir, const Clock& clock);

class Engine {
 public:
  // Opens the database (creating its directory), loads workflows, prepares the server.
  // `clock` may be null for the system clock; when given it must outlive the engine.
  static Result<std::unique_ptr<Engine>> open(const Config& config, const Clock* clock = nullptr);

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Result<std::uint16_t> start() { return server_->start(); }
  void stop() { server_->stop(); }

  Store& store() { return *store_; }
  runtime::Runtime& runtime() { return *runtime_; }
  runtime::WorkflowRegistry& registry() { return registry_; }

 private:
  Engine() = default;

  SystemClock system_clock_;
  std::unique_ptr<Store> store_;
  runtime::WorkflowRegistry registry_;
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<api::Server> server_;
};

}  // namespace carepath::app
