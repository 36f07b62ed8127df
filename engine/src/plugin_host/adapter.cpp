#include "plugin_host/adapter.hpp"

#include <string_view>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/json_schema.hpp"
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

class PluginStepInstance final : public StepInstance {
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
    try {
      return call(input);
    } catch (...) {
      // A plugin not built with the SDK can let an exception unwind through the C boundary.
      return failed("plugin threw an exception");
    }
  }

 private:
  StepOutcome call(const StepInput& input) const {
    const StepTypeDescriptor& type = step_->step;
    const std::string text = boost::json::serialize(restricted(input.input));

    CallContext context;
    context.step_name = type.name;
    context.idempotency_key = input.idempotency_key;
    SinkBuffer output{{}, kMaxOutputBytes};
    SinkBuffer error{{}, kMaxMessageBytes};
    const auto status = static_cast<int>(type.functions.run(
        handle_, host_api(), &context, view(text), sink_for(output), sink_for(error)));

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

  // The input with `data` cut down to the fields the step declared: the ABI promises the plugin
  // sees no others, and this is the last place that can keep that promise.
  boost::json::object restricted(const boost::json::object& input) const {
    boost::json::object copy = input;
    auto* data = copy.if_contains("data");
    if (data == nullptr || !data->is_object()) {
      return copy;
    }
    boost::json::object allowed;
    for (const auto& name : step_->step.reads) {
      if (const auto* value = data->get_object().if_contains(name); value != nullptr) {
        allowed[name] = *value;
      }
    }
    *data = std::move(allowed);
    return copy;
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
    const boost::json::value& schema = config_schema();
    if (schema.is_null()) {
      if (!config.empty()) {
        return make_error(Errc::invalid_argument, "step '" + name() + "' takes no configuration");
      }
    } else {
      const auto problems = validate_schema(schema, config);
      if (!problems.empty()) {
        std::string message = "step '" + name() + "': invalid configuration: ";
        for (std::size_t i = 0; i < problems.size(); ++i) {
          message += (i > 0 ? "; " : "") + (problems[i].path.empty() ? "/" : problems[i].path) +
                     ": " + problems[i].message;
        }
        return make_error(Errc::invalid_argument, std::move(message));
      }
    }

    const std::string text = boost::json::serialize(config);
    void* handle = nullptr;
    SinkBuffer error{{}, kMaxMessageBytes};
    const auto status =
        static_cast<int>(step_->step.functions.create(view(text), &handle, sink_for(error)));
    switch (status) {
      case CP_STATUS_OK:
        return std::make_shared<const PluginStepInstance>(step_, handle);
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

std::unique_ptr<StepType> make_plugin_step_type(std::shared_ptr<const PluginStep> step) {
  return std::make_unique<PluginStepType>(std::move(step));
}

}  // namespace carepath::plugin_host
