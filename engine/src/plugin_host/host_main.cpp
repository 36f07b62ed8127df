// carepath-plugin-host PLUGIN.so [--sha256 HEX]
//
// The host process of a plugin configured with `isolation: process`: loads the one plugin with
// the engine's own Registry and answers the engine's requests on stdin/stdout, one JSON object
// per line (the protocol is described in remote.hpp). Started by the engine, never by people.
//
// What the plugin itself prints to stdout or stderr goes to stderr, which the engine logs; the
// protocol keeps a private copy of the original stdin/stdout.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/log.hpp"
#include "plugin_host/registry.hpp"

namespace {

namespace json = boost::json;
using carepath::StepStatus;

// The engine writes requests no larger than a case's input; more means something is wrong.
constexpr std::size_t kMaxRequestBytes = std::size_t{64} << 20U;
constexpr int kMaxRequestDepth = 128;

int g_protocol = -1;  // the socket the engine gave as stdin and stdout

bool write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(g_protocol, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool answer(const json::object& reply) {
  std::string line = json::serialize(reply);
  line += '\n';
  return write_all(line);
}

json::object refusal(std::string message) {
  return json::object{{"ok", false}, {"message", std::move(message)}};
}

std::string_view status_name(StepStatus status) {
  switch (status) {
    case StepStatus::ok:
      return "ok";
    case StepStatus::failed:
      return "failed";
    case StepStatus::retryable:
      return "retryable";
    case StepStatus::pending:
      return "pending";
    case StepStatus::veto:
      return "veto";
  }
  return "failed";
}

// Log lines as JSON objects on stderr, for the engine to re-log under the plugin's name. Only
// the step attribute is kept: the engine adds the plugin.
void log_to_stderr(carepath::LogLevel level, std::string_view message,
                   std::initializer_list<carepath::LogAttribute> attributes) {
  // The plugin's own lines carry its step; of the host's own, only problems are worth a line
  // (the engine logs the load itself).
  bool from_step = false;
  for (const auto& [key, value] : attributes) {
    from_step = from_step || key == "step";
  }
  if (!from_step && level < carepath::LogLevel::warning) {
    return;
  }
  json::object line{{"level", level == carepath::LogLevel::debug     ? "debug"
                              : level == carepath::LogLevel::warning ? "warning"
                              : level == carepath::LogLevel::error   ? "error"
                                                                     : "info"},
                    {"message", message}};
  for (const auto& [key, value] : attributes) {
    if (key == "step") {
      line["step"] = value;
    }
  }
  std::string text = json::serialize(line);
  text += '\n';
  (void)!::write(STDERR_FILENO, text.data(), text.size());
}

class Host {
 public:
  explicit Host(std::unique_ptr<carepath::plugin_host::Registry> registry,
                carepath::Result<carepath::plugin_host::PluginInfo> loaded)
      : registry_(std::move(registry)), loaded_(std::move(loaded)) {}

  json::object handle(const json::object& request) {
    const auto* op = request.if_contains("op");
    if (op == nullptr || !op->is_string()) {
      return refusal("request without an op");
    }
    if (!loaded_) {
      return refusal(loaded_.error().message);
    }
    const std::string_view name = op->get_string();
    if (name == "describe") {
      return describe();
    }
    const auto* id = request.if_contains("instance");
    if (id == nullptr || (!id->is_uint64() && !id->is_int64())) {
      return refusal("request without an instance");
    }
    const auto instance = id->to_number<std::uint64_t>();
    if (name == "create") {
      return create(instance, request);
    }
    if (name == "run") {
      return run(instance, request);
    }
    if (name == "destroy") {
      instances_.erase(instance);
      return json::object{{"ok", true}};
    }
    return refusal("unknown op");
  }

 private:
  json::object describe() const {
    json::array steps;
    for (const auto& step : loaded_->step_types) {
      json::array reads;
      for (const auto& r : step.reads) {
        reads.emplace_back(r);
      }
      steps.push_back(json::object{{"name", step.name},
                                   {"description", step.description},
                                   {"config_schema", step.config_schema},
                                   {"reads", std::move(reads)}});
    }
    return json::object{{"ok", true},
                        {"plugin", json::object{{"name", loaded_->name},
                                                {"version", loaded_->version},
                                                {"abi_major", loaded_->abi_major},
                                                {"abi_minor", loaded_->abi_minor},
                                                {"step_types", std::move(steps)}}}};
  }

  json::object create(std::uint64_t instance, const json::object& request) {
    const auto* step = request.if_contains("step");
    const auto* config = request.if_contains("config");
    if (step == nullptr || !step->is_string() || config == nullptr || !config->is_object()) {
      return refusal("create needs a step and a config object");
    }
    const carepath::StepType* type = registry_->find(step->get_string());
    if (type == nullptr) {
      return refusal("no step '" + std::string(step->get_string()) + "' in this plugin");
    }
    auto made = type->create(config->get_object());
    if (!made) {
      return refusal(made.error().message);
    }
    instances_[instance] = std::move(*made);
    return json::object{{"ok", true}};
  }

  json::object run(std::uint64_t instance, const json::object& request) {
    const auto found = instances_.find(instance);
    if (found == instances_.end()) {
      return refusal("no such step instance");
    }
    const auto* key = request.if_contains("idempotency_key");
    const auto* input = request.if_contains("input");
    if (key == nullptr || !key->is_string() || input == nullptr || !input->is_object()) {
      return refusal("run needs an idempotency_key and an input object");
    }
    carepath::StepInput step_input{std::string(key->get_string()), input->get_object()};
    carepath::StepOutcome out = found->second->run(step_input);
    json::object reply{{"ok", true}, {"status", status_name(out.status)}};
    if (out.status == StepStatus::ok || out.status == StepStatus::pending) {
      reply["output"] = std::move(out.output);
    } else {
      reply["message"] = std::move(out.message);
    }
    return reply;
  }

  std::unique_ptr<carepath::plugin_host::Registry> registry_;
  carepath::Result<carepath::plugin_host::PluginInfo> loaded_;
  std::map<std::uint64_t, std::shared_ptr<const carepath::StepInstance>> instances_;
};

int usage() {
  std::cerr << "usage: carepath-plugin-host PLUGIN.so [--sha256 HEX]\n"
               "Started by the carepath engine for plugins with `isolation: process`; it "
               "speaks JSON lines on stdin/stdout.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::string_view(argv[2]) == "--sha256")) {
    return usage();
  }
  // Die with the engine, even while the plugin hangs (strictly: with the engine thread that
  // started this host; the engine starts hosts from threads that live as long as it does);
  // otherwise live until the engine closes the connection, even when a terminal's Ctrl-C or a
  // service manager's SIGTERM reaches the whole process group: the engine finishes its calls first.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  if (::getppid() == 1) {
    return 1;
  }
  // Keep the protocol for ourselves; the plugin's prints go to stderr, its reads see nothing.
  g_protocol = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (g_protocol < 0 || null < 0 || ::dup2(null, STDIN_FILENO) < 0 ||
      ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::perror("carepath-plugin-host: cannot set up its streams");
    return 1;
  }
  ::close(null);
  carepath::set_log_sink(&log_to_stderr);

