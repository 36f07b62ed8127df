// Assertions on loader diagnostics, shared by the workflow tests.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "workflow/loader.hpp"

namespace carepath::test {

// Every diagnostic of `result`, one per line, for failure messages.
inline std::string dump(const workflow::LoadResult& result) {
  std::string out;
  for (const workflow::Diagnostic& d : result.diagnostics) {
    out += "  " + workflow::to_string(d) + "\n";
  }
  return out.empty() ? "  (no diagnostics)\n" : out;
}

// Passes when `result` failed and holds an error at exactly line:column whose message contains
// `text`.
inline ::testing::AssertionResult has_error(const workflow::LoadResult& result, int line,
                                            int column, std::string_view text) {
  if (result.ok()) {
    return ::testing::AssertionFailure() << "loaded, expected an error\n" << dump(result);
  }
  const bool found = std::any_of(
      result.diagnostics.begin(), result.diagnostics.end(), [&](const workflow::Diagnostic& d) {
        return d.severity == workflow::Severity::error && d.line == line && d.column == column &&
               d.message.find(text) != std::string::npos;
      });
  if (!found) {
    return ::testing::AssertionFailure()
           << "no error at " << line << ":" << column << " containing \"" << text << "\"\n"
           << dump(result);
  }
  return ::testing::AssertionSuccess();
}

}  // namespace carepath::test
