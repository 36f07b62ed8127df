// The operator's endpoints beside /healthz: GET /readyz (may this instance take traffic?) and
// GET /metrics (Prometheus text). Neither needs a token, and neither says anything about a case:
// docs/operations.md "Watching it".
#pragma once

#include "api/http.hpp"
#include "core/step.hpp"
#include "core/store.hpp"
#include "runtime/registry.hpp"

namespace carepath::api {

// 200 {"status": "ready", "checks": {"database": "ok", "workflows": "ok", "plugins": "ok"}} when
// the database answers a trivial query, at least one workflow is loaded and every configured
// plugin loaded; otherwise 503 with the same shape, "status": "not ready" and "failed" beside
// each failing check (the reason is logged, not answered). `steps` may be null (no plugins).
HttpReply readiness_reply(Store& store, const runtime::WorkflowRegistry& workflows,
                          const StepCatalog* steps);

// The engine's counters and histograms (core/metrics.hpp) followed by the gauges read from the
// store now: open cases by workflow and state (states final in the workflow's latest loaded
// version are left out), outbox depth, open incidents, pending timers, breached clocks. When the
// store cannot answer, the gauges are left out and the reply is still 200 (the scrape should
// not fail because of the database; /readyz reports that).
HttpReply metrics_reply(Store& store, const runtime::WorkflowRegistry& workflows);

// The `method` label of the HTTP metrics: the method when it is one the API knows, else
// "other", so that a client inventing methods cannot add series.
std::string_view method_label(std::string_view method);

// Counts one answered request in the HTTP metrics.
void count_request(std::string_view route, std::string_view method, int status, double seconds);

}  // namespace carepath::api