  auto registry = std::make_unique<carepath::plugin_host::Registry>();
  // The engine enforces the time limit by killing this process: calls run on this thread.
  carepath::plugin_host::CallPolicy policy;
  policy.step_timeout_ms = 0;
  registry->set_policy(policy);
  carepath::plugin_host::Allowlist allow;
  const std::string file = argv[1];
  if (argc == 4) {
    allow.files[std::filesystem::path(file).filename().string()] = argv[3];
  }
  auto loaded = registry->load(file, argc == 4 ? &allow : nullptr);
  Host host(std::move(registry), std::move(loaded));

  std::string buffer;
  std::array<char, 65536> chunk{};
  for (;;) {
    const ssize_t n = ::read(g_protocol, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return 0;  // the engine closed the connection
    }
    buffer.append(chunk.data(), static_cast<std::size_t>(n));
    for (auto end = buffer.find('\n'); end != std::string::npos; end = buffer.find('\n')) {
      json::parse_options options;
      options.max_depth = kMaxRequestDepth;
      boost::system::error_code ec;
      json::value request = json::parse(std::string_view(buffer).substr(0, end), ec, {}, options);
      buffer.erase(0, end + 1);
      json::object reply;
      if (ec || !request.is_object()) {
        reply = refusal("request is not a JSON object");
      } else {
        try {
          reply = host.handle(request.get_object());
        } catch (const std::exception&) {
          reply = refusal("the plugin host failed to handle the request");
        }
      }
      if (!answer(reply)) {
        return 0;
      }
    }
    if (buffer.size() > kMaxRequestBytes) {
      std::cerr << "carepath-plugin-host: request over " << kMaxRequestBytes << " bytes\n";
      return 1;
    }
  }
}
