// The step catalog the shipped workflows are written against: the first-party plugins built into
// <build>/plugins, and the built-in core.set and core.assign.
#pragma once

#include <filesystem>
#include <memory>

#include <gtest/gtest.h>

#include "plugin_host/registry.hpp"
#include "runtime/builtin_steps.hpp"

namespace carepath::test {

inline std::filesystem::path plugin_dir() {
  return std::filesystem::path(CP_BINARY_DIR) / "plugins";
}

inline std::unique_ptr<plugin_host::Registry> shipped_steps() {
  auto steps = std::make_unique<plugin_host::Registry>();
  EXPECT_TRUE(steps->add(runtime::make_core_set()));
  EXPECT_TRUE(steps->add(runtime::make_core_assign()));
  const auto problems = steps->load_directory(plugin_dir());
  for (const auto& p : problems) {
    ADD_FAILURE() << p.message;
  }
  return steps;
}

}  // namespace carepath::test
