#include "plugin_host/adapter.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_schema.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "plugin_host/call_threads.hpp"
#include "plugin_host/host_api.hpp"

namespace carepath::plugin_host {
namespace {

constexpr int kMaxOutputJsonDepth = 64;

// A host-owned buffer behind a cp_sink. Writes past `limit` are dropped and remembered.
struct SinkBuffer {
  std::string bytes;
  std::size_t limit = 0;
  bool overflowed = false;
};

void sink_write(void* host, cp_str bytes) noexcept {
  auto* buffer = static_cast<SinkBuffer*>(host);
  if (buffer == nullptr || (bytes.data == nullptr && bytes.size != 0)) {
    return;
  }
  try {
    const std::size_t room = buffer->limit - buffer->bytes.size();
    if (bytes.size > room) {
      buffer->bytes.append(bytes.data, room);
      buffer->overflowed = true;
      return;
    }
    buffer->bytes.append(bytes.data, bytes.size);
  } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory; the call fails as overflowed
    buffer->overflowed = true;
  }
}

cp_sink sink_for(SinkBuffer& buffer) {
  return cp_sink{&buffer, &sink_write};
}

cp_str view(const std::string& s) {
  return cp_str{s.data(), s.size()};
}

StepOutcome failed(std::string message) {
  StepOutcome out;
  out.status = StepStatus::failed;
  out.message = std::move(message);
  return out;
}

// The error sink's text, or a stand-in when the plugin wrote none.
std::string reason(const SinkBuffer& error, const std::string& step) {
  if (error.bytes.empty()) {
    return "step '" + step + "' gave no reason";
  }
  return error.bytes;
}

StepOutcome retryable(std::string message) {
  StepOutcome out;
  out.status = StepStatus::retryable;
  out.message = std::move(message);
  return out;
}

// Whether restrict_input(input, reads) would give `input` unchanged: no `data` object, or one
// whose fields are all in `reads` and in the order of `reads`.
bool within_reads(const boost::json::object& input, const std::vector<std::string>& reads) {
  const auto* data = input.if_contains("data");
  if (data == nullptr || !data->is_object()) {
    return true;
  }
  std::size_t next = 0;  // where in `reads` the next field may be found
  for (const auto& field : data->get_object()) {
    while (next < reads.size() && reads[next] != field.key()) {
      ++next;
    }
    if (next == reads.size()) {
      return false;
    }
    ++next;
  }
  return true;
}

// One in-process call on its helper thread. Owned jointly by the caller and the thread, so
// either may finish first; everything the plugin borrows (input, key, context) lives here.
struct Job {
  std::string input;
  std::string key;
  CallContext context;
  std::optional<LogContext> log_context;  // the caller's, so the plugin's lines carry it too
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false;       // GUARDED_BY(mutex)
  bool abandoned = false;  // GUARDED_BY(mutex)
  StepOutcome outcome;     // GUARDED_BY(mutex); set when done
};

class PluginStepInstance final : public StepInstance,
                                 public std::enable_shared_from_this<PluginStepInstance> {
 public:
  PluginStepInstance(std::shared_ptr<const PluginStep> step, void* handle)
      : step_(std::move(step)), handle_(handle) {}

  ~PluginStepInstance() override {
    try {
      step_->step.functions.destroy(handle_);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a throwing destroy leaks, it must not abort
    }
  }

  PluginStepInstance(const PluginStepInstance&) = delete;
  PluginStepInstance& operator=(const PluginStepInstance&) = delete;
  PluginStepInstance(PluginStepInstance&&) = delete;
  PluginStepInstance& operator=(PluginStepInstance&&) = delete;

  StepOutcome run(const StepInput& input) const override {
    auto job = std::make_shared<Job>();
    try {
      // The engine's input holds only declared fields already (runtime::step_input): then it
      // is written as it is, without the copy restrict_input would make of it.
      job->input = within_reads(input.input, step_->step.reads)
                       ? boost::json::serialize(input.input)
                       : boost::json::serialize(restrict_input(input.input, step_->step.reads));
      job->key = input.idempotency_key;
    } catch (...) {
      return failed("step input could not be prepared");
    }
    job->context.step_name = step_->step.name;
    job->context.idempotency_key = job->key;
    const CallLimits* limits = step_->limits.get();
    if (limits == nullptr || limits->timeout_ms <= 0) {
      return guarded(*job);
    }
    return run_limited(std::move(job));
  }

 private:
  StepOutcome run_limited(std::shared_ptr<Job> job) const {
    CallLimits& limits = *step_->limits;
    const std::string& type = step_->step.name;
    if (limits.outstanding.load() >= limits.max_abandoned) {
      return retryable("step " + type + " of plugin " + step_->plugin +
                       " was not called: " + std::to_string(limits.outstanding.load()) +
                       " earlier calls did not answer in time and are still running");
    }
    if (const LogContext* caller = carepath::log_context(); caller != nullptr) {
      job->log_context = *caller;
    }
    try {
      CallThreads::shared().run([self = shared_from_this(), job]() mutable {
        std::optional<ScopedLogContext> scope;
        if (job->log_context) {
          scope.emplace(*job->log_context);
        }
        StepOutcome outcome = self->guarded(*job);
        scope.reset();
        const std::shared_ptr<CallLimits> call_limits = self->step_->limits;
        const std::string plugin = self->step_->plugin;
        const std::string name = self->step_->step.name;
        // The caller decides when the instance (and its library) goes, as without a time limit:
        // this thread lets go of it before the caller can see the answer.
        self.reset();
        const std::lock_guard lock(job->mutex);
        job->outcome = std::move(outcome);
        job->done = true;
        if (job->abandoned) {
          call_limits->outstanding.fetch_sub(1);
          log(LogLevel::warning, "an abandoned step call returned at last; its answer is dropped",
              {{"plugin", plugin}, {"step", name}});
        }
        job->done_changed.notify_all();
      });
    } catch (const std::system_error&) {
      return retryable("step " + type + " of plugin " + step_->plugin +
                       " was not called: no thread to run it on");
    }

    std::unique_lock lock(job->mutex);
    if (job->done_changed.wait_for(lock, std::chrono::milliseconds(limits.timeout_ms),
                                   [&job] { return job->done; })) {
      return std::move(job->outcome);
    }
    job->abandoned = true;
    job->context.cancelled.store(true);
    metrics::engine().plugin_timeouts.add({step_->plugin});
    const int outstanding = limits.outstanding.fetch_add(1) + 1;
    const auto total = limits.abandoned.fetch_add(1) + 1;
    const std::string limit = duration_text(limits.timeout_ms);
    log(LogLevel::warning, "a step call did not answer within its time limit and was abandoned",
        {{"plugin", step_->plugin},
         {"step", type},
         {"timeout", limit},
         {"still_running", std::to_string(outstanding)},
         {"abandoned_total", std::to_string(total)}});
    return retryable("step " + type + " of plugin " + step_->plugin + " did not answer within " +
                     limit + "; abandoned");
  }

  StepOutcome guarded(Job& job) const {
    try {
      return call(job);
    } catch (...) {
      // A plugin not built with the SDK can let an exception unwind through the C boundary.
      return failed("plugin threw an exception");
    }
  }

  StepOutcome call(Job& job) const {
    const StepTypeDescriptor& type = step_->step;
    SinkBuffer output{{}, kMaxOutputBytes};
    SinkBuffer error{{}, kMaxMessageBytes};
    const auto status = static_cast<int>(type.functions.run(
        handle_, host_api(), &job.context, view(job.input), sink_for(output), sink_for(error)));

    StepOutcome out;
    switch (status) {
      case CP_STATUS_OK:
        out.status = StepStatus::ok;
        break;
      case CP_STATUS_PENDING:
        out.status = StepStatus::pending;
        break;
      case CP_STATUS_FAILED:
        return failed(reason(error, type.name));
      case CP_STATUS_RETRYABLE:
        out.status = StepStatus::retryable;
        out.message = reason(error, type.name);
        return out;
      case CP_STATUS_VETO:
        out.status = StepStatus::veto;
        out.message = reason(error, type.name);
        return out;
      default:
        return failed("plugin returned an invalid status");
    }
    if (output.overflowed) {
      return failed("plugin returned too much output");
    }
    if (output.bytes.empty()) {
      return out;  // nothing to set, no task description
    }
    boost::json::parse_options options;
    options.max_depth = kMaxOutputJsonDepth;
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(output.bytes, ec, {}, options);
    if (ec || !parsed.is_object()) {
      return failed("plugin returned invalid JSON output");
    }
    out.output = std::move(parsed.get_object());
    return out;
  }

  std::shared_ptr<const PluginStep> step_;
  void* handle_;
};

class PluginStepType final : public StepType {
 public:
  explicit PluginStepType(std::shared_ptr<const PluginStep> step) : step_(std::move(step)) {}

