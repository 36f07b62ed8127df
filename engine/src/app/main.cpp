// carepath: one binary, with subcommands for the server, admins and operators.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <pthread.h>
#include <unistd.h>

#include "app/config.hpp"
#include "app/engine.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "plugin_host/registry.hpp"
#include "security/tokens.hpp"
#include "store/sqlite_store.hpp"
#include "workflow/loader.hpp"

namespace {

using carepath::Errc;
using carepath::Error;
using carepath::LogLevel;
using carepath::Result;
using carepath::app::Config;

constexpr const char* kUsage = R"(usage: carepath <command> [options]

commands:
  serve       run the HTTP API
                --listen HOST:PORT   (CAREPATH_LISTEN, default 127.0.0.1:8080)
                --db PATH            (CAREPATH_DB, default var/carepath.db)
                --workflows DIR      (CAREPATH_WORKFLOWS, default workflows)
                --plugins DIR[:DIR]  (CAREPATH_PLUGINS; directories of plugin *.so files)
                --config FILE        (CAREPATH_CONFIG; YAML, see config/carepath.yaml)
                --timezone ZONE      (CAREPATH_TIMEZONE, default Asia/Kolkata)
                --test-clock START   (CAREPATH_TEST_CLOCK; tests and training only: a clock
                                      moved by POST /v1/admin/clock)
  validate FILE... [--plugins DIR]   check workflow files; errors as FILE:LINE:COL: error: ...
  plugins check FILE.so              load one plugin, list its steps, check its schemas
  token create --user NAME --roles r1,r2 [--db PATH]   print a new API token (shown once)
  token revoke ID|TOKEN [--db PATH]                    revoke a token
  token list [--db PATH]                               list tokens (never the secrets)
  version                                              print the version
)";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // "--body-limit X" -> {"body_limit", "X"}
};

Result<Args> parse_args(int argc, char** argv, int first) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      args.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Error{Errc::invalid_argument, "option --" + name + " needs a value"};
    }
    for (char& c : name) {
      c = c == '-' ? '_' : c;
    }
    args.flags[name] = value;
  }
  return args;
}

// Defaults, then the config file, then CAREPATH_* variables, then flags.
Result<Config> make_config(std::map<std::string, std::string> flags) {
  Config config;
  std::string config_file;
  if (const char* env = std::getenv("CAREPATH_CONFIG"); env != nullptr && *env != '\0') {
    config_file = env;
  }
  if (auto it = flags.find("config"); it != flags.end()) {
    config_file = it->second;
    flags.erase(it);
  }
  if (!config_file.empty()) {
    if (auto r = carepath::app::apply_config_file(config, config_file); !r) {
      return r.error();
    }
  }
  if (auto r = carepath::app::apply_environment(config); !r) {
    return r.error();
  }
  if (auto r = carepath::app::apply_flags(config, flags); !r) {
    return r.error();
  }
  return config;
}

