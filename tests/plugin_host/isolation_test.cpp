// Time limits and `isolation: process`, with plugins that segfault, hang, spin and write garbage
// (tests/plugin_host/plugins/crashing_plugin.c): the caller always gets an outcome, the test
// process (the engine) lives on, and the next call works.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/metrics.hpp"
#include "plugin_host/registry.hpp"
#include "plugin_host/remote.hpp"
#include "tests/plugin_host/test_plugins.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::plugin_host {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::kCrashing;
using test::kGood;
using test::kPluginHostProgram;
using test::LogCapture;

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool has_line(const LogCapture& capture, LogLevel level, const std::string& part,
              const std::string& attribute, const std::string& value) {
  for (const auto& line : capture.lines()) {
    const auto found = line.attributes.find(attribute);
    if (line.level == level && line.message.find(part) != std::string::npos &&
        found != line.attributes.end() && found->second == value) {
      return true;
    }
  }
  return false;
}

// Log lines from a host's stderr arrive on a relay thread: wait a little for them.
bool eventually_has_line(const LogCapture& capture, LogLevel level, const std::string& part,
                         const std::string& attribute, const std::string& value) {
  for (int i = 0; i < 200; ++i) {
    if (has_line(capture, level, part, attribute, value)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// The processes this thread started that are still there (not yet reaped).
std::vector<pid_t> children() {
  std::ifstream in("/proc/self/task/" + std::to_string(::gettid()) + "/children");
  std::vector<pid_t> out;
  pid_t pid = 0;
  while (in >> pid) {
    out.push_back(pid);
  }
  return out;
}

class Steps {
 public:
  explicit Steps(Registry& registry) : registry_(registry) {}

  std::shared_ptr<const StepInstance> instance(const char* step, const char* config = "{}") {
    const StepType* type = registry_.find(step);
    EXPECT_NE(type, nullptr) << step;
    if (type == nullptr) {
      return nullptr;
    }
    auto made = type->create(obj(config));
    EXPECT_TRUE(made) << step << ": " << (made ? "" : made.error().message);
    return made ? *made : nullptr;
  }

  StepOutcome run(const char* step, const char* config = "{}") {
    auto made = instance(step, config);
    if (made == nullptr) {
      return StepOutcome{};
    }
    return made->run(StepInput{"key-1", obj(R"({"to": "referred", "data": {"age": 12}})")});
  }

 private:
  Registry& registry_;
};

CallPolicy in_process(std::int64_t timeout_ms, int max_abandoned = 4) {
  CallPolicy policy;
  policy.step_timeout_ms = timeout_ms;
  policy.max_abandoned = max_abandoned;
  return policy;
}

CallPolicy isolated(const fs::path& file, std::int64_t timeout_ms, std::int64_t backoff_ms = 0) {
  CallPolicy policy;
  policy.host_executable = kPluginHostProgram;
  policy.restart_backoff_ms = backoff_ms;
  policy.plugins[file.filename().string()] = PluginSettings{Isolation::process, timeout_ms};
  return policy;
}

// --- In-process time limit ------------------------------------------------------------------

TEST(StepTimeLimit, AbandonsAHangingCallAsRetryableAndKeepsServing) {
  const LogCapture capture;
  Registry registry;
  registry.set_policy(in_process(200));
  ASSERT_TRUE(registry.load(kCrashing));
  Steps steps(registry);
  const auto timeouts = metrics::engine().plugin_timeouts.value({"crashing"});

  const auto start = Clock::now();
  const StepOutcome hung = steps.run("crashing.hang");
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_EQ(hung.status, StepStatus::retryable);
  EXPECT_EQ(hung.message,
            "step crashing.hang of plugin crashing did not answer within 200ms; abandoned");
  EXPECT_EQ(metrics::engine().plugin_timeouts.value({"crashing"}), timeouts + 1);
  EXPECT_TRUE(has_line(capture, LogLevel::warning, "abandoned", "plugin", "crashing"));

  const StepOutcome fine = steps.run("crashing.fine");
  ASSERT_EQ(fine.status, StepStatus::ok) << fine.message;
  EXPECT_EQ(fine.output, obj(R"({"fine": true})"));
}

TEST(StepTimeLimit, AfterTheCapOfAbandonedCallsThePluginFailsFast) {
  Registry registry;
  registry.set_policy(in_process(100, 2));
  ASSERT_TRUE(registry.load(kCrashing));
  Steps steps(registry);
  EXPECT_EQ(steps.run("crashing.hang").status, StepStatus::retryable);
  EXPECT_EQ(steps.run("crashing.hang").status, StepStatus::retryable);

  // Two calls are still stuck: the plugin is not called again, not even its good steps.
  const auto start = Clock::now();
  const StepOutcome refused = steps.run("crashing.fine");
  EXPECT_LT(seconds_since(start), 0.09);
  EXPECT_EQ(refused.status, StepStatus::retryable);
  EXPECT_EQ(refused.message,
            "step crashing.fine of plugin crashing was not called: 2 earlier calls did not "
            "answer in time and are still running");
}

TEST(StepTimeLimit, AnAbandonedCallThatEndsFreesItsPlaceAndSeesItWasCancelled) {
  const LogCapture capture;
  Registry registry;
  registry.set_policy(in_process(100, 1));
  ASSERT_TRUE(registry.load(kCrashing));
  Steps steps(registry);
  // crashing.slow waits for is_cancelled(): the host sets it when it abandons the call.
  EXPECT_EQ(steps.run("crashing.slow").status, StepStatus::retryable);
  StepOutcome fine;
  for (int i = 0; i < 200 && fine.status != StepStatus::ok; ++i) {
    fine = steps.run("crashing.fine");
    if (fine.status != StepStatus::ok) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_EQ(fine.status, StepStatus::ok) << fine.message;
  EXPECT_TRUE(has_line(capture, LogLevel::warning, "returned at last", "step", "crashing.slow"));
}

TEST(StepTimeLimit, APluginsOwnTimeoutOverridesTheDefault) {
  Registry registry;
  CallPolicy policy = in_process(30'000);
  policy.plugins[kCrashing.filename().string()] = PluginSettings{Isolation::in_process, 150};
  registry.set_policy(policy);
  ASSERT_TRUE(registry.load(kCrashing));
  Steps steps(registry);
  const auto start = Clock::now();
  const StepOutcome hung = steps.run("crashing.hang");
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_EQ(hung.status, StepStatus::retryable);
  EXPECT_NE(hung.message.find("within 150ms"), std::string::npos) << hung.message;
}

TEST(StepTimeLimit, ThePluginsLogLinesKeepTheCallersRequestContext) {
  std::mutex mutex;
  std::vector<std::string> request_ids;
  set_log_sink([&](LogLevel, std::string_view message, std::initializer_list<LogAttribute>) {
    if (message == "echo ran") {
      const LogContext* context = log_context();
      const std::lock_guard lock(mutex);
      request_ids.emplace_back(context == nullptr ? "none" : context->request_id);
    }
  });
  {
    Registry registry;
    registry.set_policy(in_process(5000));
    ASSERT_TRUE(registry.load(kGood));
    Steps steps(registry);
    LogContext context{"req-42", "asha"};
    const ScopedLogContext scope(context);
    EXPECT_EQ(steps.run("good.echo").status, StepStatus::ok);
  }
  set_log_sink({});
  EXPECT_EQ(request_ids, std::vector<std::string>{"req-42"});
}

TEST(StepTimeLimit, NoLimitRunsOnTheCallersThread) {
  Registry registry;
  registry.set_policy(in_process(0));
  ASSERT_TRUE(registry.load(kGood));
  Steps steps(registry);
  const StepOutcome echoed = steps.run("good.echo");
  ASSERT_EQ(echoed.status, StepStatus::ok) << echoed.message;
  EXPECT_EQ(echoed.output.at("cancelled"), false);
}

// --- isolation: process ---------------------------------------------------------------------

TEST(ProcessIsolation, ASegfaultFailsTheStepAsRetryableAndTheNextCallWorks) {
  const LogCapture capture;
  Registry registry;
  registry.set_policy(isolated(kCrashing, 5000));
  auto loaded = registry.load(kCrashing);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->name, "crashing");
  EXPECT_EQ(loaded->step_types.size(), 8U);
  Steps steps(registry);
  const auto crashes = metrics::engine().plugin_host_failures.value({"crashing", "crash"});

  const StepOutcome crashed = steps.run("crashing.segfault");
  EXPECT_EQ(metrics::engine().plugin_host_failures.value({"crashing", "crash"}), crashes + 1);
  EXPECT_EQ(crashed.status, StepStatus::retryable);
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer (make test-asan) catches the SIGSEGV in the host, reports it and exits 1.
  EXPECT_EQ(crashed.message,
            "step crashing.segfault: plugin crashing's host process exited with status 1 during "
            "the call; it starts again on the next call");
#else
  EXPECT_EQ(crashed.message,
            "step crashing.segfault: plugin crashing's host process was killed by signal 11 "
            "(Segmentation fault) during the call; it starts again on the next call");
#endif
  EXPECT_TRUE(
      has_line(capture, LogLevel::warning, "stopped after a failure", "plugin", "crashing"));

  const StepOutcome fine = steps.run("crashing.fine");
  ASSERT_EQ(fine.status, StepStatus::ok) << fine.message;
  EXPECT_EQ(fine.output, obj(R"({"fine": true})"));
  EXPECT_EQ(children().size(), 1U) << "one host runs; the crashed one was reaped";
}

TEST(ProcessIsolation, AnInstanceMadeBeforeACrashWorksInTheNewHost) {
  Registry registry;
  registry.set_policy(isolated(kGood, 5000));
  ASSERT_TRUE(registry.load(kGood));
  Steps steps(registry);
  auto decide = steps.instance("good.decide", R"({"answer": "veto"})");
  ASSERT_NE(decide, nullptr);
  const auto hosts = children();
  ASSERT_EQ(hosts.size(), 1U);
  ASSERT_EQ(::kill(hosts[0], SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // until it is a zombie

  // Killed between calls: the next call starts a host, makes the instance again and runs.
  const StepOutcome vetoed = decide->run(StepInput{"key-1", obj(R"({"to": "x", "data": {}})")});
  EXPECT_EQ(vetoed.status, StepStatus::veto) << vetoed.message;
  EXPECT_EQ(vetoed.message, "guardian consent is missing");
}

TEST(ProcessIsolation, AHangIsKilledAtTheTimeLimit) {
  Registry registry;
  registry.set_policy(isolated(kCrashing, 300));
  ASSERT_TRUE(registry.load(kCrashing));
  Steps steps(registry);
  const auto timeouts = metrics::engine().plugin_timeouts.value({"crashing"});
  const auto kills = metrics::engine().plugin_host_failures.value({"crashing", "timeout"});
  for (const char* step : {"crashing.spin", "crashing.hang"}) {
    const auto start = Clock::now();
    const StepOutcome hung = steps.run(step);
    EXPECT_LT(seconds_since(start), 5.0) << step;
    EXPECT_GE(seconds_since(start), 0.25) << step;
    EXPECT_EQ(hung.status, StepStatus::retryable) << step;
    EXPECT_EQ(hung.message, "step " + std::string(step) +
                                " of plugin crashing did not answer within 300ms; its host process "
                                "was killed and starts again on the next call");
    const StepOutcome fine = steps.run("crashing.fine");
    EXPECT_EQ(fine.status, StepStatus::ok) << fine.message;
  }
  EXPECT_EQ(children().size(), 1U) << "the killed hosts were reaped";
  EXPECT_EQ(metrics::engine().plugin_timeouts.value({"crashing"}), timeouts + 2);
  EXPECT_EQ(metrics::engine().plugin_host_failures.value({"crashing", "timeout"}), kills + 2);
}

TEST(ProcessIsolation, GarbageFromThePluginFailsTheStep) {
  const LogCapture capture;
  Registry registry;
  registry.set_policy(isolated(kCrashing, 5000));
  ASSERT_TRUE(registry.load(kCrashing));
  Steps steps(registry);

  // Output that is not JSON: the host's adapter refuses it, as in-process; the junk the plugin
  // printed on stdout went to the log, not into the protocol.
  const StepOutcome garbage = steps.run("crashing.garbage");
  EXPECT_EQ(garbage.status, StepStatus::failed);
  EXPECT_EQ(garbage.message, "plugin returned invalid JSON output");
  EXPECT_TRUE(eventually_has_line(capture, LogLevel::info, "}}} not a protocol line", "plugin",
                                  "crashing"));

  // Junk written straight into the protocol: failed, and the host is replaced.
  const StepOutcome corrupt = steps.run("crashing.corrupt");
  EXPECT_EQ(corrupt.status, StepStatus::failed);
  EXPECT_EQ(corrupt.message,
            "step crashing.corrupt: plugin crashing's host process answered something that is "
            "not JSON; it was stopped");
  EXPECT_EQ(steps.run("crashing.fine").status, StepStatus::ok);
}

TEST(ProcessIsolation, AnAnswerOverTheCapFailsTheStep) {
  RemoteOptions options;
  options.host_executable = kPluginHostProgram;
  options.plugin_file = kCrashing;
  options.timeout_ms = 5000;
  options.restart_backoff_ms = 0;
  options.max_reply_bytes = std::size_t{16} * 1024;
  auto remote = start_remote_plugin(options);
  ASSERT_TRUE(remote) << remote.error().message;
  const StepType* big = nullptr;
  const StepType* fine = nullptr;
  for (const auto& type : remote->step_types) {
    if (type->name() == "crashing.big") {
      big = type.get();
    } else if (type->name() == "crashing.fine") {
      fine = type.get();
    }
  }
  ASSERT_NE(big, nullptr);
  ASSERT_NE(fine, nullptr);
  const StepInput input{"key-1", obj(R"({"to": "x", "data": {}})")};
  const StepOutcome over = (*big->create({}))->run(input);
  EXPECT_EQ(over.status, StepStatus::failed);
  EXPECT_EQ(over.message,
            "step crashing.big: plugin crashing's host process answered more than 16384 bytes; "
            "it was stopped");
  EXPECT_EQ((*fine->create({}))->run(input).status, StepStatus::ok);
}

TEST(ProcessIsolation, AfterAFailureTheHostRestartsOnlyAfterTheBackoff) {
  Registry registry;
  registry.set_policy(isolated(kCrashing, 5000, 60'000));
  ASSERT_TRUE(registry.load(kCrashing));
  Steps steps(registry);
  auto fine = steps.instance("crashing.fine");
  ASSERT_NE(fine, nullptr);
  EXPECT_EQ(steps.run("crashing.segfault").status, StepStatus::retryable);
  const auto start = Clock::now();
  const StepOutcome waiting = fine->run(StepInput{"key-1", obj(R"({"to": "x", "data": {}})")});
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_EQ(waiting.status, StepStatus::retryable);
  EXPECT_NE(waiting.message.find("plugin crashing's host process failed and starts again in "),
            std::string::npos)
      << waiting.message;
  EXPECT_TRUE(children().empty());
}

// The same plugin, the same calls: the same outcomes in both modes.
TEST(ProcessIsolation, AGoodPluginAnswersTheSameInBothModes) {
  const LogCapture capture;
  Registry inside;
  inside.set_policy(in_process(5000));
  Registry outside;
  outside.set_policy(isolated(kGood, 5000));
  auto in_info = inside.load(kGood);
  auto out_info = outside.load(kGood);
  ASSERT_TRUE(in_info);
  ASSERT_TRUE(out_info) << out_info.error().message;
  EXPECT_EQ(out_info->name, in_info->name);
  EXPECT_EQ(out_info->version, in_info->version);
  EXPECT_EQ(out_info->abi_major, in_info->abi_major);
  EXPECT_EQ(out_info->abi_minor, in_info->abi_minor);
  ASSERT_EQ(out_info->step_types.size(), in_info->step_types.size());
  for (std::size_t i = 0; i < in_info->step_types.size(); ++i) {
    const auto& a = in_info->step_types[i];
    const auto& b = out_info->step_types[i];
    EXPECT_EQ(b.name, a.name);
    EXPECT_EQ(b.description, a.description);
    EXPECT_EQ(b.config_schema, a.config_schema);
    EXPECT_EQ(b.reads, a.reads);
  }

  Steps in_steps(inside);
  Steps out_steps(outside);
  const StepInput input{"run-7-step-2-call-1", obj(R"({
      "case": {"id": 7, "code": "C-7", "workflow": "aftercare", "workflow_version": 1,
               "state": "intake"},
      "event": "refer", "from": "intake", "to": "referred",
      "data": {"age": 12, "district": "Testdistrict", "name": "not for this step"}})")};
  const auto compare = [&](const char* step, const char* config) {
    const StepOutcome a = in_steps.instance(step, config)->run(input);
    const StepOutcome b = out_steps.instance(step, config)->run(input);
    EXPECT_EQ(b.status, a.status) << step << " " << config;
    EXPECT_EQ(b.output, a.output) << step << " " << config;
    EXPECT_EQ(b.message, a.message) << step << " " << config;
  };
  compare("good.echo", "{}");
  for (const char* answer : {"ok", "veto", "pending", "failed", "retryable"}) {
    compare("good.decide", (std::string(R"({"answer": ")") + answer + "\"}").c_str());
  }
  // The undeclared field never reached the host.
  const StepOutcome echoed = out_steps.instance("good.echo")->run(input);
  EXPECT_EQ(echoed.output.at("input").at("data"),
            obj(R"({"age": 12, "district": "Testdistrict"})"));

  // Refusals of a configuration read the same too: the schema, then the plugin itself.
  for (const char* config : {R"({"answer": "maybe"})", R"({"answer": "refuse"})"}) {
    auto a = inside.find("good.decide")->create(obj(config));
    auto b = outside.find("good.decide")->create(obj(config));
    ASSERT_FALSE(a);
    ASSERT_FALSE(b) << config;
    EXPECT_EQ(b.error().code, a.error().code) << config;
    EXPECT_EQ(b.error().message, a.error().message) << config;
  }

  // The plugin's own log line crossed over with its step and the plugin's name.
  EXPECT_TRUE(eventually_has_line(capture, LogLevel::warning, "echo ran", "step", "good.echo"));
  EXPECT_TRUE(eventually_has_line(capture, LogLevel::warning, "echo ran", "plugin", "good"));
}

TEST(ProcessIsolation, SettingsForAFileThatIsNotThereAreALoadProblem) {
  const LogCapture capture;
  Registry registry;
  CallPolicy policy = isolated(kGood, 5000);
  policy.plugins["god_plugin.so"] = PluginSettings{Isolation::process, 0};
  registry.set_policy(policy);
  ASSERT_TRUE(registry.load(kGood));
  const auto problems = registry.check_settings();
  const std::vector<std::string> expected{
      "plugin_settings names 'god_plugin.so', which is in no plugin directory; check the file "
      "name"};
  EXPECT_EQ(problems, expected);
  EXPECT_EQ(registry.load_problems(), expected);
  EXPECT_TRUE(has_line(capture, LogLevel::error, "god_plugin.so", "file", "god_plugin.so"));
}

TEST(ProcessIsolation, RefusalsWhenLoading) {
  test::TempDir dir;
  {
    // The allowlist is checked before a host starts, and again by the host.
    Registry registry;
    registry.set_policy(isolated(kGood, 5000));
    Allowlist allow;
    allow.files[kGood.filename().string()] = std::string(64, '0');
    auto refused = registry.load(kGood, &allow);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("does not match the plugin allowlist"),
              std::string::npos)
        << refused.error().message;
    EXPECT_TRUE(children().empty());
  }
  {
    Registry registry;
    CallPolicy policy = isolated(kGood, 5000);
    policy.host_executable = dir / "no-such-host";
    registry.set_policy(policy);
    auto refused = registry.load(kGood);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::plugin);
    EXPECT_EQ(refused.error().message,
              "plugin file '" + kGood.string() + "': cannot start the plugin host '" +
                  (dir / "no-such-host").string() + "': No such file or directory");
    EXPECT_TRUE(registry.plugins().empty());
  }
  {
    // The host's own refusal (not a plugin) reaches the engine unchanged.
    const fs::path not_a_plugin = CP_TEST_PLUGIN_NOT_A_PLUGIN;
    Registry inside;
    Registry outside;
    outside.set_policy(isolated(not_a_plugin, 5000));
    auto a = inside.load(not_a_plugin);
    auto b = outside.load(not_a_plugin);
    ASSERT_FALSE(a);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().message, a.error().message);
  }
  {
    // A host that answers nonsense to "describe".
    const fs::path fake = dir / "fake-host";
    std::ofstream(fake) << "#!/bin/sh\nread request\necho 'this is not json'\nsleep 5\n";
    fs::permissions(fake, fs::perms::owner_all);
    Registry registry;
    CallPolicy policy = isolated(kGood, 5000);
    policy.host_executable = fake;
    registry.set_policy(policy);
    const auto start = Clock::now();
    auto refused = registry.load(kGood);
    EXPECT_LT(seconds_since(start), 4.0) << "the nonsense host was killed, not waited for";
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message,
              "plugin file '" + kGood.string() + "': " + kGood.filename().string() +
                  "'s host process answered something that is not JSON; it was stopped");
  }
  {
    // A host that describes a plugin wrongly.
    const fs::path fake = dir / "lying-host";
    std::ofstream(fake) << "#!/bin/sh\nread request\n"
                           "echo '{\"ok\":true,\"plugin\":{\"name\":\"good\",\"version\":\"1\","
                           "\"abi_major\":1,\"abi_minor\":0,\"step_types\":[{\"name\":"
                           "\"other.step\",\"reads\":[]}]}}'\nread request\n";
    fs::permissions(fake, fs::perms::owner_all);
    Registry registry;
    CallPolicy policy = isolated(kGood, 5000);
    policy.host_executable = fake;
    registry.set_policy(policy);
    auto refused = registry.load(kGood);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message,
              "plugin file '" + kGood.string() +
                  "': the plugin host described the plugin wrongly: a step type has no valid "
                  "name");
  }
  {
    // A host that does not answer "describe" in time.
    const fs::path fake = dir / "silent-host";
    std::ofstream(fake) << "#!/bin/sh\nsleep 30\n";
    fs::permissions(fake, fs::perms::owner_all);
    Registry registry;
    CallPolicy policy = isolated(kGood, 200);
    policy.host_executable = fake;
    registry.set_policy(policy);
    const auto start = Clock::now();
    auto refused = registry.load(kGood);
    EXPECT_LT(seconds_since(start), 4.0);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().message, "plugin file '" + kGood.string() +
                                           "': " + kGood.filename().string() +
                                           " did not answer within 200ms; its host process was "
                                           "killed");
  }
  EXPECT_TRUE(children().empty()) << "every host was reaped";
}

}  // namespace
}  // namespace carepath::plugin_host
