#include "core/thread_name.hpp"

#include <algorithm>
#include <array>

#include <pthread.h>

namespace carepath {
namespace {

constexpr std::size_t kMaxName = 15;  // pthread_setname_np refuses longer names (ERANGE)

}  // namespace

void name_this_thread(std::string_view name) {
  std::array<char, kMaxName + 1> cut{};
  std::copy_n(name.begin(), std::min(name.size(), kMaxName), cut.begin());
  // A name is a help for people looking at the process; failing to set one changes nothing else.
  static_cast<void>(pthread_setname_np(pthread_self(), cut.data()));
}

std::string this_thread_name() {
  std::array<char, kMaxName + 1> name{};
  if (pthread_getname_np(pthread_self(), name.data(), name.size()) != 0) {
    return "";
  }
  return name.data();
}

}  // namespace carepath
