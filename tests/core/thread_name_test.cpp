// Thread names (core/thread_name.hpp): what `top -H`, `ps -L` and perf show for each thread.
#include "core/thread_name.hpp"

#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace carepath {
namespace {

// The name the kernel shows for the calling thread.
std::string name_in_proc() {
  const auto tid = static_cast<long>(::syscall(SYS_gettid));
  std::ifstream comm("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = this_thread_name();
  std::string seen;
  std::string in_proc;
  std::thread([&] {
    name_this_thread("cp-test");
    seen = this_thread_name();
    in_proc = name_in_proc();
  }).join();
  EXPECT_EQ(seen, "cp-test");
  EXPECT_EQ(in_proc, "cp-test");
  EXPECT_EQ(this_thread_name(), before);
}

TEST(ThreadName, ALongNameIsCutToFifteenBytes) {
  std::string seen;
  std::thread([&] {
    name_this_thread("cp-a-name-longer-than-linux-keeps");
    seen = this_thread_name();
  }).join();
  EXPECT_EQ(seen, "cp-a-name-longe");
}

}  // namespace
}  // namespace carepath
