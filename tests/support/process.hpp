// The `carepath` binary run as a child process, as an admin runs it: one-shot commands, and
// `carepath serve` on a free port of 127.0.0.1.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "tests/support/temp_dir.hpp"

namespace carepath::test {

// The binary under test, in the build tree.
std::string carepath_binary();
// The first-party plugins, in the build tree.
std::string plugin_build_dir();

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the binary to completion with `args`, capturing stdout and stderr (through files in
// `dir`, so a chatty child can never block on a full pipe). `env` is set in the child's
// environment on top of the test's own ({"PATH", "/nowhere"} hides the tools on PATH).
Output run_carepath(const std::vector<std::string>& args, const TempDir& dir,
                    const std::vector<std::pair<std::string, std::string>>& env = {});

// `carepath serve --listen 127.0.0.1:PORT ARGS...` (PORT 0: any free port; logs in the text
// format unless ARGS say --log-format json), started in the constructor, which waits up to 30 s for
// the "listening on" line and throws std::runtime_error (with the log) when it does not come. The
// destructor kills a server that is still running.
class ServerProcess {
 public:
  // How the server process is started, for the crash tests' storage failures.
  struct Options {
    // The server's RLIMIT_FSIZE in bytes (-1: none), with SIGXFSZ ignored, so that a write past
    // it fails with EFBIG as a write to a full disk fails: a full disk without root or a small
    // file system.
    long long file_size_limit = -1;
    // Drops CAP_DAC_OVERRIDE and CAP_FOWNER from the server's capability bounding set, so that a
    // server run as root (as tests in containers often are) is refused writes to files and
    // directories without write permission like anyone else. A no-op for other users.
    bool honour_file_modes = false;
  };

  explicit ServerProcess(const std::vector<std::string>& args, std::uint16_t port = 0);
  ServerProcess(const std::vector<std::string>& args, std::uint16_t port, const Options& options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ServerProcess(ServerProcess&&) = delete;
  ServerProcess& operator=(ServerProcess&&) = delete;

  std::uint16_t port() const { return port_; }
  // The server's process id, to send it signals; -1 once it has exited.
  pid_t pid() const { return pid_; }
  // SIGTERM, then waits: the exit status (-1 when it did not exit normally).
  int stop();
  // SIGKILL, then waits.
  void kill();
  // Everything the server wrote to stderr so far.
  const std::string& log();

 private:
  void drain(int timeout_ms);

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string log_;
};

// How many threads of this process carry each name (/proc/self/task/*/comm), read again every
// few milliseconds for up to 10 s until each name in `expected` has its count: a thread names
// itself as it starts, which may be just after whatever started it returned.
std::map<std::string, int> thread_names(const std::map<std::string, int>& expected);

}  // namespace carepath::test
