// carepath: one binary, with subcommands for the server, admins and operators.
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/json/serialize.hpp>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/reports.hpp"
#include "app/config.hpp"
#include "app/engine.hpp"
#include "app/import.hpp"
#include "app/maintenance.hpp"
#include "app/zoneinfo.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "plugin_host/registry.hpp"
#include "security/crypto.hpp"
#include "security/digest.hpp"
#include "security/protected_store.hpp"
#include "security/tokens.hpp"
#include "store/sqlite_backup.hpp"
#include "store/sqlite_store.hpp"
#include "workflow/diff.hpp"
#include "workflow/graph.hpp"
#include "workflow/loader.hpp"
#include "workflow/migration_plan.hpp"

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
                --step-timeout DUR   (CAREPATH_STEP_TIMEOUT, default 30s; a plugin step call
                                      that takes longer fails as retryable; per plugin, and
                                      `isolation: process`, in the config file's
                                      plugin_settings)
                --config FILE        (CAREPATH_CONFIG; YAML, see config/carepath.yaml)
                --timezone ZONE      (CAREPATH_TIMEZONE, default Asia/Kolkata)
                --test-clock START   (CAREPATH_TEST_CLOCK; tests and training only: a clock
                                      moved by POST /v1/admin/clock)
                --master-key FILE    (CAREPATH_MASTER_KEY_FILE; required: the key file from
                                      `carepath keys init`)
                --own-cases-only     (CAREPATH_OWN_CASES_ONLY; callers other than supervisors
                                      see only the cases they hold)
  validate FILE... [--plugins DIR]   check workflow files; errors as FILE:LINE:COL: error: ...
  graph FILE [--format mermaid|dot|svg] [--output OUT] [--plugins DIR]
                                     draw a workflow (default mermaid; svg runs Graphviz's dot)
  diff OLD NEW [--format text|json] [--plugins DIR]
                                     compare two versions of a workflow; exit 0 when nothing
                                     changed, 3 when something changed, 4 when a change would
                                     strand running cases, 1 on errors
  migrate PLAN [--dry-run] [--db PATH] [--workflows DIR] [--plugins DIR] [--format text|json]
              [--batch-size N]     move running cases to a new workflow version by a plan
                                     (docs/migrations.md); --dry-run reports and changes
                                     nothing. Exit 0 when every case moved (or a dry run
                                     reported), 4 when some could not move, 130 when
                                     interrupted (run it again to go on), 1 on errors
  plugins check FILE.so              load one plugin, list its steps, check its schemas
  keys init FILE                     create a master key file (mode 0400); keep it apart from
                                     backups: without it encrypted fields cannot be read
  keys rotate [--master-key FILE] [--db PATH]
                                     add a new master key to the file and re-wrap every case's
                                     data key with it, while the server runs
  report caseload|flow|outcomes|cwc-quarterly|aftercare-list [--db PATH] [--config FILE]
         [--workflow NAME] [--from DATE] [--to DATE] [--quarter 2026-Q3] [--half 2026-H1]
         [--format json|csv|svg|png] [--output FILE]
                                     a report of docs/reports.md, read from the database
                                     (audited); svg and png draw a bar chart, png with
                                     rsvg-convert (librsvg2-bin) and only with --output
  audit verify [--db PATH]           walk the audit trail's hash chain; exit 0 when it holds,
                                     1 at the first broken link (named by its seq)
  verify [--db PATH] [--config FILE] check the database: SQLite's integrity check, then every
                                     case rebuilt from its history and compared with its row;
                                     prints the ids of cases that differ and what differs
                                     (never values). Exit 0 when all match, 1 otherwise
  backup FILE [--db PATH] [--config FILE]
                                     copy the database, while the server runs, to FILE (which
                                     must not exist) through FILE.tmp; encrypted fields stay
                                     encrypted and the master key is not in it. Exit 0 when
                                     written, 1 otherwise
  restore FILE [--db PATH] [--force] put the backup FILE in place of the database after
                                     checking it (integrity, schema version, every case
                                     replayed from its history). Exit 0 when restored, 1 when
                                     FILE is not a sound carepath database (or on other
                                     errors), 3 when the database is newer than the backup
                                     (--force replaces it anyway), 4 when a server or another
                                     command has the database open (stop it first). On any
                                     refusal the database is left as it was
  import FILE [--db PATH] [--config FILE] [--master-key FILE] [--dry-run] [--batch-size N]
                                     import cases with their whole history from a JSON lines
                                     file (docs/operations.md, "Importing cases"): every line
                                     is checked first, and one bad line (printed as FILE:LINE:
                                     what was expected) refuses the whole file; then the cases
                                     are written, N (default 1000) per transaction, sealed as
                                     the server seals them. Exit 0 when imported (or a dry run
                                     found nothing wrong), 1 otherwise
  retention [--db PATH] [--config FILE] [--dry-run]
                                     remove field values whose `retain:` period has passed
                                     (the server also does it daily); prints how many values
                                     of which fields in how many cases. Exit 0, 1 on errors
  config show [--config FILE] [any serve option]
                                     print the effective configuration (file, then CAREPATH_*
                                     variables, then flags) with where each value came from;
                                     secrets are masked
  token create --user NAME --roles r1,r2 [--teams t1,t2] [--homes h1,h2] [--db PATH]
                                                       print a new API token (shown once)
  token revoke ID|TOKEN [--db PATH]                    revoke a token
  token list [--db PATH]                               list tokens (never the secrets)
  version                                              print the version
)";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // "--body-limit X" -> {"body_limit", "X"}
};

