// The ABI <-> core adapter, through real plugin libraries: outcomes, host services, garbage from
// plugins, and instance lifetime.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <carepath/plugin_abi.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include "plugin_host/registry.hpp"
#include "tests/plugin_host/test_plugins.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::plugin_host {
namespace {

namespace fs = std::filesystem;
using test::kGood;
using test::kMisbehaving;
using test::LogCapture;

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

// A registry with the good and the misbehaving plugin loaded.
class PluginAdapter : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.load(kGood));
    ASSERT_TRUE(registry_.load(kMisbehaving));
  }

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
    return made->run(StepInput{"key-1", obj(R"({"to": "referred", "data": {}})")});
  }

  Error create_error(const char* step, const char* config) {
    auto made = registry_.find(step)->create(obj(config));
    EXPECT_FALSE(made) << step << " " << config;
    return made ? Error{} : made.error();
  }

  Registry registry_;
};

TEST_F(PluginAdapter, PassesTheInputWithOnlyTheDeclaredFieldsAndTheIdempotencyKey) {
  auto echo = instance("good.echo");
  ASSERT_NE(echo, nullptr);
  const StepOutcome outcome = echo->run(StepInput{"run-7-step-2-call-1", obj(R"({
      "case": {"id": 7, "code": "C-7", "workflow": "aftercare", "workflow_version": 1,
               "state": "intake"},
      "event": "refer", "from": "intake", "to": "referred",
      "data": {"age": 12, "district": "Howrah", "name": "not for this step"}})")});

  ASSERT_EQ(outcome.status, StepStatus::ok) << outcome.message;
  const auto& input = outcome.output.at("input").as_object();
  EXPECT_EQ(input.at("data"), (obj(R"({"age": 12, "district": "Howrah"})")));
  EXPECT_EQ(input.at("case").at("id"), 7);
  EXPECT_EQ(input.at("event"), "refer");
  EXPECT_EQ(outcome.output.at("idempotency_key"), "run-7-step-2-call-1");
  EXPECT_EQ(outcome.output.at("cancelled"), false);
  EXPECT_EQ(outcome.output.at("host_abi"), "1.0");
  EXPECT_EQ(outcome.output.at("host_size"), sizeof(cp_host_api));
}

// Input whose data holds declared fields only is passed without being copied first (the
// engine's own input, runtime::step_input); in another order, or with one undeclared field
// after them, it is still cut down.
TEST_F(PluginAdapter, PassesDeclaredFieldsInAnyOrderAndStillDropsAnUndeclaredOne) {
  auto echo = instance("good.echo");
  ASSERT_NE(echo, nullptr);
  auto data_seen = [&echo](const char* data) {
    const StepOutcome outcome = echo->run(StepInput{
        "key-1", obj((std::string(R"({"to": "referred", "data": )") + data + "}").c_str())});
    EXPECT_EQ(outcome.status, StepStatus::ok) << outcome.message;
    return outcome.status == StepStatus::ok ? outcome.output.at("input").at("data").as_object()
                                            : boost::json::object{};
  };
  EXPECT_EQ(data_seen(R"({"age": 12, "district": "Howrah"})"),
            obj(R"({"age": 12, "district": "Howrah"})"));
  EXPECT_EQ(data_seen(R"({"district": "Howrah", "age": 12})"),
            obj(R"({"age": 12, "district": "Howrah"})"));
  EXPECT_EQ(data_seen(R"({"age": 12})"), obj(R"({"age": 12})"));
  EXPECT_EQ(data_seen(R"({"age": 12, "district": "Howrah", "name": "not for this step"})"),
            obj(R"({"age": 12, "district": "Howrah"})"));
  EXPECT_EQ(data_seen("{}"), boost::json::object{});
}

TEST_F(PluginAdapter, AttributesPluginLogLinesToTheStepAndNothingElse) {
  LogCapture logs;
  ASSERT_EQ(run("good.echo").status, StepStatus::ok);
  const auto lines = logs.lines();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].level, LogLevel::warning);
  EXPECT_EQ(lines[0].message, "echo ran");
  EXPECT_EQ(lines[0].attributes, (std::map<std::string, std::string>{{"step", "good.echo"}}));
}

