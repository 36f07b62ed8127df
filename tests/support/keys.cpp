#include "tests/support/keys.hpp"

#include <stdexcept>

#include "security/crypto.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::test {

const std::string& master_key_file() {
  static const TempDir dir;
  static const std::string path = [] {
    const std::string file = (dir / "master.key").string();
    if (auto created = security::create_key_file(file); !created) {
      throw std::runtime_error("cannot create the tests' master key: " + created.error().message);
    }
    return file;
  }();
  return path;
}

}  // namespace carepath::test
