#include "security/sodium.hpp"

#include <cstdio>
#include <cstdlib>

#include <sodium.h>

namespace carepath::security {

void ensure_sodium() {
  // A function-local static is initialised exactly once, even with concurrent first callers.
  static const bool kInitialised = [] {
    if (sodium_init() < 0) {
      std::fputs("carepath: libsodium failed to initialise\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)kInitialised;
}

}  // namespace carepath::security
