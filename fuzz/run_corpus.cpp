// Runs a fuzz harness once on every file of the given directories (or files): the fuzz corpora
// and the inputs that once crashed, as a regression test in the normal build, without clang or
// libFuzzer. A crash, a sanitizer report or an escaping exception fails the test, as under the
// fuzzer; invalid input is expected and passes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> inputs_of(const std::filesystem::path& where) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (std::filesystem::is_regular_file(where, ec)) {
    out.push_back(where);
  } else if (std::filesystem::is_directory(where, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(where)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && !name.starts_with(".") && name != "README.md") {
        out.push_back(entry.path());
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
    return 2;
  }
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& path : inputs_of(argv[i])) {
      std::ifstream in(path, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        std::fprintf(stderr, "cannot read %s\n", path.string().c_str());
        return 1;
      }
      std::fprintf(stderr, "%s\n", path.string().c_str());
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++count;
    }
  }
  std::printf("%zu inputs ran without a finding\n", count);
  // No input at all means a wrong path, not a pass.
  return count == 0 ? 1 : 0;
}
