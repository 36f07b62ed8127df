// Lines of a `carepath import` file (docs/operations.md, "Importing cases") for the benchmarks
// that build a database through the import (import_bench, large_bench): one case per line, built
// entry by entry. Invented values only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace carepath::bench {

// 2024-01-01T00:00:00Z plus `minutes`.
inline std::string import_time(long long minutes) {
  return carepath::format_timestamp(1'704'067'200'000LL + minutes * 60'000LL);
}

// One case: its workflow, code and final state, then its history, oldest first (the first entry
// `opened`), all by the actor "bench-worker".
class ImportLine {
 public:
  ImportLine(std::string_view workflow, int version, std::string_view code,
             std::string_view state) {
    text_.reserve(2048);
    text_.append(R"({"workflow":")")
        .append(workflow)
        .append(R"(","workflow_version":)")
        .append(std::to_string(version))
        .append(R"(,"code":")")
        .append(code)
        .append(R"(","state":")")
        .append(state)
        .append(R"(","history":[)");
  }

  // An entry at import_time(minutes); `payload` is a JSON object's text or empty, `comment`
  // empty for none, `to` the state after, for an event that leads to more than one (else empty).
  ImportLine& entry(long long minutes, std::string_view event, std::string_view payload = {},
                    std::string_view comment = {}, std::string_view to = {}) {
    text_.append(events_ == 0 ? R"({"at":")" : R"(,{"at":")")
        .append(import_time(minutes))
        .append(R"(","actor":"bench-worker","event":")")
        .append(event)
        .append("\"");
    if (!to.empty()) {
      text_.append(R"(,"to":")").append(to).append("\"");
    }
    if (!payload.empty()) {
      text_.append(R"(,"payload":)").append(payload);
    }
    if (!comment.empty()) {
      text_.append(R"(,"comment":")").append(comment).append("\"");
    }
    text_.append("}");
    ++events_;
    return *this;
  }

  long long events() const { return events_; }
  // The line, without its newline.
  std::string finish() && { return std::move(text_.append("]}")); }

 private:
  std::string text_;
  long long events_ = 0;
};

// Writes the lines make(0) ... make(cases - 1) to `path`; the number of history entries (events).
inline long long write_import_file(const std::filesystem::path& path, std::int64_t cases,
                                   const std::function<ImportLine(std::int64_t)>& make) {
  std::ofstream out(path);
  long long events = 0;
  for (std::int64_t i = 0; i < cases; ++i) {
    ImportLine line = make(i);
    events += line.events();
    out << std::move(line).finish() << '\n';
  }
  return events;
}

}  // namespace carepath::bench
