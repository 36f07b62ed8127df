#include "plugin_host/remote.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/json_schema.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/thread_name.hpp"
#include "plugin_host/adapter.hpp"
#include "plugin_host/descriptor.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace carepath::plugin_host {
namespace {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// A mutex that can be waited for until a deadline (TimedLockable, for std::unique_lock). Not
// std::timed_mutex: its try_lock_until is pthread_mutex_clocklock, which ThreadSanitizer does not
// see, so every unlock after it was reported as the unlock of an unlocked mutex.
class DeadlineMutex {
 public:
  void lock() {
    std::unique_lock guard(mutex_);
    released_.wait(guard, [this] { return !held_; });
    held_ = true;
  }
  bool try_lock() {
    const std::lock_guard guard(mutex_);
    return !std::exchange(held_, true);
  }
  bool try_lock_until(Deadline deadline) {
    std::unique_lock guard(mutex_);
    if (!released_.wait_until(guard, deadline, [this] { return !held_; })) {
      return false;
    }
    held_ = true;
    return true;
  }
  void unlock() {
    {
      const std::lock_guard guard(mutex_);
      held_ = false;
    }
    released_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
};

constexpr std::int64_t kMaxBackoffMs = 60'000;
constexpr int kMaxReplyJsonDepth = 128;
constexpr std::size_t kMaxStderrLine = 2000;
constexpr std::size_t kMaxStepTypes = 256;
constexpr std::size_t kMaxReads = 1024;

StepOutcome outcome(StepStatus status, std::string message) {
  StepOutcome out;
  out.status = status;
  out.message = std::move(message);
  return out;
}

int remaining_ms(Deadline deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, std::int64_t{24} * 3600 * 1000));
}

// "exited with status 3", "was killed by signal 11 (Segmentation fault)".
std::string exit_text(int status) {
  if (WIFEXITED(status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigdescr_np(sig);
    return "was killed by signal " + std::to_string(sig) +
           (name != nullptr ? " (" + std::string(name) + ")" : std::string());
  }
  return "stopped";
}

// The host's environment: the engine's, without CAREPATH_* (secrets such as the webhook secret
// and the master key file's path are no business of a plugin's).
std::vector<std::string> host_environment() {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("CAREPATH_", 0) != 0) {
      out.emplace_back(*e);
    }
  }
  return out;
}

// Relays a host's stderr to the engine's log, one line at a time, attributed to the plugin.
class StderrRelay {
 public:
  StderrRelay(int fd, std::string plugin) : fd_(fd), plugin_(std::move(plugin)) {
    thread_ = std::thread([this] {
      name_this_thread("cp-plugin-err");
      loop();
    });
  }
  ~StderrRelay() {
    stop_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
    ::close(fd_);
  }
  StderrRelay(const StderrRelay&) = delete;
  StderrRelay& operator=(const StderrRelay&) = delete;
  StderrRelay(StderrRelay&&) = delete;
  StderrRelay& operator=(StderrRelay&&) = delete;

  // The plugin's name, once the host has described it (until then, the file's name).
  void set_plugin(std::string plugin) {
    const std::lock_guard lock(mutex_);
    plugin_ = std::move(plugin);
  }

