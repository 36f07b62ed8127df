// The master key file the tests' engines use: one per test process, created on first use.
#pragma once

#include <string>

namespace carepath::test {

// The path of a master key file (mode 0400) that lives until the test process exits. The
// carepath processes tests start get it as CAREPATH_MASTER_KEY_FILE unless a test sets that.
const std::string& master_key_file();

}  // namespace carepath::test