void install_stderr_log(LogLevel level) {
  carepath::set_log_level(level);
  carepath::set_log_sink([](LogLevel l, std::string_view message,
                            std::initializer_list<carepath::LogAttribute> attributes) {
    std::string line = carepath::format_timestamp(carepath::SystemClock().now());
    line += ' ';
    line += carepath::log_level_name(l);
    line += ' ';
    line += message;
    for (const auto& [key, value] : attributes) {
      line += ' ';
      line += key;
      line += '=';
      line += value;
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  });
}

int fail(const std::string& message) {
  std::cerr << "carepath: " << message << '\n';
  return 1;
}

int serve(const Args& args) {
  auto config = make_config(args.flags);
  if (!config) {
    return fail(config.error().message);
  }
  install_stderr_log(config->log_level);

  // Block the stop signals in every thread; this one waits for them with sigwait().
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto engine = carepath::app::Engine::open(*config);
  if (!engine) {
    return fail(engine.error().message);
  }
  auto port = (*engine)->start();
  if (!port) {
    return fail(port.error().message);
  }
  const bool v6 = config->host.find(':') != std::string::npos;
  carepath::log(LogLevel::info,
                "listening on http://" + (v6 ? "[" + config->host + "]" : config->host) + ":" +
                    std::to_string(*port),
                {{"db", config->db}, {"workflows", config->workflows}});
  int signal = 0;
  sigwait(&stop_signals, &signal);
  carepath::log(LogLevel::info, "shutting down",
                {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*engine)->stop();
  carepath::log(LogLevel::info, "stopped");
  return 0;
}

int validate(const Args& args) {
  if (args.positional.empty()) {
    return fail("validate: name at least one workflow file");
  }
  auto config = make_config(args.flags);
  if (!config) {
    return fail(config.error().message);
  }
  install_stderr_log(LogLevel::warning);
  // Steps are checked against the plugins the server would load.
  const auto steps = carepath::app::load_steps(*config);
  bool ok = true;
  for (const auto& file : args.positional) {
    const auto loaded = carepath::workflow::load_workflow_file(file, steps.get());
    for (const auto& d : loaded.diagnostics) {
      std::cerr << carepath::workflow::to_string(d) << '\n';
    }
    if (loaded.ok()) {
      std::cout << file << ": ok (workflow " << loaded.workflow->name << " version "
                << loaded.workflow->version << ")\n";
    } else {
      ok = false;
    }
  }
  return ok ? 0 : 1;
}

void print_schema_line(const char* label, const boost::json::value& v) {
  std::cout << "    " << label << ": " << boost::json::serialize(v) << '\n';
}

int plugins(const Args& args) {
  if (args.positional.size() != 2 || args.positional[0] != "check") {
    return fail("plugins: expected `plugins check FILE.so`");
  }
  install_stderr_log(LogLevel::warning);
  auto info = carepath::plugin_host::check_plugin_file(args.positional[1]);
  if (!info) {
    std::cerr << "carepath: plugins check: " << info.error().message << '\n';
    return 1;
  }
  std::cout << "plugin " << info->name << " " << info->version << " (ABI " << info->abi_major << "."
            << info->abi_minor << ") from " << info->file.string() << '\n';
  for (const auto& step : info->step_types) {
    std::cout << "  step " << step.name
              << (step.description.empty() ? "" : " - " + step.description) << '\n';
    print_schema_line("with", step.config_schema);
    std::string reads;
    for (const auto& r : step.reads) {
      reads += (reads.empty() ? "" : ", ") + r;
    }
    std::cout << "    reads: " << (reads.empty() ? "(nothing)" : reads) << '\n';
  }
  for (const auto& warning : info->warnings) {
    std::cout << "warning: " << warning << '\n';
  }
  std::cout << "ok\n";
  return 0;
}

std::vector<std::string> split_roles(const std::string& text) {
  std::vector<std::string> roles;
  std::string current;
  for (const char c : text + ",") {
    if (c == ',') {
      if (!current.empty()) {
        roles.push_back(current);
      }
      current.clear();
    } else if (c != ' ') {
      current += c;
    }
  }
  return roles;
}

Result<std::unique_ptr<carepath::store::SqliteStore>> open_store(const Config& config) {
  if (config.db != ":memory:") {
    std::error_code ec;
    const auto parent = std::filesystem::path(config.db).parent_path();
    if (!parent.empty()) {
      std::filesystem::create_directories(parent, ec);
    }
  }
  return carepath::store::SqliteStore::open(config.db);
}

int token(const Args& args) {
  if (args.positional.empty()) {
    return fail("token: expected create, revoke or list");
  }
  auto flags = args.flags;
  std::string user;
  std::string roles;
  if (auto it = flags.find("user"); it != flags.end()) {
    user = it->second;
    flags.erase(it);
  }
  if (auto it = flags.find("roles"); it != flags.end()) {
    roles = it->second;
    flags.erase(it);
  }
  auto config = make_config(flags);
  if (!config) {
    return fail(config.error().message);
  }
  auto store = open_store(*config);
  if (!store) {
    return fail(store.error().message);
  }
  const std::string& verb = args.positional[0];
  const carepath::SystemClock clock;
  if (verb == "create") {
    if (user.empty() || roles.empty()) {
      return fail("token create: --user NAME and --roles r1,r2 are required");
    }
    auto issued = carepath::security::issue_token(user, split_roles(roles), clock.now());
    if (!issued) {
      return fail("token create: " + issued.error().message);
    }
    if (auto r = (*store)->create_token(issued->record); !r) {
      return fail("token create: " + r.error().message);
    }
    std::cerr << "token " << issued->record.id << " for user '" << user << "' with roles " << roles
              << "; it is shown only this once\n";
    std::cout << issued->token << '\n';
    return 0;
  }
  if (verb == "revoke") {
    if (args.positional.size() != 2) {
      return fail("token revoke: name one token id (from `carepath token list`) or token");
    }
    std::string id = args.positional[1];
    // A whole token "cp_<id>_<secret>" is accepted too: revoking a leaked token should not
    // need a lookup first.
    if (id.rfind("cp_", 0) == 0) {
      const auto end = id.find('_', 3);
      id = id.substr(3, end == std::string::npos ? std::string::npos : end - 3);
    }
    if (auto r = (*store)->revoke_token(id, clock.now()); !r) {
      return fail("token revoke: " + r.error().message);
    }
    std::cout << "revoked " << id << '\n';
    return 0;
  }
  if (verb == "list") {
    auto tokens = (*store)->tokens();
    if (!tokens) {
      return fail("token list: " + tokens.error().message);
    }
    std::printf("%-14s %-20s %-40s %-26s %s\n", "ID", "USER", "ROLES", "CREATED", "REVOKED");
    for (const auto& t : *tokens) {
      std::string role_list;
      for (const auto& r : t.roles) {
        role_list += (role_list.empty() ? "" : ",") + r;
      }
      std::printf("%-14s %-20s %-40s %-26s %s\n", t.id.c_str(), t.user.c_str(), role_list.c_str(),
                  carepath::format_timestamp(t.created_at).c_str(),
                  t.revoked_at ? carepath::format_timestamp(*t.revoked_at).c_str() : "-");
    }
    return 0;
  }
  return fail("token: unknown subcommand '" + verb + "'; expected create, revoke or list");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "version" || command == "--version") {
    std::cout << "carepath 0.1.0\n";
    return 0;
  }
  auto args = parse_args(argc, argv, 2);
  if (!args) {
    return fail(args.error().message);
  }
  if (command == "serve") {
    return serve(*args);
  }
  if (command == "validate") {
    return validate(*args);
  }
  if (command == "token") {
    return token(*args);
  }
  if (command == "plugins") {
    return plugins(*args);
  }
  std::cerr << "carepath: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
