// The HTTP server of the REST API. Beast and Asio stay behind a pimpl so that code including
// this header (app/, tests) does not compile them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/router.hpp"
#include "core/error.hpp"
#include "core/step.hpp"
#include "core/store.hpp"
#include "runtime/runtime.hpp"

namespace carepath::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port; start() returns the one bound
  std::size_t body_limit =
      std::size_t{1024} * 1024;  // larger bodies get 413 and the connection is closed
  int threads = 64;              // request threads: they run the handlers and wait for commits
  int io_threads = 2;  // I/O threads: they accept, read, parse and write; a few are enough
  std::size_t header_limit = std::size_t{16} * 1024;  // larger headers get 431
  // A request head must arrive within header_timeout of the connection being ready for it, the
  // whole request within request_timeout: else 408 and close (an idle connection that sent
  // nothing of a next request is just closed).
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
  // Connections over this many get 503 with Retry-After: 1 and are closed.
  int max_connections = 256;
  // Reverse proxies whose X-Forwarded-For names the client (api/http.hpp client_address).
  std::vector<std::string> trusted_proxies{};
  RequestLimits limits{};              // JSON shape of request bodies; failed-authentication counts
  TestClock test_clock{};              // set only when the engine runs on `test_clock`
  ReloadWorkflows reload_workflows{};  // POST /v1/admin/workflows/reload; 404 when unset
  RunMigration run_migration{};        // POST /v1/admin/migrations; 404 when unset
};

// HTTP/1.1 with keep-alive; one strand per connection. `io_threads` threads read and write;
// a request read whole goes to one of `threads` request threads, which calls the runtime
// synchronously (and may wait for a commit), and its answer comes back to the connection's
// strand to be written. GET /healthz, which touches no store, is answered on the I/O thread.
//
// Thread-safety: start() and stop() are called by the owner, from one thread at a time, never
// from a request handler.
class Server {
 public:
  // `runtime` and `store` (used for token lookups) must outlive the server.
  // `steps` (may be null) is listed by GET /v1/plugins.
  Server(ServerOptions options, runtime::Runtime& runtime, Store& store,
         const StepCatalog* steps = nullptr);
  ~Server();  // stops if running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  Server(Server&&) = delete;
  Server& operator=(Server&&) = delete;

  // Binds, listens and starts the I/O and request threads; returns the bound port.
  // Errc::unavailable when it cannot listen (the message says host:port and why); Errc::conflict
  // when already started. A stopped server cannot be started again.
  Result<std::uint16_t> start();

  // Stops accepting, closes idle keep-alive connections, lets requests being answered finish
  // (up to 10 s), then joins the threads. A request still being received is cut off. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace carepath::api
