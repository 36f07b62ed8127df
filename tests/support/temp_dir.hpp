// A directory under the system temp dir, removed with everything in it when the object dies.
#pragma once

#include <filesystem>
#include <string>

namespace carepath::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

 private:
  std::filesystem::path path_;
};

// The bytes of a file; empty when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// Path of a file in the source tree, e.g. source_path("workflows/aftercare.yaml").
std::filesystem::path source_path(const std::filesystem::path& relative);

}  // namespace carepath::test
