#include "api/health.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"

namespace carepath::api {

HttpReply readiness_reply(Store& store, const runtime::WorkflowRegistry& workflows,
                          const StepCatalog* steps) {
  bool ready = true;
  boost::json::object checks;
  const auto check = [&](std::string_view name, bool ok) {
    checks[name] = ok ? "ok" : "failed";
    ready = ready && ok;
  };
  const auto pinged = store.ping();
  if (!pinged) {
    log(LogLevel::warning, "not ready: the database does not answer",
        {{"error", pinged.error().message}});
  }
  check("database", pinged.has_value());
  check("workflows", !workflows.all().empty());
  const auto problems = steps != nullptr ? steps->load_problems() : std::vector<std::string>{};
  check("plugins", problems.empty());
  boost::json::object body;
  body["status"] = ready ? "ready" : "not ready";
  body["checks"] = std::move(checks);
  return json_reply(ready ? 200 : 503, body);
}

HttpReply metrics_reply(Store& store, const runtime::WorkflowRegistry& workflows) {
  std::string body = metrics::engine().render();
  auto gauges = store.gauges();
  if (gauges) {
    std::vector<metrics::GaugeSample> open;
    for (const auto& count : gauges->cases) {
      const auto workflow = workflows.latest(count.workflow);
      if (workflow) {
        const auto state = workflow->find_state(count.state);
        if (state && workflow->states[*state].final) {
          continue;
        }
      }
      open.push_back({{count.workflow, count.state}, static_cast<double>(count.count)});
    }
    metrics::render_gauge(body, "carepath_open_cases",
                          "Cases not in a final state, by workflow and state.",
                          {"workflow", "state"}, open);
    const auto single = [&body](std::string_view name, std::string_view help, std::int64_t value) {
      const std::vector<metrics::GaugeSample> samples{
          metrics::GaugeSample{{}, static_cast<double>(value)}};
      metrics::render_gauge(body, name, help, {}, samples);
    };
    single("carepath_outbox_depth", "Asynchronous step calls waiting to run.",
           gauges->outbox_pending);
    single("carepath_incidents_open", "Incidents not yet resolved.", gauges->incidents_open);
    single("carepath_timers_pending", "Timers and clock deadlines not yet fired.",
           gauges->timers_pending);
    single("carepath_clocks_breached", "Running statutory clocks past their deadline.",
           gauges->clocks_breached);
  } else {
    log(LogLevel::warning, "metrics: the store gauges are left out",
        {{"error", gauges.error().message}});
  }
  HttpReply reply;
  reply.status = 200;
  reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
  reply.body = std::move(body);
  return reply;
}

std::string_view method_label(std::string_view method) {
  for (const std::string_view known :
       {"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"}) {
    if (method == known) {
      return known;
    }
  }
  return "other";
}

void count_request(std::string_view route, std::string_view method, int status, double seconds) {
  auto& metrics = metrics::engine();
  const std::string_view label = method_label(method);
  metrics.http_requests.add({route, label, std::to_string(status)});
  metrics.http_duration.observe({route, label}, seconds);
}

}  // namespace carepath::api