 private:
  void loop() {
    std::string pending;
    std::array<char, 4096> chunk{};
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, 100);
      if (ready < 0 && errno != EINTR) {
        break;
      }
      if (ready <= 0) {
        continue;
      }
      const ssize_t n = ::read(fd_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      pending.append(chunk.data(), static_cast<std::size_t>(n));
      for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
        relay(std::string_view(pending).substr(0, end));
        pending.erase(0, end + 1);
      }
      if (pending.size() > kMaxStderrLine) {
        relay(pending);
        pending.clear();
      }
    }
    if (!pending.empty()) {
      relay(pending);
    }
  }

  void relay(std::string_view line) {
    std::string plugin;
    {
      const std::lock_guard lock(mutex_);
      plugin = plugin_;
    }
    if (line.size() > kMaxStderrLine) {
      line = line.substr(0, kMaxStderrLine);
    }
    if (line.empty()) {
      return;
    }
    boost::system::error_code ec;
    const boost::json::value parsed = boost::json::parse(line, ec);
    const auto* object = !ec ? parsed.if_object() : nullptr;
    const auto* message = object != nullptr ? object->if_contains("message") : nullptr;
    if (message == nullptr || !message->is_string()) {
      // Whatever the plugin printed itself, as an in-process plugin's output reaches stderr.
      log(LogLevel::info, line, {{"plugin", plugin}, {"stream", "stderr"}});
      return;
    }
    LogLevel level = LogLevel::info;
    std::string_view step;
    if (const auto* l = object->if_contains("level"); l != nullptr && l->is_string()) {
      const std::string_view name = l->get_string();
      level = name == "debug"     ? LogLevel::debug
              : name == "warning" ? LogLevel::warning
              : name == "error"   ? LogLevel::error
                                  : LogLevel::info;
    }
    if (const auto* s = object->if_contains("step"); s != nullptr && s->is_string()) {
      step = s->get_string();
    }
    if (step.empty()) {
      log(level, message->get_string(), {{"plugin", plugin}});
    } else {
      log(level, message->get_string(), {{"plugin", plugin}, {"step", step}});
    }
  }

  int fd_;
  std::mutex mutex_;
  std::string plugin_;  // GUARDED_BY(mutex_)
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Why an exchange with the host did not produce an answer.
enum class Failure { none, start, dead, timeout, garbage, too_long };

// One host process per plugin, restarted when it fails. Calls are serialized: one request at a
// time, each waiting its turn at most until its own deadline.
class HostConnection {
 public:
  explicit HostConnection(RemoteOptions options) : options_(std::move(options)) {
    label_ = options_.plugin_file.filename().string();
  }
  ~HostConnection() {
    const std::lock_guard lock(mutex_);
    stop_host(false);
  }
  HostConnection(const HostConnection&) = delete;
  HostConnection& operator=(const HostConnection&) = delete;
  HostConnection(HostConnection&&) = delete;
  HostConnection& operator=(HostConnection&&) = delete;

  const RemoteOptions& options() const { return options_; }

  // Starts the first host and returns its description of the plugin.
  Result<boost::json::object> describe() {
    const std::lock_guard lock(mutex_);
    const Deadline deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    std::string why;
    if (start(deadline, why) != Failure::none) {
      return make_error(Errc::plugin, why);
    }
    return description_;
  }

  // Names the plugin in later messages and log lines, once the host has described it.
  void set_plugin(const std::string& name, const std::string& version) {
    const std::lock_guard lock(mutex_);
    plugin_ = name;
    version_ = version;
    label_ = "plugin " + name;
    if (relay_ != nullptr) {
      relay_->set_plugin(name);
    }
  }

  // Makes an instance in the host now (so a refused configuration shows at workflow load) and
  // remembers its configuration, to make it again in every later host.
  Result<std::uint64_t> create(const std::string& step, const boost::json::object& config) {
    const Deadline deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    std::unique_lock lock(mutex_, deadline);
    if (!lock.owns_lock()) {
      return make_error(Errc::plugin, "step '" + step + "': " + label_ +
                                          " is busy with an earlier call; try again");
    }
    const std::uint64_t id = next_instance_++;
    instances_[id] = Instance{step, config};
    std::string why;
    if (const Failure f = ensure_instance(id, deadline, why); f != Failure::none) {
      instances_.erase(id);
      return make_error(Errc::plugin, why);
    }
    return id;
  }

  void forget(std::uint64_t id) noexcept {
    try {
      const Deadline deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
      std::unique_lock lock(mutex_, deadline);
      if (!lock.owns_lock()) {
        return;  // the host keeps a stale instance until it restarts; harmless
      }
      instances_.erase(id);
      if (pid_ > 0 && created_.erase(id) > 0) {
        boost::json::object request{{"op", "destroy"}, {"instance", id}};
        std::string why;
        (void)exchange(request, deadline, why);  // a failure stops the host; nothing to add
      }
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor path; the host is disposable
    }
  }