TEST_F(PluginAdapter, MapsEachStatusToAnOutcome) {
  const StepOutcome ok = run("good.decide", R"({"answer": "ok"})");
  EXPECT_EQ(ok.status, StepStatus::ok);
  EXPECT_EQ(ok.output, obj(R"({"decided": true})"));

  const StepOutcome pending = run("good.decide", R"({"answer": "pending"})");
  EXPECT_EQ(pending.status, StepStatus::pending);
  EXPECT_EQ(pending.output, obj(R"({"task": "review by the child welfare committee"})"));

  const StepOutcome veto = run("good.decide", R"({"answer": "veto"})");
  EXPECT_EQ(veto.status, StepStatus::veto);
  EXPECT_EQ(veto.message, "guardian consent is missing");
  EXPECT_TRUE(veto.output.empty());

  const StepOutcome failed = run("good.decide", R"({"answer": "failed"})");
  EXPECT_EQ(failed.status, StepStatus::failed);
  EXPECT_EQ(failed.message, "provider unreachable");

  const StepOutcome retryable = run("good.decide", R"({"answer": "retryable"})");
  EXPECT_EQ(retryable.status, StepStatus::retryable);
  EXPECT_EQ(retryable.message, "provider busy, try again");  // two writes, one message
}

TEST_F(PluginAdapter, ReportsAStepThatRefusesItsConfigurationWithItsOwnMessage) {
  const Error error = create_error("good.decide", R"({"answer": "refuse"})");
  EXPECT_EQ(error.code, Errc::plugin);
  EXPECT_EQ(error.message, "the answer 'refuse' is refused");
}

TEST_F(PluginAdapter, ChecksTheConfigurationAgainstTheSchemaBeforeThePluginSeesIt) {
  Error error = create_error("good.decide", R"({"answer": "maybe"})");
  EXPECT_EQ(error.code, Errc::invalid_argument);
  EXPECT_EQ(error.message,
            "step 'good.decide': invalid configuration: /answer: must be one of: \"ok\", "
            "\"veto\", \"pending\", \"failed\", \"retryable\", \"refuse\"");

  error = create_error("good.decide", R"({"answer": "ok", "x": 1})");
  EXPECT_EQ(error.message, "step 'good.decide': invalid configuration: /x: unknown key 'x'");

  error = create_error("good.decide", "{}");
  EXPECT_EQ(error.message,
            "step 'good.decide': invalid configuration: /: missing required key 'answer'");

  error = create_error("good.echo", R"({"anything": 1})");
  EXPECT_EQ(error.code, Errc::invalid_argument);
  EXPECT_EQ(error.message, "step 'good.echo' takes no configuration");
}

TEST_F(PluginAdapter, TurnsInvalidStatusesIntoFailures) {
  for (const char* step : {"misbehaving.status_zero", "misbehaving.status_99"}) {
    const StepOutcome outcome = run(step);
    EXPECT_EQ(outcome.status, StepStatus::failed) << step;
    EXPECT_EQ(outcome.message, "plugin returned an invalid status") << step;
    EXPECT_TRUE(outcome.output.empty()) << step;
  }
  const Error error = create_error("misbehaving.bad_create", "{}");
  EXPECT_EQ(error.code, Errc::plugin);
  EXPECT_EQ(error.message, "step 'misbehaving.bad_create': plugin returned an invalid status");
}

TEST_F(PluginAdapter, TurnsOutputThatIsNotAJsonObjectIntoFailures) {
  for (const char* step : {"misbehaving.garbage_output", "misbehaving.array_output",
                           "misbehaving.pending_scalar", "misbehaving.invalid_utf8_output"}) {
    const StepOutcome outcome = run(step);
    EXPECT_EQ(outcome.status, StepStatus::failed) << step;
    EXPECT_EQ(outcome.message, "plugin returned invalid JSON output") << step;
  }
}

TEST_F(PluginAdapter, AcceptsNoOutputAsAnEmptyObject) {
  const StepOutcome outcome = run("misbehaving.empty_output");
  EXPECT_EQ(outcome.status, StepStatus::ok);
  EXPECT_TRUE(outcome.output.empty());
}

