// Drives a linked-in plugin through its C ABI, as the engine does: a fake host table whose
// idempotency key, log and cancellation the test controls, and an RAII step instance made with
// the step type's create() and run through its run().
#pragma once

#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <carepath/plugin_abi.h>

namespace carepath::test {

// One step call as the host sees it; its address is the `call` handle passed to run().
struct FakeCall {
  std::string idempotency_key = "case-7f3a/transition-12/step-0";
  bool cancelled = false;
  std::vector<std::string> log_lines{};
};

// A host table that offers everything, or (with_key = false) no idempotency key.
inline cp_host_api fake_host(bool with_key = true) {
  cp_host_api host{};
  host.struct_size = sizeof(cp_host_api);
  host.abi_major = CP_ABI_MAJOR;
  host.abi_minor = CP_ABI_MINOR;
  host.log = [](void* call, int /*level*/, cp_str message) {
    static_cast<FakeCall*>(call)->log_lines.emplace_back(message.data, message.size);
  };
  host.is_cancelled = [](void* call) { return static_cast<FakeCall*>(call)->cancelled ? 1 : 0; };
  if (with_key) {
    host.idempotency_key = [](void* call) {
      const std::string& key = static_cast<FakeCall*>(call)->idempotency_key;
      return cp_str{key.data(), key.size()};
    };
  }
  return host;
}

// The host table passed to a plugin's entry function (the SDK's entry ignores it; each run()
// gets its own).
inline const cp_host_api& entry_host() {
  static const cp_host_api kHost = fake_host();
  return kHost;
}

// A sink that appends to a std::string.
inline cp_sink string_sink(std::string& out) {
  return cp_sink{&out, [](void* host, cp_str bytes) {
                   static_cast<std::string*>(host)->append(bytes.data, bytes.size);
                 }};
}

// What one run() answered.
struct Answer {
  cp_status status = CP_STATUS_INVALID;
  std::string output;  // ok, pending
  std::string error;   // failed, retryable, veto

  // The output parsed as a JSON object; throws when it is not one.
  boost::json::object json() const { return boost::json::parse(output).as_object(); }
};

// The step type `name` in `plugin`, or nullptr.
inline const cp_step_type* find_step_type(const cp_plugin* plugin, std::string_view name) {
  for (std::size_t i = 0; i < plugin->step_type_count; ++i) {
    if (name == plugin->step_types[i]->name) {
      return plugin->step_types[i];
    }
  }
  return nullptr;
}

struct Created;

// A step instance made through the ABI, destroyed through it.
class StepUnderTest {
 public:
  // Calls the step type's create() with `config_json`.
  static Created create(const cp_plugin* plugin, std::string_view name,
                        std::string_view config_json);

  // create(), which must succeed.
  static StepUnderTest make(const cp_plugin* plugin, std::string_view name,
                            std::string_view config_json);

  StepUnderTest(StepUnderTest&& other) noexcept
      : type_(other.type_), instance_(std::exchange(other.instance_, nullptr)) {}
  StepUnderTest& operator=(StepUnderTest&&) = delete;
  StepUnderTest(const StepUnderTest&) = delete;
  StepUnderTest& operator=(const StepUnderTest&) = delete;
  ~StepUnderTest() {
    if (instance_ != nullptr) {
      type_->destroy(instance_);
    }
  }

  Answer run(std::string_view input_json, FakeCall& call, const cp_host_api& host) const {
    Answer answer;
    answer.status =
        type_->run(instance_, &host, &call, cp_str{input_json.data(), input_json.size()},
                   string_sink(answer.output), string_sink(answer.error));
    return answer;
  }

  // run() with a host that offers everything and the call's default key.
  Answer run(std::string_view input_json) const {
    FakeCall call;
    const cp_host_api host = fake_host();
    return run(input_json, call, host);
  }

 private:
  StepUnderTest(const cp_step_type* type, void* instance) : type_(type), instance_(instance) {}

  const cp_step_type* type_;
  void* instance_;
};

// What create() answered: an instance, or the status and message it refused with.
struct Created {
  cp_status status = CP_STATUS_INVALID;
  std::string error;
  std::optional<StepUnderTest> step;
};

inline Created StepUnderTest::create(const cp_plugin* plugin, std::string_view name,
                                     std::string_view config_json) {
  const cp_step_type* type = find_step_type(plugin, name);
  if (type == nullptr) {
    throw std::logic_error("no step type " + std::string(name));
  }
  Created created;
  void* instance = nullptr;
  created.status = type->create(cp_str{config_json.data(), config_json.size()}, &instance,
                                string_sink(created.error));
  if (created.status == CP_STATUS_OK) {
    created.step.emplace(StepUnderTest(type, instance));
  }
  return created;
}

inline StepUnderTest StepUnderTest::make(const cp_plugin* plugin, std::string_view name,
                                         std::string_view config_json) {
  Created created = create(plugin, name, config_json);
  if (!created.step) {
    throw std::logic_error("create failed: " + created.error);
  }
  return std::move(*created.step);
}

// A step input as the engine builds it, with `data` holding the given case fields.
inline std::string step_input(const boost::json::object& data) {
  return boost::json::serialize(boost::json::object{
      {"case",
       {{"id", "c-0001"},
        {"code", "KOL-2026-0042"},
        {"workflow", "aftercare"},
        {"workflow_version", 1},
        {"state", "in_care"}}},
      {"event", "step_event"},
      {"from", "in_care"},
      {"to", "in_care"},
      {"data", data},
  });
}

// The day as "YYYY-MM-DD".
inline std::string format_day(std::chrono::sys_days day) {
  const std::chrono::year_month_day ymd{day};
  std::array<char, 16> text{};
  std::snprintf(text.data(), text.size(), "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return text.data();
}

// Today on the system clock, in UTC, as the first-party plugins read it.
inline std::chrono::sys_days utc_today() {
  return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
}

// Inputs no step may crash on; every one must answer failed.
inline std::vector<std::string> garbage_inputs() {
  return {
      "",
      "not json",
      "{",
      "[]",
      "42",
      "null",
      R"({"case": {}})",
      R"({"data": 7})",
      R"({"data": [1, 2]})",
      std::string(10000, '['),
      std::string("{\"data\": {\"x\": \"\0\"}", 19),
  };
}

}  // namespace carepath::test
