// The routes of the REST API: from a parsed request to a reply, calling the runtime. No Beast
// here; server.cpp owns the wire.
#pragma once

#include "api/http.hpp"
#include "core/step.hpp"
#include "core/store.hpp"
#include "runtime/runtime.hpp"

namespace carepath::api {

// Thread-safety: handle() may be called concurrently; a Router holds no per-request state.
class Router {
 public:
  // `store` is used for token lookups only; case data goes through `runtime`.
  // `steps` (may be null) answers GET /v1/plugins.
  Router(runtime::Runtime& runtime, Store& store, const StepCatalog* steps = nullptr);

  // Answers one request. Calls the runtime synchronously, so it blocks on the store. Errors
  // become problem replies; an exception (a bug, or bad_alloc) propagates for the caller to turn
  // into a 500.
  HttpReply handle(const HttpRequest& request) const;

 private:
  runtime::Runtime& runtime_;
  Store& store_;
  const StepCatalog* steps_;
};

}  // namespace carepath::api
