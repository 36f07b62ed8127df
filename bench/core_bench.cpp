// Micro-benchmarks of the core (issue 7): an in-memory transition, the same with one no-op plugin
// step through the C ABI, guard evaluation, YAML load of the shipped workflows, a plugin call.
// Google Benchmark; run by `make bench`, never by `make test`. bench/README.md has the figures.
//
//   core_bench [--benchmark_filter=REGEX] [--benchmark_repetitions=N] ...
//   core_bench --instructions N   runs N in-memory transitions and nothing else, for
//                                 bench/callgrind-check.sh (a fixed amount of work to count)
//
// Data values are obviously fake (no real child's data).
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "api/webhook.hpp"
#include "core/actor.hpp"
#include "core/consent.hpp"
#include "core/error.hpp"
#include "core/fields.hpp"
#include "core/guard.hpp"
#include "core/machine.hpp"
#include "core/metrics.hpp"
#include "core/model.hpp"
#include "core/replay.hpp"
#include "core/step.hpp"
#include "core/store.hpp"
#include "plugin_host/registry.hpp"
#include "runtime/builtin_steps.hpp"
#include "runtime/runtime.hpp"
#include "runtime/steps.hpp"
#include "workflow/loader.hpp"

namespace carepath::bench {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

[[noreturn]] void die(const std::string& message) {
  std::cerr << "core_bench: " << message << "\n";
  std::exit(2);  // NOLINT(concurrency-mt-unsafe): start-up, one thread
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    die("cannot read " + path.string());
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The step catalog the engine builds (app/engine.cpp load_steps): the built-in steps, the
// first-party plugins of build/plugins and bench_noop.so. `step_timeout_ms` 0 runs plugin calls
// on the caller's thread; the engine's default (30 s) runs each on a helper thread.
std::unique_ptr<plugin_host::Registry> make_catalog(std::int64_t step_timeout_ms) {
  auto steps = std::make_unique<plugin_host::Registry>();
  (void)steps->add(runtime::make_core_set());
  (void)steps->add(runtime::make_core_assign());
  (void)steps->add(api::make_core_webhook("bench-webhook-secret"));
  plugin_host::CallPolicy policy;
  policy.step_timeout_ms = step_timeout_ms;
  steps->set_policy(std::move(policy));
  if (auto problems = steps->load_directory(CP_BENCH_PLUGINS_DIR); !problems.empty()) {
    die("plugin " + problems.front().file.string() + ": " + problems.front().message);
  }
  if (auto loaded = steps->load(CP_BENCH_NOOP_PLUGIN); !loaded) {
    die(loaded.error().message);
  }
  return steps;
}

std::shared_ptr<const Workflow> load(const fs::path& file, const StepCatalog& steps) {
  auto loaded = workflow::load_workflow_file(file, &steps);
  if (!loaded.ok()) {
    die(loaded.diagnostics.empty() ? "cannot load " + file.string()
                                   : workflow::to_string(loaded.diagnostics.front()));
  }
  return loaded.workflow;
}

struct Fixture {
  std::unique_ptr<plugin_host::Registry> steps = make_catalog(0);
  std::unique_ptr<plugin_host::Registry> limited_steps = make_catalog(30'000);
  std::shared_ptr<const Workflow> aftercare =
      load(fs::path(CP_SOURCE_DIR) / "workflows/aftercare.yaml", *steps);
  std::shared_ptr<const Workflow> plugin_step =
      load(fs::path(CP_SOURCE_DIR) / "bench/fixtures/plugin_step.yaml", *steps);
  std::shared_ptr<const Workflow> plugin_step_limited =
      load(fs::path(CP_SOURCE_DIR) / "bench/fixtures/plugin_step.yaml", *limited_steps);
};

const Fixture& fixture() {
  static const Fixture kFixture;
  return kFixture;
}

constexpr Timestamp kNow = 1'795'000'000'000;  // 2026-11-18, in ms
constexpr std::int64_t kToday = kNow / 86'400'000;

// A case in intake as a caseworker would have it: identity, placement, CWC details, the
// consents on record. Fake values throughout.
CaseRecord intake_case(const std::string& workflow) {
  CaseRecord r;
  r.id = "c0ffee00c0ffee00c0ffee00c0ffee00";
  r.code = "AC-2026-0042";
  r.workflow = workflow;
  r.workflow_version = 1;
  r.state = "intake";
  r.version = 3;
  r.created_at = kNow - 86'400'000;
  r.updated_at = kNow - 3'600'000;
  r.data = json::object{{"name", "Test Child Alpha"},
                        {"date_of_birth", "2011-04-01"},
                        {"home", "umang"},
                        {"cwc_name", "CWC Testpur"},
                        {"school", "Test Primary School"},
                        {"assigned_to", "caseworker-1"}};
  r.assignee = "caseworker-1";
  r.placement = "umang";
  return r;
}

// What the caseworker sends with produced_before_cwc.
json::object produced_payload() {
  return json::object{
      {"cwc_order_no", "CWC/TEST/0001"}, {"age", 15}, {"date_of_production", "2026-11-17"}};
}

Actor caseworker() {
  return Actor{"caseworker-1", {"caseworker"}};
}

struct Change {
  CaseRecord after;
  HistoryEntry entry;
};

// The in-memory part of one transition, as Runtime::prepare_transition (runtime/runtime.cpp)
// does it, with the same functions: plan_transition (lookup, role check, editable and valid
// fields, data merge, requires, guard), the consents the row requires, the case's next version,
// the row's synchronous steps as Runtime::run_steps runs them (key, input, call, output check,
// merge) when `run_steps`, and the history entry with its applied payload. Left out, because
// they are not part of the "in-memory transition": the state's on_exit / on_enter steps,
// timers and clocks (add_time_effects), and everything of the commit. Keep this in step with
// prepare_transition and run_steps when they change.
Result<Change> transition_once(const Workflow& workflow, const CaseRecord& record,
                               const std::string& event, const json::object& payload,
                               const Actor& actor, bool run_steps) {
  auto plan = plan_transition(workflow, record.state, record.data, event, payload, actor, kToday);
  if (!plan) {
    return plan.error();
  }
  const auto missing =
      missing_consents(plan->row->required_consents, record.consents, kNow, kToday);
  if (!missing.empty()) {
    return Error{Errc::conflict, "consent required"};
  }
  Change c;
  c.after = runtime::with_data(record, std::move(plan->data));
  c.after.state = plan->to;
  if (const auto to = workflow.find_state(c.after.state); to && workflow.states[*to].final) {
    if (c.after.state != record.state || !c.after.closed_at) {
      c.after.closed_at = kNow;
    }
  } else {
    c.after.closed_at.reset();
  }
  c.after.version = record.version + 1;
  c.after.updated_at = kNow;
  if (run_steps) {
    const auto rows = workflow.rows(*workflow.find_state(record.state), plan->row->on);
    const auto row_index = static_cast<std::size_t>(plan->row - rows.data());
    const std::optional<std::string> ev = event;
    const std::optional<std::string> from = record.state;
    for (std::size_t i = 0; i < plan->row->steps.size(); ++i) {
      const StepCall* call = &plan->row->steps[i];
      const std::string ref = runtime::row_ref(record.state, event, row_index, i);
      if (call->when && !call->when->evaluate(GuardContext{c.after.data, kToday}).value) {
        continue;
      }
      const std::string key = record.id + "/" + std::to_string(c.after.version) + "/" + ref;
      StepOutcome outcome = call->instance->run(
          StepInput{key, runtime::step_input(record, c.after.state, c.after.data, *call, ev, from,
                                             c.after.state)});
      metrics::engine().step_results.add({call->type, "ok"});
      if (outcome.status != StepStatus::ok) {
        return Error{Errc::plugin, "step failed: " + outcome.message};
      }
      if (auto checked = runtime::check_step_output(workflow, *call, outcome.output); !checked) {
        return checked.error();
      }
      for (auto& name : merge_payload(c.after.data, outcome.output)) {
        if (std::find(plan->changed.begin(), plan->changed.end(), name) == plan->changed.end()) {
          plan->changed.push_back(std::move(name));
        }
      }
    }
  }
  c.entry.at = kNow;
  c.entry.actor = actor.user;
  c.entry.event = event;
  c.entry.from = record.state;
  c.entry.to = c.after.state;
  c.entry.version = c.after.version;
  c.entry.changed = std::move(plan->changed);
  c.entry.comment = std::nullopt;
  c.entry.payload = applied_payload(payload, c.after.data, c.entry.changed);
  return c;
}

void run_transitions(benchmark::State& state, const Workflow& workflow, bool run_steps) {
  const CaseRecord record = intake_case(workflow.name);
  const json::object payload = produced_payload();
  const Actor actor = caseworker();
  const std::string event = "produced_before_cwc";
  for (auto _ : state) {
    (void)_;
    auto change = transition_once(workflow, record, event, payload, actor, run_steps);
    if (!change || change->after.state != "assessment") {
      state.SkipWithError("the transition was not taken");
      break;
    }
    benchmark::DoNotOptimize(change);
  }
  state.SetItemsProcessed(state.iterations());
}

// intake -> assessment of workflows/aftercare.yaml: role check, requires, guard "age < 18",
// three fields merged, history entry.
void transition(benchmark::State& state) {
  run_transitions(state, *fixture().aftercare, false);
}
BENCHMARK(transition)->Name("BM_Transition");

// The same row (bench/fixtures/plugin_step.yaml) with one synchronous call of bench.noop through
// the C ABI, on the caller's thread (step_timeout: off).
void transition_with_plugin_step(benchmark::State& state) {
  run_transitions(state, *fixture().plugin_step, true);
}
BENCHMARK(transition_with_plugin_step)->Name("BM_TransitionWithPluginStep");

// The same with the engine's default step_timeout (30 s): each plugin call runs on a helper
// thread so that a hung plugin can be abandoned (plugin_host/adapter.cpp).
void transition_with_plugin_step_time_limited(benchmark::State& state) {
  run_transitions(state, *fixture().plugin_step_limited, true);
}
BENCHMARK(transition_with_plugin_step_time_limited)->Name("BM_TransitionWithPluginStepTimeLimited");

// The transition's guard and two of aftercare's date guards, on the case data after the merge.
void guard(benchmark::State& state) {
  static constexpr std::array<const char*, 3> kGuards = {
      "age < 18", "days_since(missing_since) >= 180", "medical_cleared && has(age) && age >= 14"};
  const Workflow& wf = *fixture().aftercare;
  auto compiled = Guard::compile(kGuards.at(static_cast<std::size_t>(state.range(0))),
                                 [&wf](std::string_view name) { return wf.find_field(name); });
  if (!compiled) {
    state.SkipWithError(compiled.error().message.c_str());
    return;
  }
  json::object data = intake_case(wf.name).data;
  data["age"] = 15;
  data["missing_since"] = "2026-03-01";
  data["medical_cleared"] = true;
  const GuardContext context{data, kToday};
  for (auto _ : state) {
    (void)_;
    GuardOutcome outcome = compiled->evaluate(context);
    benchmark::DoNotOptimize(outcome);
  }
  state.SetLabel(kGuards.at(static_cast<std::size_t>(state.range(0))));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(guard)->Name("BM_Guard")->DenseRange(0, 2);

// Parse, validate and compile each shipped workflow (its step calls created in the catalog).
void load_workflow(benchmark::State& state, const char* file) {
  const std::string text = read_text(fs::path(CP_SOURCE_DIR) / "workflows" / file);
  const auto& steps = *fixture().steps;
  for (auto _ : state) {
    (void)_;
    auto loaded = workflow::load_workflow_text(text, file, &steps);
    if (!loaded.ok()) {
      state.SkipWithError("the workflow did not load");
      break;
    }
    benchmark::DoNotOptimize(loaded);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK_CAPTURE(load_workflow, aftercare, "aftercare.yaml")
    ->Name("BM_LoadWorkflow/aftercare")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(load_workflow, education_support, "education_support.yaml")
    ->Name("BM_LoadWorkflow/education_support")
    ->Unit(benchmark::kMicrosecond);

// One call of bench.noop through the adapter and the C ABI, with the input a step gets.
void run_plugin_call(benchmark::State& state, const Workflow& workflow) {
  const auto rows = workflow.rows_from(*workflow.find_state("intake"));
  const StepCall& call = rows.front().steps.front();
  const CaseRecord record = intake_case(workflow.name);
  const StepInput input{"c0ffee/4/row/intake/produced_before_cwc/0/0",
                        runtime::step_input(record, record.data, call, std::string("e"),
                                            std::string("intake"), "assessment")};
  for (auto _ : state) {
    (void)_;
    StepOutcome outcome = call.instance->run(input);
    if (outcome.status != StepStatus::ok) {
      state.SkipWithError("the step failed");
      break;
    }
    benchmark::DoNotOptimize(outcome);
  }
  state.SetItemsProcessed(state.iterations());
}

void plugin_call(benchmark::State& state) {
  run_plugin_call(state, *fixture().plugin_step);
}
BENCHMARK(plugin_call)->Name("BM_PluginCall");

void plugin_call_time_limited(benchmark::State& state) {
  run_plugin_call(state, *fixture().plugin_step_limited);
}
BENCHMARK(plugin_call_time_limited)->Name("BM_PluginCallTimeLimited");

// N in-memory transitions (BM_Transition's work); false when one is not taken. Not inlined:
// bench/callgrind-check.sh counts the instructions of this function alone
// (--toggle-collect), so loading the fixture is not part of the count.
__attribute__((noinline)) bool counted_transitions(const Workflow& workflow, long long n,
                                                   std::int64_t& versions) {
  const CaseRecord record = intake_case(workflow.name);
  const json::object payload = produced_payload();
  const Actor actor = caseworker();
  const std::string event = "produced_before_cwc";
  for (long long i = 0; i < n; ++i) {
    auto change = transition_once(workflow, record, event, payload, actor, false);
    if (!change || change->after.state != "assessment") {
      return false;
    }
    versions += change->after.version;
  }
  return true;
}

// `--instructions N`: loads the fixture, runs counted_transitions(N) and nothing else.
int count_instructions(const char* arg) {
  char* end = nullptr;
  const long long n = std::strtoll(arg, &end, 10);
  if (end == arg || *end != '\0' || n <= 0) {
    std::cerr << "core_bench: --instructions needs a positive number of transitions\n";
    return 2;
  }
  std::int64_t versions = 0;
  if (!counted_transitions(*fixture().aftercare, n, versions)) {
    std::cerr << "core_bench: the transition was not taken\n";
    return 1;
  }
  std::cout << "transitions: " << n << " (versions " << versions << ")\n";
  return 0;
}

}  // namespace
}  // namespace carepath::bench

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--instructions") {
    return carepath::bench::count_instructions(argv[2]);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 2;
  }
  (void)carepath::bench::fixture();  // load once, before any timing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