// Options that take no value: present means "true".
bool is_switch(std::string_view name) {
  return name == "dry-run" || name == "dry_run" || name == "own-cases-only" ||
         name == "own_cases_only" || name == "force";
}

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
    } else if (is_switch(name)) {
      value = "true";
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

// `serve` logs text on a terminal (people read it) and one JSON object per line otherwise (a
// collector reads it), unless the configuration says which. One-shot commands talk to a person:
// text.
void install_stderr_log(LogLevel level,
                        carepath::app::LogOutput output = carepath::app::LogOutput::text) {
  carepath::set_log_level(level);
  const bool json = output == carepath::app::LogOutput::json ||
                    (output == carepath::app::LogOutput::automatic && isatty(STDERR_FILENO) == 0);
  const auto format = json ? carepath::LogFormat::json : carepath::LogFormat::text;
  carepath::set_log_sink([format](LogLevel l, std::string_view message,
                                  std::initializer_list<carepath::LogAttribute> attributes) {
    const std::string line = carepath::render_log_line(
        format, carepath::format_timestamp(carepath::SystemClock().now()), l, message, attributes);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  });
}

int fail(const std::string& message) {
  std::cerr << "carepath: " << message << '\n';
  return 1;
}

// SIGHUP: reads the workflows directory again and logs one line per file; the server keeps
// running whatever the files hold.
void reload_workflows(carepath::app::Engine& engine) {
  carepath::log(LogLevel::info, "reloading workflows", {{"signal", "SIGHUP"}});
  auto report = engine.reload();
  if (!report) {
    carepath::log(LogLevel::error, "workflow reload failed: " + report.error().message);
    return;
  }
  for (const auto& item : report->items) {
    const std::string version = item.version == 0 ? "" : std::to_string(item.version);
    if (item.status == "refused") {
      carepath::log(LogLevel::error, "workflow reload: refused",
                    {{"file", item.file},
                     {"workflow", item.workflow},
                     {"version", version},
                     {"error", item.errors.empty() ? "" : item.errors.front()}});
    } else {
      carepath::log(LogLevel::info, "workflow reload: " + item.status,
                    {{"file", item.file}, {"workflow", item.workflow}, {"version", version}});
    }
  }
}

int serve(const Args& args) {
  auto config = make_config(args.flags);
  if (!config) {
    return fail(config.error().message);
  }
  install_stderr_log(config->log_level, config->log_format);

  // Block the stop and reload signals in every thread; this one waits for them with sigwait().
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

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
  while (true) {
    if (sigwait(&signals, &signal) != 0) {
      continue;
    }
    if (signal != SIGHUP) {
      break;
    }
    reload_workflows(**engine);
  }
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

// The first executable `name` in a directory of $PATH, or nullopt.
std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  // Unset, PATH means the system directories (as for execvp); an empty entry means ".".
  const std::string dirs = path == nullptr ? "/usr/local/bin:/usr/bin:/bin" : path;
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const auto end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    std::error_code ec;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate, ec)) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Runs `dot -Tsvg` (no shell: the DOT text goes in on stdin) and returns what it printed. Its
// stderr is ours, so Graphviz's own complaints reach the user.
Result<std::string> render_svg(const std::string& dot_binary, const std::string& dot_text) {
  std::array<int, 2> in{};
  std::array<int, 2> out{};
  if (::pipe(in.data()) != 0) {
    return Error{Errc::internal, "graph: pipe failed"};
  }
  if (::pipe(out.data()) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return Error{Errc::internal, "graph: pipe failed"};
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    for (const int fd : {in[0], in[1], out[0], out[1]}) {
      ::close(fd);
    }
    return Error{Errc::internal, "graph: fork failed"};
  }
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    for (const int fd : {in[0], in[1], out[0], out[1]}) {
      ::close(fd);
    }
    const std::array<const char*, 3> argv{dot_binary.c_str(), "-Tsvg", nullptr};
    ::execv(dot_binary.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  // A dot that exits early must not kill us with SIGPIPE; the write just fails.
  std::signal(SIGPIPE, SIG_IGN);
  // Written from another thread while this one reads, so neither pipe can fill up and stall.
  std::thread writer([fd = in[1], &dot_text] {
    std::size_t done = 0;
    while (done < dot_text.size()) {
      const auto n = ::write(fd, dot_text.data() + done, dot_text.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  });
  std::string svg;
  std::array<char, 8192> buffer{};
  while (true) {
    const auto n = ::read(out[0], buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    svg.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  writer.join();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error{Errc::internal, "graph: " + dot_binary + " -Tsvg failed (exit status " +
                                     std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                     ")"};
  }
  return svg;
}

int graph(const Args& args) {
  if (args.positional.size() != 1) {
    return fail("graph: name one workflow file");
  }
  auto flags = args.flags;
  std::string format = "mermaid";
  std::string output;
  if (auto it = flags.find("format"); it != flags.end()) {
    format = it->second;
    flags.erase(it);
  }
  if (auto it = flags.find("output"); it != flags.end()) {
    output = it->second;
    flags.erase(it);
  }
  if (format != "mermaid" && format != "dot" && format != "svg") {
    return fail("graph: unknown --format '" + format + "'; expected mermaid, dot or svg");
  }
  auto config = make_config(flags);
  if (!config) {
    return fail(config.error().message);
  }
  install_stderr_log(LogLevel::warning);
  // Loaded as `validate` and the server load it, so a diagram is never drawn of a broken file.
  const auto steps = carepath::app::load_steps(*config);
  const std::string& file = args.positional[0];
  const auto loaded = carepath::workflow::load_workflow_file(file, steps.get());
  for (const auto& d : loaded.diagnostics) {
    std::cerr << carepath::workflow::to_string(d) << '\n';
  }
  if (!loaded.ok()) {
    return 1;
  }
  std::string text;
  if (format == "mermaid") {
    text = carepath::workflow::to_mermaid(*loaded.workflow);
  } else {
    text = carepath::workflow::to_dot(*loaded.workflow);
  }
  if (format == "svg") {
    const auto dot = find_on_path("dot");
    if (!dot) {
      std::cerr << "carepath graph: --format svg needs Graphviz's `dot` (Debian: apt-get install "
                   "graphviz); use --format dot or mermaid\n";
      return 1;
    }
    auto svg = render_svg(*dot, text);
    if (!svg) {
      return fail(svg.error().message);
    }
    text = std::move(*svg);
  }
  if (output.empty()) {
    std::cout << text;
    std::cout.flush();
    return std::cout ? 0 : 1;
  }
  std::ofstream file_out(output, std::ios::binary | std::ios::trunc);
  file_out << text;
  file_out.close();
  if (!file_out) {
    return fail("graph: cannot write " + output);
  }
  return 0;
}

// Exit codes of `diff`, so scripts can test them like diff(1)'s.
constexpr int kDiffSame = 0;
constexpr int kDiffChanged = 3;
constexpr int kDiffStrands = 4;

int diff(const Args& args) {
  if (args.positional.size() != 2) {
    return fail("diff: name two workflow files, OLD and NEW");
  }
  auto flags = args.flags;
  std::string format = "text";
  if (auto it = flags.find("format"); it != flags.end()) {
    format = it->second;
    flags.erase(it);
  }
  if (format != "text" && format != "json") {
    return fail("diff: unknown --format '" + format + "'; expected text or json");
  }
  auto config = make_config(flags);
  if (!config) {
    return fail(config.error().message);
  }
  install_stderr_log(LogLevel::warning);
  // Loaded as `validate` loads them: a diff against a broken file would be guesswork.
  const auto steps = carepath::app::load_steps(*config);
  std::array<std::shared_ptr<const carepath::Workflow>, 2> workflows;
  bool ok = true;
  for (std::size_t i = 0; i < 2; ++i) {
    const auto loaded = carepath::workflow::load_workflow_file(args.positional[i], steps.get());
    for (const auto& d : loaded.diagnostics) {
      std::cerr << carepath::workflow::to_string(d) << '\n';
    }
    ok = ok && loaded.ok();
    workflows[i] = loaded.workflow;
  }
  if (!ok) {
    return 1;
  }
  if (workflows[0]->name != workflows[1]->name) {
    return fail("diff: " + args.positional[0] + " is workflow " + workflows[0]->name + " but " +
                args.positional[1] + " is workflow " + workflows[1]->name +
                "; only versions of one workflow can be compared");
  }
  const auto result = carepath::workflow::diff_workflows(*workflows[0], *workflows[1]);
  if (format == "json") {
    std::cout << boost::json::serialize(carepath::workflow::diff_to_json(result)) << '\n';
  } else {
    std::cout << carepath::workflow::diff_to_text(result);
  }
  std::cout.flush();
  if (!std::cout) {
    return 1;
  }
  if (!result.strands.empty()) {
    return kDiffStrands;
  }
  return result.has_changes() ? kDiffChanged : kDiffSame;
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
  return carepath::store::SqliteStore::open(config.db, &carepath::security::sha256_hex);
}

int token(const Args& args) {
  if (args.positional.empty()) {
    return fail("token: expected create, revoke or list");
  }
  auto flags = args.flags;
  std::string user;
  std::string roles;
  std::string teams;
  std::string homes;
  for (auto [name, target] : {std::pair{"user", &user}, std::pair{"roles", &roles},
                              std::pair{"teams", &teams}, std::pair{"homes", &homes}}) {
    if (auto it = flags.find(name); it != flags.end()) {
      *target = it->second;
      flags.erase(it);
    }
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
    auto issued = carepath::security::issue_token(
        user, split_roles(roles), clock.now(),
        carepath::security::TokenScope{split_roles(teams), split_roles(homes)});
    if (!issued) {
      return fail("token create: " + issued.error().message);
    }
    if (auto r = (*store)->create_token(issued->record); !r) {
      return fail("token create: " + r.error().message);
    }
    std::cerr << "token " << issued->record.id << " for user '" << user << "' with roles " << roles
              << (teams.empty() ? "" : ", teams " + teams)
              << (homes.empty() ? "" : ", homes " + homes) << "; it is shown only this once\n";
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
    std::printf("%-14s %-20s %-40s %-26s %-26s %s\n", "ID", "USER", "ROLES", "CREATED", "REVOKED",
                "TEAMS/HOMES");
    const auto comma_list = [](const std::vector<std::string>& names, const char* prefix) {
      std::string out;
      for (const auto& n : names) {
        out += (out.empty() ? "" : ",") + std::string(prefix) + n;
      }
      return out;
    };
    for (const auto& t : *tokens) {
      std::string scope = comma_list(t.teams, "team:");
      const std::string homes_list = comma_list(t.homes, "home:");
      scope += (scope.empty() || homes_list.empty() ? "" : ",") + homes_list;
      std::printf("%-14s %-20s %-40s %-26s %-26s %s\n", t.id.c_str(), t.user.c_str(),
                  comma_list(t.roles, "").c_str(), carepath::format_timestamp(t.created_at).c_str(),
                  t.revoked_at ? carepath::format_timestamp(*t.revoked_at).c_str() : "-",
                  scope.empty() ? "-" : scope.c_str());
    }
    return 0;
  }
  return fail("token: unknown subcommand '" + verb + "'; expected create, revoke or list");
}

// ---------------------------------------------------------------------------------------------
// carepath migrate

constexpr int kMigrateStranded = 4;
constexpr int kMigrateInterrupted = 130;

std::atomic<bool> g_stop_migration{false};

extern "C" void stop_migration(int /*signal*/) {
  g_stop_migration.store(true);
}

std::string thousands(std::int64_t n) {
  std::string digits = std::to_string(n);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) {
    digits.insert(static_cast<std::size_t>(at), ",");
  }
  return digits;
}

// "[########............] 4,000/10,000 cases, 3,990 moved, 10 cannot" on one line of a terminal.
void draw_progress(const carepath::runtime::MigrationProgress& p, bool dry_run) {
  constexpr int kWidth = 30;
  const int filled = p.total == 0 ? kWidth : static_cast<int>(kWidth * p.done / p.total);
  std::string line = "\r[" + std::string(static_cast<std::size_t>(filled), '#') +
                     std::string(static_cast<std::size_t>(kWidth - filled), '.') + "] " +
                     thousands(p.done) + "/" + thousands(p.total) + " cases, " +
                     thousands(p.moved) + (dry_run ? " would move, " : " moved, ") +
                     thousands(p.failed) + " cannot";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void print_report(const carepath::runtime::MigrationReport& r) {
  const bool dry = r.dry_run;
  std::cout << "migration " << r.plan << ": workflow " << r.workflow << " version "
            << r.from_version << " -> " << r.to_version << (dry ? " (dry run)" : "")
            << (r.resumed ? " (resumed an unfinished run)" : "") << '\n';
  for (const auto& s : r.states) {
    if (s.cases == 0) {
      continue;
    }
    std::cout << "  " << s.from << " -> " << (s.to ? *s.to : "(no state)") << ": "
              << thousands(s.cases) << " cases, " << thousands(s.moved)
              << (dry ? " would move, " : " moved, ") << thousands(s.failed) << " cannot\n";
  }
  if (!r.failures.empty()) {
    std::cout << "cases that cannot move" << (r.failures_truncated ? " (the first ones)" : "")
              << ":\n";
    for (const auto& f : r.failures) {
      for (const auto& reason : f.reasons) {
        std::cout << "  " << f.case_id << " (" << f.state << "): " << reason << '\n';
      }
    }
  }
  for (const auto& [what, items] :
       {std::pair{"timers", &r.dropped_timers}, std::pair{"clocks", &r.dropped_clocks}}) {
    for (const auto& item : *items) {
      std::cout << (dry ? "would drop " : "dropped ") << what << " " << item.name << " of "
                << thousands(item.cases) << " cases (version " << r.to_version
                << " does not declare it)\n";
    }
  }
  std::cout << "total: " << thousands(r.total) << " cases on version " << r.from_version << "; "
            << thousands(r.moved) << (dry ? " would move, " : " moved, ") << thousands(r.failed)
            << " cannot move"
            << (r.interrupted ? "; interrupted: run the same command again to go on" : "")
            << (dry ? ". Nothing was changed (dry run)." : ".") << '\n';
}

int migrate(const Args& args) {
  if (args.positional.size() != 1) {
    return fail("migrate: name one plan file, such as migrations/aftercare-1-to-2.yaml");
  }
  auto flags = args.flags;
  carepath::runtime::MigrationOptions options;
  std::string format = "text";
  const auto take = [&](const std::string& name) -> std::optional<std::string> {
    const auto it = flags.find(name);
    if (it == flags.end()) {
      return std::nullopt;
    }
    std::string value = it->second;
    flags.erase(it);
    return value;
  };
  if (auto dry = take("dry_run")) {
    options.dry_run = *dry != "false";
  }
  if (auto f = take("format")) {
    format = *f;
  }
  if (format != "text" && format != "json") {
    return fail("migrate: unknown --format '" + format + "'; expected text or json");
  }
  if (auto batch = take("batch_size")) {
    const auto n = std::atoi(batch->c_str());
    if (n < 1 || n > 500) {
      return fail("migrate: --batch-size must be a number from 1 to 500");
    }
    options.batch_size = static_cast<std::size_t>(n);
  }
  auto config = make_config(flags);
  if (!config) {
    return fail(config.error().message);
  }
  std::ifstream file(args.positional[0], std::ios::binary);
  if (!file) {
    return fail("migrate: cannot read " + args.positional[0]);
  }
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  install_stderr_log(LogLevel::warning);
  // A mistyped --db must not create an empty database and report that nothing needs to move.
  if (config->db != ":memory:" && !std::filesystem::exists(config->db)) {
    return fail("migrate: there is no database at " + config->db +
                "; name it with --db PATH or --config FILE");
  }
  auto engine = carepath::app::Engine::open(*config);
  if (!engine) {
    return fail(engine.error().message + (config->plugins.empty()
                                              ? "\n(no plugin directories are configured: add "
                                                "--plugins DIR, or --config config/carepath.yaml)"
                                              : ""));
  }
  std::vector<std::string> warnings;
  auto plan = (*engine)->read_plan(text, args.positional[0], &warnings);
  for (const auto& w : warnings) {
    std::cerr << w << '\n';
  }
  if (!plan) {
    const Error error = plan.error();  // a copy: error() returns one
    for (const auto& e : error.details.at("errors").as_array()) {
      std::cerr << e.as_string().c_str() << '\n';
    }
    return 1;
  }
  const char* user = std::getenv("USER");
  options.actor = carepath::Actor{std::string("cli:") + (user != nullptr ? user : "unknown"), {}};
  const bool terminal = isatty(STDERR_FILENO) != 0;
  if (terminal) {
    options.progress = [dry = options.dry_run](const carepath::runtime::MigrationProgress& p) {
      draw_progress(p, dry);
    };
  }
  options.stop = &g_stop_migration;
  std::signal(SIGINT, stop_migration);
  std::signal(SIGTERM, stop_migration);
  auto report = (*engine)->migrate(*plan, options);
  if (terminal) {
    std::cerr << '\n';
  }
  if (!report) {
    return fail("migrate: " + report.error().message +
                "; the cases moved so far stay moved: run the same command again to go on");
  }
  if (format == "json") {
    std::cout << boost::json::serialize(carepath::runtime::to_json(*report)) << '\n';
  } else {
    print_report(*report);
  }
  std::cout.flush();
  if (report->interrupted) {
    return kMigrateInterrupted;
  }
  return !report->dry_run && report->failed > 0 ? kMigrateStranded : 0;
}

// ---------------------------------------------------------------------------------------------
// carepath keys

int keys(const Args& args) {
  if (args.positional.size() == 2 && args.positional[0] == "init") {
    auto created = carepath::security::create_key_file(args.positional[1]);
    if (!created) {
      return fail("keys init: " + created.error().message);
    }
    std::cout << "created master key " << created->id << " in " << args.positional[1]
              << " (mode 0400)\n"
              << "Keep it secret and apart from database backups: without it no encrypted field "
                 "can be read, and with a backup it reads them all.\n";
    return 0;
  }
  if (args.positional.size() != 1 || args.positional[0] != "rotate") {
    return fail("keys: expected `keys init FILE` or `keys rotate [--master-key FILE] [--db PATH]`");
  }
  auto config = make_config(args.flags);
  if (!config) {
    return fail(config.error().message);
  }
  if (config->master_key.empty()) {
    return fail(
        "keys rotate: name the key file with --master-key FILE or CAREPATH_MASTER_KEY_FILE");
  }
  if (!std::filesystem::exists(config->db)) {
    return fail("keys rotate: there is no database at " + config->db);
  }
  install_stderr_log(LogLevel::warning);
  auto store = open_store(*config);
  if (!store) {
    return fail("keys rotate: " + store.error().message);
  }
  auto file = carepath::security::KeyFile::open(config->master_key);
  if (!file) {
    return fail("keys rotate: " + file.error().message);
  }
  auto rotated = carepath::security::rotate_master_key(**store, **file);
  if (!rotated) {
    return fail("keys rotate: " + rotated.error().message);
  }
  const std::string& id = rotated->key_id;
  const std::int64_t rewrapped = rotated->rewrapped;
  std::cout << "re-wrapped " << rewrapped << " case keys with master key " << id << ".\n"
            << "The older keys stay in the file: cases a running engine opens in the next few "
               "seconds may still be wrapped with them (a later rotation re-wraps those).\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// carepath retention

// The server runs the same job daily; this is for cron, or to see (--dry-run) what it would do.
int retention(const Args& args) {
  if (!args.positional.empty()) {
    return fail("retention: expected `retention [--db PATH] [--config FILE] [--dry-run]`");
  }
  auto flags = args.flags;
  bool dry_run = false;
  if (const auto it = flags.find("dry_run"); it != flags.end()) {
    dry_run = it->second != "false";
    flags.erase(it);
  }
  auto config = make_config(flags);
  if (!config) {
    return fail(config.error().message);
  }
  // A mistyped --db must not create an empty database and report that nothing expired.
  if (config->db != ":memory:" && !std::filesystem::exists(config->db)) {
    return fail("retention: there is no database at " + config->db +
                "; name it with --db PATH or --config FILE");
  }
  install_stderr_log(LogLevel::warning);
  auto engine = carepath::app::Engine::open(*config);
  if (!engine) {
    return fail("retention: " + engine.error().message);
  }
  auto& runtime = (*engine)->runtime();
  auto report = runtime.apply_retention(runtime.now(), dry_run);
  if (!report) {
    return fail("retention: " + report.error().message +
                "; the cases done so far stay done: run it again to go on");
  }
  std::cout << (dry_run ? "would remove " : "removed ") << report->values << " values of "
            << report->fields.size() << " fields in " << report->cases << " cases"
            << (dry_run ? " (dry run: nothing changed)" : "") << '\n';
  for (const auto& field : report->fields) {
    std::cout << "  " << field.field << ": " << field.values << " values in " << field.cases
              << " cases\n";
  }
  return 0;
}

// Reads the chain in pages of 500 rows (the store's largest), so that a trail of years never sits
// in memory.
// Needs no master key: the trail holds names, never values.
int audit(const Args& args) {
  if (args.positional.size() != 1 || args.positional[0] != "verify") {
    return fail("audit: expected `audit verify [--db PATH]`");
  }
  auto config = make_config(args.flags);
  if (!config) {
    return fail(config.error().message);
  }
  if (!std::filesystem::exists(config->db)) {
    return fail("audit verify: there is no database at " + config->db);
  }
  install_stderr_log(LogLevel::warning);
  auto store = open_store(*config);
  if (!store) {
    return fail("audit verify: " + store.error().message);
  }
  carepath::AuditVerifier verifier(&carepath::security::sha256_hex);
  carepath::AuditQuery query;
  query.limit = 500;
  for (;;) {
    auto page = (*store)->audit_page(query);
    if (!page) {
      // A row whose stored JSON was mangled cannot be read back: its message names its seq.
      return fail("audit verify: cannot read the trail after entry " +
                  std::to_string(verifier.last_seq()) + ": " + page.error().message);
    }
    for (const auto& record : page->items) {
      if (auto broken = verifier.feed(record)) {
        std::cout << "audit chain broken at entry " << broken->seq << ": " << broken->reason << " ("
                  << verifier.count() << " entries before it hold)\n";
        return 1;
      }
    }
    if (!page->next_cursor) {
      break;
    }
    query.cursor = page->next_cursor;
  }
  std::cout << "audit chain ok: " << verifier.count() << " entries\n";
  if (verifier.count() > 0) {
    // Kept somewhere else (a ticket, an e-mail), it shows later whether rows were cut off the end.
    std::cout << "last entry " << verifier.last_seq() << ", hash " << verifier.last_hash() << "\n";
  }
  return 0;
}

// Reads nothing but the configuration: it shows what `serve` would run with, flags included.
int config_command(const Args& args) {
  if (args.positional.size() != 1 || args.positional[0] != "show") {
    return fail("config: expected `config show [--config FILE] [options]`");
  }
  auto config = make_config(args.flags);
  if (!config) {
    return fail(config.error().message);
  }
  std::cout << carepath::app::render_config(*config);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// carepath verify

// Needs no master key: sealed values are compared as sealed (core/replay.hpp). Prints case ids
// and the names of what differs, never a value.
int verify(const Args& args) {
  if (!args.positional.empty()) {
    return fail("verify: expected `verify [--db PATH] [--config FILE]`");
  }
  auto config = make_config(args.flags);
  if (!config) {
    return fail(config.error().message);
  }
  install_stderr_log(LogLevel::warning);
  auto report = carepath::app::verify_database(
      config->db, [](const carepath::runtime::CaseMismatch& mismatch) {
        std::string what;
        for (const auto& d : mismatch.differences) {
          what += (what.empty() ? "" : ", ") + d;
        }
        std::cout << "case " << mismatch.case_id << ": row and history differ: " << what << '\n';
      });
  if (!report) {
    return fail("verify: " + report.error().message);
  }
  if (report->mismatched > 0) {
    std::cout << "verify failed: " << report->mismatched << " of " << report->cases
              << " cases do not match their history (" << report->events << " events read)\n";
    return 1;
  }
  std::cout << "verify ok: " << report->cases << " cases, " << report->events << " events\n";
  if (report->unrecorded > 0) {
    std::cout << "  (" << report->unrecorded
              << " cases have fields set by steps before their values were recorded in the "
                 "history; those fields were not compared)\n";
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// carepath backup and restore

constexpr int kRestoreTargetNewer = 3;
constexpr int kRestoreTargetInUse = 4;

// A progress bar on stderr: redrawn in place on a terminal, else one line per tenth. `done`
// and `total` count `unit`s. The caller ends the bar's line on a terminal.
std::function<void(std::int64_t done, std::int64_t total)> progress_bar(const std::string& verb,
                                                                        const std::string& unit) {
  const bool terminal = isatty(STDERR_FILENO) != 0;
  return [terminal, verb, unit, last = -1](std::int64_t done, std::int64_t total) mutable {
    const int percent = total <= 0 ? 100 : static_cast<int>(100 * done / total);
    if (terminal) {
      constexpr int kWidth = 30;
      const int filled = kWidth * percent / 100;
      const std::string line = "\r" + verb + " [" +
                               std::string(static_cast<std::size_t>(filled), '#') +
                               std::string(static_cast<std::size_t>(kWidth - filled), '.') + "] " +
                               std::to_string(percent) + "% (" + thousands(done) + "/" +
                               thousands(total) + " " + unit + ")";
      std::fwrite(line.data(), 1, line.size(), stderr);
    } else if (percent / 10 != last / 10) {
      const std::string line = verb + ": " + std::to_string(percent) + "%\n";
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
    last = percent;
    std::fflush(stderr);
  };
}

// Progress of a copy (backup, restore), in pages.
std::function<void(const carepath::store::BackupProgress&)> copy_progress(const std::string& verb) {
  return [bar = progress_bar(verb, "pages")](const carepath::store::BackupProgress& p) mutable {
    bar(p.pages_done, p.pages_total);
  };
}

int backup(const Args& args) {
  if (args.positional.size() != 1) {
    return fail("backup: expected `backup FILE [--db PATH] [--config FILE]`");
  }
  auto config = make_config(args.flags);
  if (!config) {
    return fail(config.error().message);
  }
  if (config->db == ":memory:" || !std::filesystem::exists(config->db)) {
    return fail("backup: there is no database at " + config->db +
                "; name it with --db PATH or --config FILE");
  }
  install_stderr_log(LogLevel::warning);
  const std::string& file = args.positional[0];
  carepath::store::BackupOptions options;
  options.on_progress = copy_progress("backup");
  auto written = carepath::store::backup_database(config->db, file, options);
  if (isatty(STDERR_FILENO) != 0) {
    std::cerr << '\n';
  }
  if (!written) {
    return fail("backup: " + written.error().message);
  }
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(file, ec);
  std::cout << "backup written: " << file << " (" << thousands(static_cast<std::int64_t>(bytes))
            << " bytes)\n"
            << "Encrypted fields stay encrypted in it; the master key is not in it. Keep the key "
               "apart from the backups.\n";
  return 0;
}

int restore(const Args& args) {
  if (args.positional.size() != 1) {
    return fail("restore: expected `restore FILE [--db PATH] [--force]`");
  }
  auto flags = args.flags;
  carepath::app::RestoreOptions options;
  if (const auto it = flags.find("force"); it != flags.end()) {
    options.force = it->second != "false";
    flags.erase(it);
  }
  auto config = make_config(flags);
  if (!config) {
    return fail(config.error().message);
  }
  if (config->db == ":memory:") {
    return fail("restore: name the database to replace with --db PATH or --config FILE");
  }
  install_stderr_log(LogLevel::warning);
  options.copy.on_progress = copy_progress("restore");
  auto report = carepath::app::restore_database(args.positional[0], config->db, options);
  if (isatty(STDERR_FILENO) != 0) {
    std::cerr << '\n';
  }
  if (!report) {
    const Error error = report.error();
    fail("restore: " + error.message + "; " + config->db + " was not changed");
    return error.code == Errc::precondition_failed ? kRestoreTargetNewer
           : error.code == Errc::unavailable       ? kRestoreTargetInUse
                                                   : 1;
  }
  std::cout << "restored " << args.positional[0] << " to " << config->db << ": "
            << report->verified.cases << " cases, " << report->verified.events << " events verified"
            << (report->replaced ? "" : " (there was no database there)") << '\n';
  return 0;
}

// ---------------------------------------------------------------------------------------------
// carepath import

std::string seconds_text(double seconds) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.2f", seconds);
  return text.data();
}

// Opens the engine as `serve` does (the master key, the workflows it would load), checks the
// whole file, then writes it. Prints problems as FILE:LINE: message, never a field value.
int import_cases(const Args& args) {
  if (args.positional.size() != 1) {
    return fail(
        "import: expected `import FILE [--config FILE] [--db PATH] [--master-key FILE] "
        "[--dry-run] [--batch-size N]`");
  }
  auto flags = args.flags;
  carepath::app::ImportOptions options;
  if (const auto it = flags.find("dry_run"); it != flags.end()) {
    options.dry_run = it->second != "false";
    flags.erase(it);
  }
  if (const auto it = flags.find("batch_size"); it != flags.end()) {
    const auto n = std::atoi(it->second.c_str());
    if (n < 1 || n > 10'000) {
      return fail("import: --batch-size must be a number from 1 to 10000");
    }
    options.batch_size = static_cast<std::size_t>(n);
    flags.erase(it);
  }
  auto config = make_config(flags);
  if (!config) {
    return fail(config.error().message);
  }
  const std::string& file = args.positional[0];
  if (!std::filesystem::is_regular_file(file)) {
    return fail("import: cannot read " + file);
  }
  install_stderr_log(LogLevel::warning);
  auto engine = carepath::app::Engine::open(*config);
  if (!engine) {
    return fail("import: " + engine.error().message);
  }
  carepath::app::ImportContext context;
  context.find = [registry = &(*engine)->registry()](const std::string& name, int version) {
    return registry->find(name, version);
  };
  context.zone = (*engine)->runtime().zone();
  context.now = (*engine)->runtime().now();
  const char* user = std::getenv("USER");
  options.importer = std::string("cli:") + (user != nullptr ? user : "unknown");
  const bool terminal = isatty(STDERR_FILENO) != 0;
  std::string phase;
  std::function<void(std::int64_t, std::int64_t)> bar;
  options.progress = [&](const carepath::app::ImportProgress& p) {
    if (phase != p.phase) {
      if (terminal && !phase.empty()) {
        std::cerr << '\n';
      }
      phase = std::string(p.phase);
      bar = phase == "check" ? progress_bar("check", "bytes") : progress_bar("import", "events");
    }
    bar(p.done, p.total);
  };
  auto report = carepath::app::import_file((*engine)->store(), context, file, options);
  if (terminal && !phase.empty()) {
    std::cerr << '\n';
  }
  if (!report) {
    return fail("import: " + report.error().message);
  }
  if (report->error_count > 0) {
    for (const auto& e : report->errors) {
      std::cerr << e << '\n';
    }
    std::cerr << "carepath: import refused: " << thousands(report->error_count) << " of "
              << thousands(report->lines) << " lines are wrong"
              << (report->error_count > static_cast<std::int64_t>(report->errors.size())
                      ? " (the first " + std::to_string(report->errors.size()) + " are listed)"
                      : "")
              << "; nothing was written\n";
    return 1;
  }
  if (report->dry_run) {
    std::cout << "dry run: " << thousands(report->cases) << " cases, " << thousands(report->events)
              << " events checked in " << seconds_text(report->check_seconds)
              << " s; all would be imported. Nothing was written.\n";
    return 0;
  }
  const double seconds = report->check_seconds + report->write_seconds;
  const auto rate =
      seconds > 0 ? static_cast<std::int64_t>(static_cast<double>(report->events) / seconds) : 0;
  std::cout << "imported " << thousands(report->cases) << " cases, " << thousands(report->events)
            << " events in " << seconds_text(seconds) << " s (" << thousands(rate)
            << " events/s; checked in " << seconds_text(report->check_seconds) << " s, written in "
            << seconds_text(report->write_seconds) << " s)\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// carepath report

// Runs `rsvg-convert -f png -o png_path svg_path` (no shell); its stderr is ours.
Result<void> convert_to_png(const std::string& svg_path, const std::string& png_path) {
  const auto binary = find_on_path("rsvg-convert");
  if (!binary) {
    return Error{Errc::unavailable,
                 "--format png needs rsvg-convert (Debian package librsvg2-bin, installed by "
                 "scripts/install-deps.sh); --format svg needs nothing"};
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    return Error{Errc::internal, "fork failed"};
  }
  if (pid == 0) {
    const std::array<const char*, 7> argv{binary->c_str(),  "-f",   "png", "-o", png_path.c_str(),
                                          svg_path.c_str(), nullptr};
    ::execv(binary->c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error{Errc::internal, *binary + " failed (exit status " +
                                     std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                     ")"};
  }
  return {};
}

// Reads the database directly, as the server would answer GET /v1/reports/KIND, and audits the
// export like the server does. Needs no master key: reports carry no sealed field values.
int report(const Args& args) {
  using carepath::api::ReportKind;
  const auto kind = args.positional.size() == 1
                        ? carepath::api::parse_report_kind(args.positional[0])
                        : std::nullopt;
  if (!kind) {
    return fail(
        "report: expected `report caseload|flow|outcomes|cwc-quarterly|aftercare-list "
        "[--db PATH] [--format json|csv|svg|png] [--output FILE]`");
  }
  auto flags = args.flags;
  const auto take = [&flags](const char* name) -> std::optional<std::string> {
    const auto it = flags.find(name);
    if (it == flags.end()) {
      return std::nullopt;
    }
    std::string value = it->second;
    flags.erase(it);
    return value;
  };
  const std::string format = take("format").value_or("json");
  const auto output = take("output");
  carepath::api::ReportRequest request;
  request.kind = *kind;
  request.workflow = take("workflow");
  const auto from = take("from");
  const auto to = take("to");
  const auto quarter = take("quarter");
  const auto half = take("half");
  if (format != "json" && format != "csv" && format != "svg" && format != "png") {
    return fail("report: --format must be json, csv, svg or png");
  }
  if (format == "png" && !output) {
    return fail("report: --format png writes a file: name it with --output FILE.png");
  }
  const bool ranged = *kind == ReportKind::flow || *kind == ReportKind::outcomes;
  if ((from || to) && !ranged) {
    return fail("report: --from and --to are for flow and outcomes");
  }
  if (quarter && *kind != ReportKind::cwc_quarterly) {
    return fail("report: --quarter is for cwc-quarterly");
  }
  if (half && *kind != ReportKind::aftercare_list) {
    return fail("report: --half is for aftercare-list");
  }
  auto config = make_config(flags);
  if (!config) {
    return fail(config.error().message);
  }
  auto zone = carepath::app::load_time_zone(config->timezone);
  if (!zone) {
    return fail("report: " + zone.error().message);
  }
  for (const auto& [name, text, end_of_day] :
       {std::tuple{"from", from, false}, std::tuple{"to", to, true}}) {
    if (!text) {
      continue;
    }
    const auto at = carepath::parse_report_instant(*text, *zone, end_of_day);
    if (!at) {
      return fail(std::string("report: --") + name +
                  " must be a date (2026-01-31) or an RFC 3339 instant (2026-01-31T09:30:00Z)");
    }
    (std::string_view(name) == "from" ? request.from : request.to) = at;
  }
  if (quarter) {
    if (auto p = carepath::quarter_period(*quarter, *zone); !p) {
      return fail("report: --quarter must be a quarter such as 2026-Q3");
    }
    request.period = quarter;
  }
  if (half) {
    if (auto p = carepath::half_year_period(*half, *zone); !p) {
      return fail("report: --half must be a half year such as 2026-H1");
    }
    request.period = half;
  }
  // A mistyped --db must not create an empty database and report nothing.
  if (config->db != ":memory:" && !std::filesystem::exists(config->db)) {
    return fail("report: there is no database at " + config->db +
                "; name it with --db PATH or --config FILE");
  }
  install_stderr_log(LogLevel::warning);
  auto store = open_store(*config);
  if (!store) {
    return fail("report: " + store.error().message);
  }
  const carepath::Timestamp now = carepath::SystemClock().now();
  auto table = carepath::api::build_report(**store, request, *zone, now);
  if (!table) {
    const Error error = table.error();  // a copy: keep it while pointing into it
    const auto* params = error.details.if_contains("invalid_params");
    std::string message = error.message;
    if (params != nullptr && params->is_array() && !params->get_array().empty()) {
      const auto& first = params->get_array().front().get_object();
      message = "--" + std::string(first.at("name").as_string()) + " " +
                std::string(first.at("reason").as_string());
    }
    return fail("report: " + message);
  }
  std::string body;
  if (format == "json") {
    body = carepath::report_to_json(*table) + "\n";
  } else if (format == "csv") {
    body = carepath::report_to_csv(*table);
  } else {
    body = carepath::api::report_chart_svg(*table, *zone);
  }
  // Audited before anything is written, as the server does before it answers.
  const char* user = std::getenv("USER");
  carepath::AuditRecord exported;
  exported.at = now;
  exported.actor = std::string("cli:") + (user != nullptr ? user : "unknown");
  exported.action = std::string(carepath::kAuditReport);
  exported.details = boost::json::object{{"report", carepath::api::report_kind_name(*kind)},
                                         {"format", format},
                                         {"rows", static_cast<std::int64_t>(table->rows.size())}};
  for (const char* name : {"workflow", "from", "to", "period"}) {
    if (const auto* value = table->meta.if_contains(name)) {
      exported.details[name] = *value;
    }
  }
  if (auto audited = (*store)->append_audit({std::move(exported)}); !audited) {
    return fail("report: cannot write the audit row: " + audited.error().message);
  }
  if (!output) {
    std::cout << body;
    return std::cout.good() ? 0 : 1;
  }
  const std::string written = format == "png" ? *output + ".svg.tmp" : *output;
  {
    std::ofstream file(written, std::ios::binary | std::ios::trunc);
    file << body;
    if (!file.good()) {
      return fail("report: cannot write " + written);
    }
  }
  if (format == "png") {
    auto converted = convert_to_png(written, *output);
    std::error_code ec;
    std::filesystem::remove(written, ec);
    if (!converted) {
      return fail("report: " + converted.error().message);
    }
  }
  std::cerr << "wrote " << *output << " (" << table->rows.size() << " rows)\n";
  return 0;
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
  if (command == "graph") {
    return graph(*args);
  }
  if (command == "diff") {
    return diff(*args);
  }
  if (command == "token") {
    return token(*args);
  }
  if (command == "plugins") {
    return plugins(*args);
  }
  if (command == "migrate") {
    return migrate(*args);
  }
  if (command == "keys") {
    return keys(*args);
  }
  if (command == "audit") {
    return audit(*args);
  }
  if (command == "report") {
    return report(*args);
  }
  if (command == "retention") {
    return retention(*args);
  }
  if (command == "config") {
    return config_command(*args);
  }
  if (command == "verify") {
    return verify(*args);
  }
  if (command == "backup") {
    return backup(*args);
  }
  if (command == "restore") {
    return restore(*args);
  }
  if (command == "import") {
    return import_cases(*args);
  }
  std::cerr << "carepath: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