  StepOutcome run(std::uint64_t id, const std::string& step, const StepInput& input) {
    const Deadline deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    const std::string limit = duration_text(options_.timeout_ms);
    std::unique_lock lock(mutex_, deadline);
    if (!lock.owns_lock()) {
      return outcome(StepStatus::retryable, "step " + step + " of " + label_ + " waited " + limit +
                                                " for an earlier call to finish; not called");
    }
    std::string why;
    if (const Failure f = ensure_instance(id, deadline, why); f != Failure::none) {
      return outcome(f == Failure::garbage || f == Failure::too_long ? StepStatus::failed
                                                                     : StepStatus::retryable,
                     "step " + step + ": " + why);
    }
    boost::json::object request{{"op", "run"},
                                {"instance", id},
                                {"idempotency_key", input.idempotency_key},
                                {"input", input.input}};
    auto [reply, failure] = exchange(request, deadline, why);
    switch (failure) {
      case Failure::none:
        break;
      case Failure::timeout:
        return outcome(StepStatus::retryable, "step " + step + " of " + label_ +
                                                  " did not answer within " + limit +
                                                  "; its host process was killed and starts "
                                                  "again on the next call");
      case Failure::garbage:
      case Failure::too_long:
        return outcome(StepStatus::failed, "step " + step + ": " + why);
      case Failure::start:
      case Failure::dead:
        return outcome(StepStatus::retryable, "step " + step + ": " + why);
    }
    auto answered = read_outcome(reply, step);
    if (!answered) {
      fail(true, "garbage");
      return outcome(StepStatus::failed, "step " + step + ": " + answered.error().message);
    }
    failures_in_row_ = 0;
    return std::move(*answered);
  }

 private:
  struct Instance {
    std::string step;
    boost::json::object config;
  };

  // Under mutex_: the instance exists in the running host, which is started if need be.
  Failure ensure_instance(std::uint64_t id, Deadline deadline, std::string& why) {
    if (const Failure f = start(deadline, why); f != Failure::none) {
      return f;
    }
    if (created_.count(id) > 0) {
      return Failure::none;
    }
    const auto found = instances_.find(id);
    if (found == instances_.end()) {
      why = "the step instance is gone";
      return Failure::garbage;
    }
    boost::json::object request{{"op", "create"},
                                {"instance", id},
                                {"step", found->second.step},
                                {"config", found->second.config}};
    auto [reply, failure] = exchange(request, deadline, why);
    if (failure != Failure::none) {
      return failure;
    }
    if (const auto* ok = reply.if_contains("ok"); ok == nullptr || !ok->is_bool()) {
      why = label_ + "'s host answered a request with something that is not an answer";
      fail(true, "garbage");
      return Failure::garbage;
    }
    if (!reply.at("ok").get_bool()) {
      why = message_of(reply, "the plugin refused the configuration");
      return Failure::start;  // the plugin's own refusal, not the host's fault
    }
    created_.insert(id);
    return Failure::none;
  }

  static std::string message_of(const boost::json::object& reply, std::string fallback) {
    const auto* m = reply.if_contains("message");
    if (m == nullptr || !m->is_string() || m->get_string().empty()) {
      return fallback;
    }
    std::string text(m->get_string());
    if (text.size() > kMaxMessageBytes) {
      text.resize(kMaxMessageBytes);
    }
    return text;
  }

