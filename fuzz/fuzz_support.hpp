// Shared by the fuzz harnesses (fuzz/*_fuzz.cpp): a step catalog that knows every step name a
// fuzzed workflow may call, and the repository's own files as the harnesses' fixtures.
//
// A harness defines LLVMFuzzerTestOneInput. Invalid input is the normal case and must end in an
// error result, never in abort(): only a crash, a sanitizer report, an escaping exception or a
// broken invariant (fuzz_check) is a finding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "core/step.hpp"
#include "runtime/builtin_steps.hpp"

namespace carepath::fuzz {

// A broken invariant: reported like a crash, so libFuzzer keeps the input.
[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", file, line, what);
  std::abort();
}
#define FUZZ_CHECK(condition)                                 \
  do {                                                        \
    if (!(condition)) {                                       \
      ::carepath::fuzz::fail(#condition, __FILE__, __LINE__); \
    }                                                         \
  } while (false)

// The source tree (fixtures the harnesses load once: the shipped workflows, tests/migration).
inline std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("CAREPATH_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return CP_SOURCE_DIR;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz harness: cannot read %s\n", path.string().c_str());
    std::abort();  // a missing fixture is a setup error, not a finding
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A step type that accepts any `with:` object and does nothing when run.
class AnyStepType final : public StepType {
 public:
  explicit AnyStepType(std::string name)
      : name_(std::move(name)), schema_(boost::json::parse(R"({"type": "object"})")) {}
  const std::string& name() const override { return name_; }
  const std::string& description() const override { return description_; }
  const boost::json::value& config_schema() const override { return schema_; }
  const std::vector<std::string>& reads() const override { return reads_; }
  const std::string& plugin() const override { return plugin_; }
  const std::string& plugin_version() const override { return version_; }
  Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& /*config*/) const override {
    return std::shared_ptr<const StepInstance>(std::make_shared<Instance>());
  }

 private:
  class Instance final : public StepInstance {
   public:
    StepOutcome run(const StepInput& /*input*/) const override {
      StepOutcome outcome;
      outcome.status = StepStatus::ok;
      return outcome;
    }
  };
  std::string name_;
  std::string description_ = "a fuzzing step";
  std::string plugin_ = "fuzz";
  std::string version_ = "0.0.1";
  std::vector<std::string> reads_;
  boost::json::value schema_;
};

// core.set and core.assign as built in, and any other "<plugin>.<step>" name as an AnyStepType,
// so that fuzzed workflows reach the step-call checks without the plugin libraries.
class AnyStepCatalog final : public StepCatalog {
 public:
  AnyStepCatalog() {
    add(runtime::make_core_set());
    add(runtime::make_core_assign());
  }
  const StepType* find(std::string_view name) const override {
    if (const auto it = types_.find(name); it != types_.end()) {
      return it->second.get();
    }
    const auto dot = name.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size() ||
        name.starts_with("core.") || name.size() > 128 || types_.size() > 4096) {
      return nullptr;
    }
    auto type = std::make_unique<AnyStepType>(std::string(name));
    const StepType* found = type.get();
    types_.emplace(std::string(name), std::move(type));
    return found;
  }
  std::vector<const StepType*> all() const override {
    std::vector<const StepType*> out;
    for (const auto& [name, type] : types_) {
      out.push_back(type.get());
    }
    return out;
  }

 private:
  void add(std::unique_ptr<StepType> type) {
    const std::string name = type->name();
    types_.emplace(name, std::move(type));
  }
  mutable std::map<std::string, std::unique_ptr<StepType>, std::less<>> types_;
};

}  // namespace carepath::fuzz