  const std::string& name() const override { return step_->step.name; }
  const std::string& description() const override { return step_->step.description; }
  const boost::json::value& config_schema() const override { return step_->step.config_schema; }
  const std::vector<std::string>& reads() const override { return step_->step.reads; }
  const std::string& plugin() const override { return step_->plugin; }
  const std::string& plugin_version() const override { return step_->plugin_version; }

  Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& config) const override {
    try {
      return make(config);
    } catch (...) {
      return make_error(Errc::plugin, "step '" + name() + "': plugin threw an exception");
    }
  }

 private:
  Result<std::shared_ptr<const StepInstance>> make(const boost::json::object& config) const {
    // The workflow loader checks `with:` against the schema already; checking again here keeps
    // plugins (often C code trusting the schema) safe from any caller that did not.
    if (auto checked = check_config(*this, config); !checked) {
      return checked.error();
    }

    const std::string text = boost::json::serialize(config);
    void* handle = nullptr;
    SinkBuffer error{{}, kMaxMessageBytes};
    const auto status =
        static_cast<int>(step_->step.functions.create(view(text), &handle, sink_for(error)));
    switch (status) {
      case CP_STATUS_OK:
        return std::shared_ptr<const StepInstance>(
            std::make_shared<PluginStepInstance>(step_, handle));
      case CP_STATUS_FAILED:
      case CP_STATUS_RETRYABLE:
      case CP_STATUS_PENDING:
      case CP_STATUS_VETO:
        return make_error(Errc::plugin, error.bytes.empty()
                                            ? "step '" + name() + "' refused its configuration"
                                            : error.bytes);
      default:
        return make_error(Errc::plugin, "step '" + name() + "': plugin returned an invalid status");
    }
  }