  static Result<StepOutcome> read_outcome(const boost::json::object& reply,
                                          const std::string& step) {
    const auto* ok = reply.if_contains("ok");
    if (ok == nullptr || !ok->is_bool()) {
      return make_error(Errc::plugin, "the plugin host answered something that is not an answer");
    }
    if (!ok->get_bool()) {
      return outcome(StepStatus::failed, message_of(reply, "the plugin host refused the call"));
    }
    const auto* status = reply.if_contains("status");
    const auto* output = reply.if_contains("output");
    if (status == nullptr || !status->is_string() ||
        (output != nullptr && !output->is_object() && !output->is_null())) {
      return make_error(Errc::plugin, "the plugin host answered something that is not an answer");
    }
    const std::string_view name = status->get_string();
    StepOutcome out;
    if (name == "ok") {
      out.status = StepStatus::ok;
    } else if (name == "pending") {
      out.status = StepStatus::pending;
    } else if (name == "failed") {
      out.status = StepStatus::failed;
    } else if (name == "retryable") {
      out.status = StepStatus::retryable;
    } else if (name == "veto") {
      out.status = StepStatus::veto;
    } else {
      return make_error(Errc::plugin, "the plugin host answered an unknown status");
    }
    if (out.status == StepStatus::ok || out.status == StepStatus::pending) {
      if (output != nullptr && output->is_object()) {
        out.output = output->get_object();
      }
    } else {
      out.message = message_of(reply, "step '" + step + "' gave no reason");
    }
    return out;
  }

