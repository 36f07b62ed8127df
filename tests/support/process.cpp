#include "tests/support/process.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/keys.hpp"

namespace carepath::test {

std::string carepath_binary() {
  return std::string(CP_BINARY_DIR) + "/engine/src/app/carepath";
}

std::string plugin_build_dir() {
  return std::string(CP_BINARY_DIR) + "/plugins";
}

namespace {

std::vector<char*> make_argv(const std::string& binary, const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(binary.c_str())};
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

Output run_carepath(const std::vector<std::string>& args, const TempDir& dir,
                    const std::vector<std::pair<std::string, std::string>>& env) {
  const std::string binary = carepath_binary();
  const auto out_path = dir / "stdout.txt";
  const auto err_path = dir / "stderr.txt";
  auto argv = make_argv(binary, args);
  const std::string& key = master_key_file();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::setenv("CAREPATH_MASTER_KEY_FILE", key.c_str(), 0);
    for (const auto& [name, value] : env) {
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Output o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream out(out_path);
  o.out.assign(std::istreambuf_iterator<char>(out), {});
  std::ifstream err(err_path);
  o.err.assign(std::istreambuf_iterator<char>(err), {});
  return o;
}

ServerProcess::ServerProcess(const std::vector<std::string>& args, std::uint16_t port)
    : ServerProcess(args, port, Options{}) {
}

ServerProcess::ServerProcess(const std::vector<std::string>& args, std::uint16_t port,
                             const Options& options) {
  const std::string binary = carepath_binary();
  std::vector<std::string> all{"serve", "--listen", "127.0.0.1:" + std::to_string(port)};
  all.insert(all.end(), args.begin(), args.end());
  auto argv = make_argv(binary, all);
  const std::string& key = master_key_file();
  int err_pipe[2];
  if (::pipe(err_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(err_pipe[1], 2);
    ::close(err_pipe[0]);
    ::setenv("CAREPATH_MASTER_KEY_FILE", key.c_str(), 0);
    // stderr is a pipe, which would mean JSON lines; the tests read the text format unless they
    // pass --log-format json.
    ::setenv("CAREPATH_LOG_FORMAT", "text", 0);
    if (options.file_size_limit >= 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // an ignored signal stays ignored across execv
      const auto bytes = static_cast<rlim_t>(options.file_size_limit);
      const rlimit limit{bytes, bytes};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
        ::_exit(126);
      }
    }
    if (options.honour_file_modes && ::geteuid() == 0) {
      // Root keeps every capability of the bounding set across execv; without these two, the
      // owner's mode bits apply to it.
      if (::prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0 ||
          ::prctl(PR_CAPBSET_DROP, CAP_FOWNER, 0, 0, 0) != 0) {
        ::_exit(126);
      }
    }
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  stderr_fd_ = err_pipe[0];
  const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  std::smatch match;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!std::regex_search(log_, match, listening) &&
         std::chrono::steady_clock::now() < deadline) {
    const std::size_t before = log_.size();
    drain(1000);
    int status = 0;
    if (log_.size() == before && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;  // it exited before listening
    }
  }
  if (!std::regex_search(log_, match, listening)) {
    kill();
    throw std::runtime_error("carepath serve did not start:\n" + log_);
  }
  port_ = static_cast<std::uint16_t>(std::stoi(match[1].str()));
}

ServerProcess::~ServerProcess() {
  kill();
  if (stderr_fd_ >= 0) {
    ::close(stderr_fd_);
  }
}

void ServerProcess::drain(int timeout_ms) {
  if (stderr_fd_ < 0) {
    return;
  }
  pollfd p{stderr_fd_, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) > 0) {
    std::array<char, 4096> buffer{};
    const ssize_t n = ::read(stderr_fd_, buffer.data(), buffer.size());
    if (n <= 0) {
      return;
    }
    log_.append(buffer.data(), static_cast<std::size_t>(n));
    timeout_ms = 0;  // take what is there, do not wait for more
  }
}

const std::string& ServerProcess::log() {
  drain(0);
  return log_;
}

int ServerProcess::stop() {
  if (pid_ < 0) {
    return -1;
  }
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  drain(100);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ServerProcess::kill() {
  if (pid_ < 0) {
    return;
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::map<std::string, int> thread_names(const std::map<std::string, int>& expected) {
  const auto read = [] {
    std::map<std::string, int> names;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      std::ifstream comm(task.path() / "comm");  // gone when the thread ended meanwhile
      std::string name;
      if (std::getline(comm, name)) {
        ++names[name];
      }
    }
    return names;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto names = read();
  const auto met = [&] {
    return std::all_of(expected.begin(), expected.end(), [&](const auto& entry) {
      const auto found = names.find(entry.first);
      return (found == names.end() ? 0 : found->second) == entry.second;
    });
  };
  while (!met() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    names = read();
  }
  return names;
}

}  // namespace carepath::test