  std::shared_ptr<const PluginStep> step_;
};

}  // namespace

boost::json::object restrict_input(const boost::json::object& input,
                                   const std::vector<std::string>& reads) {
  boost::json::object copy = input;
  auto* data = copy.if_contains("data");
  if (data == nullptr || !data->is_object()) {
    return copy;
  }
  boost::json::object allowed;
  for (const auto& name : reads) {
    if (const auto* value = data->get_object().if_contains(name); value != nullptr) {
      allowed[name] = *value;
    }
  }
  *data = std::move(allowed);
  return copy;
}

Result<void> check_config(const StepType& type, const boost::json::object& config) {
  const boost::json::value& schema = type.config_schema();
  if (schema.is_null()) {
    if (!config.empty()) {
      return make_error(Errc::invalid_argument,
                        "step '" + type.name() + "' takes no configuration");
    }
    return {};
  }
  const auto problems = validate_schema(schema, config);
  if (problems.empty()) {
    return {};
  }
  std::string message = "step '" + type.name() + "': invalid configuration: ";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    message += (i > 0 ? "; " : "") + (problems[i].path.empty() ? "/" : problems[i].path) + ": " +
               problems[i].message;
  }
  return make_error(Errc::invalid_argument, std::move(message));
}

std::string duration_text(std::int64_t ms) {
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

std::unique_ptr<StepType> make_plugin_step_type(std::shared_ptr<const PluginStep> step) {
  return std::make_unique<PluginStepType>(std::move(step));
}

}  // namespace carepath::plugin_host
