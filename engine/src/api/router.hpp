// The routes of the REST API: from a parsed request to a reply, calling the runtime. No Beast
// here; server.cpp owns the wire.
#pragma once

#include <functional>
#include <memory>

#include <boost/json/value.hpp>

#include "api/http.hpp"
#include "api/rate_limit.hpp"
#include "core/actor.hpp"
#include "core/step.hpp"
#include "core/store.hpp"
#include "core/time.hpp"
#include "runtime/runtime.hpp"

namespace carepath::api {

// The engine's clock when it runs on `test_clock` (tests, training): POST /v1/admin/clock moves
// it, then calls `moved` so that timers due by then fire. Absent (null) on real time.
struct TestClock {
  ManualClock* clock = nullptr;
  std::function<void()> moved{};
};

// Reads the workflows directory again (POST /v1/admin/workflows/reload) and answers with the
// report. Absent (null) when the server has no engine behind it: the route answers 404.
// Called on an I/O thread while other requests run; it must serialise itself.
using ReloadWorkflows = std::function<Result<boost::json::value>()>;

// Runs a migration plan (POST /v1/admin/migrations): the plan's text (YAML or JSON), whether it
// is a dry run, and who asks. Answers with the report. Absent (null) when the server has no
// engine behind it: the route answers 404.
using RunMigration = std::function<Result<boost::json::value>(std::string_view plan, bool dry_run,
                                                              const Actor& actor)>;

// Limits on what a request may ask of the router (docs/rest-api.md "Limits").
struct RequestLimits {
  std::size_t json_max_depth = 32;      // nesting of arrays and objects in a request body
  std::size_t json_max_members = 1000;  // members of one object, items of one array
  std::size_t json_max_string = std::size_t{64} * 1024;  // characters of one string or key
  // Failed authentications per minute from one address; a presented token id gets half (at
  // least 1). Then 429 with Retry-After until the minute ends.
  int auth_failures_per_minute = 10;
};

// The route template of a request path as docs/openapi.yaml writes it ("/v1/cases/{id}/events"),
// or "unmatched": what the HTTP metrics and the access log name instead of the path, which may
// hold ids.
std::string_view route_template(std::string_view path);

// Thread-safety: handle() may be called concurrently; a Router holds no per-request state
// except the failed-authentication counts, which are thread-safe.
class Router {
 public:
  // `store` is used for token lookups only; case data goes through `runtime`.
  // `steps` (may be null) answers GET /v1/plugins.
  Router(runtime::Runtime& runtime, Store& store, const StepCatalog* steps = nullptr,
         TestClock test_clock = {}, ReloadWorkflows reload_workflows = {},
         RunMigration run_migration = {}, RequestLimits limits = {});

  // Answers one request. Calls the runtime synchronously, so it blocks on the store. Errors
  // become problem replies; an exception (a bug, or bad_alloc) propagates for the caller to turn
  // into a 500.
  HttpReply handle(const HttpRequest& request) const;

 private:
  runtime::Runtime& runtime_;
  Store& store_;
  const StepCatalog* steps_;
  TestClock test_clock_;
  ReloadWorkflows reload_workflows_;
  RunMigration run_migration_;
  RequestLimits limits_;
  std::shared_ptr<FailureLimiter> address_failures_;
  std::shared_ptr<FailureLimiter> token_failures_;
};

}  // namespace carepath::api