TEST_F(PluginAdapter, BoundsWhatAPluginCanWrite) {
  const StepOutcome flood = run("misbehaving.flood");
  EXPECT_EQ(flood.status, StepStatus::failed);
  EXPECT_EQ(flood.message, "plugin returned too much output");

  const StepOutcome long_error = run("misbehaving.long_error");
  EXPECT_EQ(long_error.status, StepStatus::failed);
  EXPECT_EQ(long_error.message.size(), 4096U);

  const StepOutcome silent = run("misbehaving.silent_failure");
  EXPECT_EQ(silent.status, StepStatus::failed);
  EXPECT_EQ(silent.message, "step 'misbehaving.silent_failure' gave no reason");
}

TEST_F(PluginAdapter, HostServicesShrugOffAForeignCallHandle) {
  LogCapture logs;
  const StepOutcome outcome = run("misbehaving.foreign_call");
  EXPECT_EQ(outcome.status, StepStatus::ok);
  EXPECT_EQ(outcome.output, obj(R"({"ok": true})"));
  // Only the line with a real call handle and real bytes got through, at the default level.
  const auto lines = logs.lines();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].message, "odd level");
  EXPECT_EQ(lines[0].level, LogLevel::info);
  EXPECT_EQ(lines[0].attributes.at("step"), "misbehaving.foreign_call");
}

TEST_F(PluginAdapter, RunsOneInstanceFromManyThreadsAtOnce) {
  auto echo = instance("good.echo");
  ASSERT_NE(echo, nullptr);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&echo, &wrong, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string key = "call-" + std::to_string(t) + "-" + std::to_string(i);
        const StepOutcome outcome = echo->run(StepInput{key, obj(R"({"data": {"age": 1}})")});
        if (outcome.status != StepStatus::ok ||
            outcome.output.at("idempotency_key") != boost::json::value(key)) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

// ---- lifetime -----------------------------------------------------------------------------------

// The good plugin's instance count, read from the loaded library; -1 when it is not loaded.
int live_instances(const fs::path& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) {
    return -1;
  }
  auto* count = reinterpret_cast<int (*)()>(dlsym(handle, "cp_test_good_live_instances"));
  const int n = count == nullptr ? -2 : count();
  dlclose(handle);
  return n;
}

TEST(PluginLifetime, InstancesKeepTheirLibraryLoadedAfterTheRegistryIsGone) {
  // A private copy, so that no other registry in this process holds the same library.
  test::TempDir dir;
  const fs::path copy = dir / "good.so";
  fs::copy_file(kGood, copy);

  auto registry = std::make_unique<Registry>();
  ASSERT_TRUE(registry->load(copy));
  auto first = registry->find("good.echo")->create({});
  auto second = registry->find("good.decide")->create(obj(R"({"answer": "veto"})"));
  ASSERT_TRUE(first && second);
  std::shared_ptr<const StepInstance> echo = std::move(*first);
  std::shared_ptr<const StepInstance> decide = std::move(*second);
  EXPECT_EQ(live_instances(copy), 2);

  registry.reset();
  EXPECT_EQ(live_instances(copy), 2);  // still loaded: the instances hold it

  const StepOutcome outcome = echo->run(StepInput{"after", obj(R"({"data": {}})")});
  EXPECT_EQ(outcome.status, StepStatus::ok);
  EXPECT_EQ(outcome.output.at("idempotency_key"), "after");

  decide.reset();
  EXPECT_EQ(live_instances(copy), 1);  // destroy() ran for it, in the plugin

  echo.reset();
  EXPECT_EQ(live_instances(copy), -1);  // the last instance gone, the library unloaded
}

TEST(PluginLifetime, TheRegistryUnloadsLibrariesNobodyUses) {
  test::TempDir dir;
  const fs::path copy = dir / "good.so";
  fs::copy_file(kGood, copy);
  {
    Registry registry;
    ASSERT_TRUE(registry.load(copy));
    EXPECT_EQ(live_instances(copy), 0);
  }
  EXPECT_EQ(live_instances(copy), -1);

  // A refused plugin is not kept loaded either.
  const fs::path refused = dir / "newer_minor.so";
  fs::copy_file(CP_TEST_PLUGIN_NEWER_MINOR, refused);
  Registry registry;
  ASSERT_FALSE(registry.load(refused));
  void* handle = dlopen(refused.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_EQ(handle, nullptr);
  if (handle != nullptr) {
    dlclose(handle);
  }
}

}  // namespace
}  // namespace carepath::plugin_host