  // Under mutex_: a running host that has described the plugin, or why there is none.
  Failure start(Deadline deadline, std::string& why) {
    if (pid_ > 0) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) != pid_) {
        return Failure::none;
      }
      // It ended between calls (killed from outside, or a plugin thread crashed it): no call
      // was lost, so a new one starts at once.
      log(LogLevel::warning, "plugin host process ended between calls; starting a new one",
          {{"plugin", plugin_.empty() ? label_ : plugin_}, {"exit", exit_text(status)}});
      pid_ = 0;  // reaped: stop_host() must not wait for it
      stop_host(false);
    }
    const auto now = Clock::now();
    if (now < next_start_) {
      why = label_ + "'s host process failed and starts again in " +
            duration_text(std::max<std::int64_t>(
                1,
                std::chrono::duration_cast<std::chrono::milliseconds>(next_start_ - now).count())) +
            "; not called";
      return Failure::start;
    }
    if (!spawn(why)) {
      fail(false, "start");
      return Failure::start;
    }
    auto [reply, failure] = exchange(boost::json::object{{"op", "describe"}}, deadline, why);
    if (failure != Failure::none) {
      return failure == Failure::timeout ? Failure::start : failure;
    }
    const auto* ok = reply.if_contains("ok");
    const auto* plugin = reply.if_contains("plugin");
    if (ok == nullptr || !ok->is_bool() || !ok->get_bool() || plugin == nullptr ||
        !plugin->is_object()) {
      why = message_of(reply, "the plugin host did not describe the plugin");
      fail(false, "start");
      return Failure::start;
    }
    const auto& described = plugin->get_object();
    if (!plugin_.empty()) {
      const auto* name = described.if_contains("name");
      const auto* version = described.if_contains("version");
      if (name == nullptr || version == nullptr || !name->is_string() || !version->is_string() ||
          name->get_string() != plugin_ || version->get_string() != version_) {
        why = label_ + ": the restarted host loaded another plugin from '" +
              options_.plugin_file.string() + "' (the file changed); restart the engine";
        fail(false, "start");
        return Failure::start;
      }
    }
    description_ = described;
    created_.clear();
    log(LogLevel::info, "plugin host process started",
        {{"plugin", plugin_.empty() ? label_ : plugin_}, {"pid", std::to_string(pid_)}});
    return Failure::none;
  }

  // Under mutex_: starts the host process; on failure says why.
  bool spawn(std::string& why) {
    std::array<int, 2> io{-1, -1};
    std::array<int, 2> err{-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io.data()) != 0) {
      why = "cannot start the plugin host: socketpair: " + std::string(std::strerror(errno));
      return false;
    }
    if (::pipe2(err.data(), O_CLOEXEC) != 0) {
      why = "cannot start the plugin host: pipe: " + std::string(std::strerror(errno));
      ::close(io[0]);
      ::close(io[1]);
      return false;
    }
    std::vector<std::string> args{options_.host_executable.string(), options_.plugin_file.string()};
    if (!options_.sha256.empty()) {
      args.emplace_back("--sha256");
      args.push_back(options_.sha256);
    }
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    auto env = host_environment();
    std::vector<char*> envp;
    for (auto& e : env) {
      envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_adddup2(&actions, io[1], STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, io[1], STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    // Nothing else of the engine's (database, sockets, key files) reaches the plugin.
    ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &defaults);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
    ::close(io[1]);
    ::close(err[1]);
    if (rc != 0) {
      why = "cannot start the plugin host '" + options_.host_executable.string() +
            "': " + std::strerror(rc);
      ::close(io[0]);
      ::close(err[0]);
      return false;
    }
    pid_ = pid;
    fd_ = io[0];
    buffer_.clear();
    relay_ = std::make_unique<StderrRelay>(err[0], plugin_.empty() ? label_ : plugin_);
    return true;
  }

  // Under mutex_: sends one request and reads its answer. On any failure the host is stopped
  // (and the failure counted), and `why` says what happened.
  std::pair<boost::json::object, Failure> exchange(const boost::json::object& request,
                                                   Deadline deadline, std::string& why) {
    std::string line = boost::json::serialize(request);
    line += '\n';
    std::size_t sent = 0;
    while (sent < line.size()) {
      pollfd p{fd_, POLLOUT, 0};
      const int ready = ::poll(&p, 1, remaining_ms(deadline));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready == 0) {
        return timed_out(why);
      }
      const ssize_t n =
          ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (n < 0) {
        return died(why);
      }
      sent += static_cast<std::size_t>(n);
    }

    std::array<char, 65536> chunk{};
    for (;;) {
      if (const auto end = buffer_.find('\n'); end != std::string::npos) {
        std::string answer = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        boost::json::parse_options options;
        options.max_depth = kMaxReplyJsonDepth;
        boost::system::error_code ec;
        boost::json::value parsed = boost::json::parse(answer, ec, {}, options);
        if (ec || !parsed.is_object()) {
          why = label_ + "'s host process answered something that is not JSON; it was stopped";
          fail(true, "garbage");
          return {{}, Failure::garbage};
        }
        return {std::move(parsed.get_object()), Failure::none};
      }
      if (buffer_.size() > options_.max_reply_bytes) {
        why = label_ + "'s host process answered more than " +
              std::to_string(options_.max_reply_bytes) + " bytes; it was stopped";
        fail(true, "too_long");
        return {{}, Failure::too_long};
      }
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, remaining_ms(deadline));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready == 0) {
        return timed_out(why);
      }
      const ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (n <= 0) {
        return died(why);
      }
      buffer_.append(chunk.data(), static_cast<std::size_t>(n));
    }
  }

  std::pair<boost::json::object, Failure> timed_out(std::string& why) {
    metrics::engine().plugin_timeouts.add({plugin_.empty() ? label_ : plugin_});
    why = label_ + " did not answer within " + duration_text(options_.timeout_ms) +
          "; its host process was killed";
    log(LogLevel::warning, "a plugin host did not answer within its time limit and was killed",
        {{"plugin", plugin_.empty() ? label_ : plugin_},
         {"timeout", duration_text(options_.timeout_ms)}});
    fail(true, "timeout");
    return {{}, Failure::timeout};
  }

  std::pair<boost::json::object, Failure> died(std::string& why) {
    const std::string how = fail(true, "crash");
    why = label_ + "'s host process " + how + " during the call; it starts again on the next call";
    return {{}, Failure::dead};
  }

  // Under mutex_: stops the host after a failure and schedules the next start. Returns how the
  // host ended ("was killed by signal 11 (Segmentation fault)").
  std::string fail(bool kill, std::string_view reason) {
    const std::string how = stop_host(kill);
    metrics::engine().plugin_host_failures.add({plugin_.empty() ? label_ : plugin_, reason});
    ++failures_in_row_;
    std::int64_t backoff = options_.restart_backoff_ms;
    for (int i = 1; i < failures_in_row_ && backoff < kMaxBackoffMs; ++i) {
      backoff *= 2;
    }
    backoff = std::min(backoff, kMaxBackoffMs);
    next_start_ = Clock::now() + std::chrono::milliseconds(backoff);
    log(LogLevel::warning, "plugin host process stopped after a failure",
        {{"plugin", plugin_.empty() ? label_ : plugin_},
         {"exit", how},
         {"restart_in", duration_text(backoff)}});
    return how;
  }

  // Under mutex_: ends the host (SIGKILL when `kill`, else EOF first and SIGKILL after a grace
  // period) and reaps it. Returns how it ended.
  std::string stop_host(bool kill) {
    if (pid_ == 0) {  // already reaped
      pid_ = -1;
      if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
      }
      relay_.reset();
      buffer_.clear();
      created_.clear();
      return "ended";
    }
    if (pid_ < 0) {
      return "was not running";
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int status = 0;
    pid_t reaped = 0;
    if (kill) {
      // It may have died on its own already; its own status says more than SIGKILL.
      reaped = ::waitpid(pid_, &status, WNOHANG);
      if (reaped == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        reaped = ::waitpid(pid_, &status, WNOHANG);
      }
    } else {
      for (int i = 0; i < 50 && reaped == 0; ++i) {  // a closed stdin ends a healthy host
        reaped = ::waitpid(pid_, &status, WNOHANG);
        if (reaped == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    }
    if (reaped == 0) {
      ::kill(pid_, SIGKILL);
      while ((reaped = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
    relay_.reset();
    buffer_.clear();
    created_.clear();
    return reaped > 0 ? exit_text(status) : "ended";
  }

  RemoteOptions options_;
  std::string label_;  // "plugin legal_aid", or the file name before the host described it
  DeadlineMutex mutex_;
  // GUARDED_BY(mutex_) from here on.
  std::string plugin_;
  std::string version_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;  // bytes read after the last answer line
  std::unique_ptr<StderrRelay> relay_;
  boost::json::object description_;
  std::map<std::uint64_t, Instance> instances_;
  std::set<std::uint64_t> created_;  // instances made in the running host
  std::uint64_t next_instance_ = 1;
  int failures_in_row_ = 0;
  Deadline next_start_{};
};

class RemoteStepInstance final : public StepInstance {
 public:
  RemoteStepInstance(std::shared_ptr<HostConnection> host, std::string step, std::uint64_t id,
                     std::vector<std::string> reads)
      : host_(std::move(host)), step_(std::move(step)), id_(id), reads_(std::move(reads)) {}
  ~RemoteStepInstance() override { host_->forget(id_); }
  RemoteStepInstance(const RemoteStepInstance&) = delete;
  RemoteStepInstance& operator=(const RemoteStepInstance&) = delete;
  RemoteStepInstance(RemoteStepInstance&&) = delete;
  RemoteStepInstance& operator=(RemoteStepInstance&&) = delete;

  StepOutcome run(const StepInput& input) const override {
    try {
      // Fields the step did not declare never leave the engine.
      StepInput restricted{input.idempotency_key, restrict_input(input.input, reads_)};
      return host_->run(id_, step_, restricted);
    } catch (...) {
      return outcome(StepStatus::failed, "step " + step_ + ": the call to its plugin host failed");
    }
  }

 private:
  std::shared_ptr<HostConnection> host_;
  std::string step_;
  std::uint64_t id_;
  std::vector<std::string> reads_;
};

class RemoteStepType final : public StepType {
 public:
  RemoteStepType(std::shared_ptr<HostConnection> host, std::string plugin, std::string version,
                 std::string name, std::string description, boost::json::value schema,
                 std::vector<std::string> reads)
      : host_(std::move(host)),
        plugin_(std::move(plugin)),
        version_(std::move(version)),
        name_(std::move(name)),
        description_(std::move(description)),
        schema_(std::move(schema)),
        reads_(std::move(reads)) {}

  const std::string& name() const override { return name_; }
  const std::string& description() const override { return description_; }
  const boost::json::value& config_schema() const override { return schema_; }
  const std::vector<std::string>& reads() const override { return reads_; }
  const std::string& plugin() const override { return plugin_; }
  const std::string& plugin_version() const override { return version_; }

  Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& config) const override {
    if (auto checked = check_config(*this, config); !checked) {
      return checked.error();
    }
    auto id = host_->create(name_, config);
    if (!id) {
      return id.error();
    }
    return std::shared_ptr<const StepInstance>(
        std::make_shared<RemoteStepInstance>(host_, name_, *id, reads_));
  }

 private:
  std::shared_ptr<HostConnection> host_;
  std::string plugin_;
  std::string version_;
  std::string name_;
  std::string description_;
  boost::json::value schema_;
  std::vector<std::string> reads_;
};

std::optional<std::string> text(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return std::nullopt;
  }
  return std::string(v->get_string());
}

// Reads the host's description with the same rules read_descriptor() applies in-process: the
// host is ours, but the plugin inside it can corrupt anything.
Result<RemotePlugin> read_description(const boost::json::object& d,
                                      const std::shared_ptr<HostConnection>& host) {
  const std::string where = "plugin file '" + host->options().plugin_file.string() + "': ";
  const auto bad = [&where](const std::string& what) {
    return make_error(Errc::plugin,
                      where + "the plugin host described the plugin wrongly: " + what);
  };
  RemotePlugin out;
  const auto name = text(d, "name");
  const auto version = text(d, "version");
  if (!name || !is_name(*name) || !version) {
    return bad("no valid name or version");
  }
  out.name = *name;
  out.version = *version;
  const auto* major = d.if_contains("abi_major");
  const auto* minor = d.if_contains("abi_minor");
  if (major == nullptr || minor == nullptr || !major->is_int64() || !minor->is_int64()) {
    return bad("no ABI version");
  }
  out.abi_major = static_cast<int>(major->get_int64());
  out.abi_minor = static_cast<int>(minor->get_int64());
  const auto* types = d.if_contains("step_types");
  if (types == nullptr || !types->is_array() || types->get_array().size() > kMaxStepTypes) {
    return bad("no list of step types");
  }
  std::set<std::string> seen;
  for (const auto& t : types->get_array()) {
    if (!t.is_object()) {
      return bad("a step type is not an object");
    }
    const auto& st = t.get_object();
    const auto step = text(st, "name");
    if (!step || step->rfind(out.name + ".", 0) != 0 ||
        !is_name(std::string_view(*step).substr(out.name.size() + 1)) ||
        !seen.insert(*step).second) {
      return bad("a step type has no valid name");
    }
    boost::json::value schema;
    if (const auto* s = st.if_contains("config_schema"); s != nullptr && !s->is_null()) {
      schema = *s;
      if (!check_schema(schema)) {
        return bad("step '" + *step + "' has an invalid config schema");
      }
    }
    std::vector<std::string> reads;
    const auto* r = st.if_contains("reads");
    if (r == nullptr || !r->is_array() || r->get_array().size() > kMaxReads) {
      return bad("step '" + *step + "' has no list of reads");
    }
    for (const auto& field : r->get_array()) {
      if (!field.is_string() || !is_name(field.get_string())) {
        return bad("step '" + *step + "' reads a field with an invalid name");
      }
      reads.emplace_back(field.get_string());
    }
    out.step_types.push_back(std::make_unique<RemoteStepType>(host, out.name, out.version, *step,
                                                              text(st, "description").value_or(""),
                                                              std::move(schema), std::move(reads)));
  }
  return out;
}

}  // namespace

Result<RemotePlugin> start_remote_plugin(const RemoteOptions& options) {
  auto host = std::make_shared<HostConnection>(options);
  auto described = host->describe();
  if (!described) {
    // The host's own refusals (allowlist, not a plugin ...) name the file already.
    const std::string& message = described.error().message;
    return make_error(Errc::plugin,
                      message.rfind("plugin file '", 0) == 0
                          ? message
                          : "plugin file '" + options.plugin_file.string() + "': " + message);
  }
  auto plugin = read_description(*described, host);
  if (!plugin) {
    return plugin.error();
  }
  host->set_plugin(plugin->name, plugin->version);
  return plugin;
}

}  // namespace carepath::plugin_host
