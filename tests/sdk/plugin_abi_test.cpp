// plugin_abi.h: self-contained, laid out the same in C and C++, and pinned per ABI minor on
// x86_64, so that an accidental reorder or insertion fails here before it breaks a plugin.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <carepath/plugin_abi.h>
#include <gtest/gtest.h>

#include "tests/sdk/abi_layout_c11.h"
#include "tests/support/temp_dir.hpp"

namespace {

// --- Invariants on every platform -----------------------------------------------------------

static_assert(offsetof(cp_host_api, struct_size) == 0);
static_assert(offsetof(cp_step_type, struct_size) == 0);
static_assert(offsetof(cp_plugin, struct_size) == 0);
static_assert(std::is_same_v<decltype(cp_host_api::struct_size), std::uint32_t>);
static_assert(std::is_same_v<decltype(cp_step_type::struct_size), std::uint32_t>);
static_assert(std::is_same_v<decltype(cp_plugin::struct_size), std::uint32_t>);
static_assert(CP_STATUS_INVALID == 0);
static_assert(CP_ABI_MAJOR == 1, "a new major renames the entry symbol; see STYLE.md section 10");
static_assert(std::is_standard_layout_v<cp_str> && std::is_trivially_copyable_v<cp_str>);
static_assert(std::is_standard_layout_v<cp_sink> && std::is_trivially_copyable_v<cp_sink>);
static_assert(std::is_standard_layout_v<cp_host_api> && std::is_trivial_v<cp_host_api>);
static_assert(std::is_standard_layout_v<cp_step_type> && std::is_trivial_v<cp_step_type>);
static_assert(std::is_standard_layout_v<cp_plugin> && std::is_trivial_v<cp_plugin>);

// --- Pinned layout on x86_64 (System V) -------------------------------------------------------
// Offsets never change within major 1. Sizes are pinned per minor: when a minor appends a member,
// add a block for it and keep the old sizes (older plugins report them in struct_size).

// Sizes at ABI 1.0.
constexpr std::size_t kHostApiSizeAtMinor0 = 32;
constexpr std::size_t kStepTypeSizeAtMinor0 = 72;
constexpr std::size_t kPluginSizeAtMinor0 = 40;

#if defined(__x86_64__)
static_assert(sizeof(cp_str) == 16 && alignof(cp_str) == 8);
static_assert(offsetof(cp_str, data) == 0 && offsetof(cp_str, size) == 8);
static_assert(sizeof(cp_sink) == 16 && alignof(cp_sink) == 8);
static_assert(offsetof(cp_sink, host) == 0 && offsetof(cp_sink, write) == 8);
static_assert(sizeof(cp_status) == 4 && sizeof(cp_log_level) == 4);

static_assert(offsetof(cp_host_api, abi_major) == 4);
static_assert(offsetof(cp_host_api, abi_minor) == 6);
static_assert(offsetof(cp_host_api, log) == 8);
static_assert(offsetof(cp_host_api, is_cancelled) == 16);
static_assert(offsetof(cp_host_api, idempotency_key) == 24);

static_assert(offsetof(cp_step_type, name) == 8);
static_assert(offsetof(cp_step_type, description) == 16);
static_assert(offsetof(cp_step_type, config_schema) == 24);
static_assert(offsetof(cp_step_type, reads) == 32);
static_assert(offsetof(cp_step_type, read_count) == 40);
static_assert(offsetof(cp_step_type, create) == 48);
static_assert(offsetof(cp_step_type, run) == 56);
static_assert(offsetof(cp_step_type, destroy) == 64);

static_assert(offsetof(cp_plugin, abi_major) == 4);
static_assert(offsetof(cp_plugin, abi_minor) == 6);
static_assert(offsetof(cp_plugin, name) == 8);
static_assert(offsetof(cp_plugin, version) == 16);
static_assert(offsetof(cp_plugin, step_types) == 24);
static_assert(offsetof(cp_plugin, step_type_count) == 32);

#if CP_ABI_MINOR == 0
static_assert(sizeof(cp_host_api) == kHostApiSizeAtMinor0);
static_assert(sizeof(cp_step_type) == kStepTypeSizeAtMinor0);
static_assert(sizeof(cp_plugin) == kPluginSizeAtMinor0);
#else
#error "pin the sizes of the new ABI minor here, keeping the 1.0 sizes above"
#endif
#endif  // __x86_64__

TEST(PluginAbi, StructsStartWithTheirSize) {
  EXPECT_EQ(offsetof(cp_host_api, struct_size), 0U);
  EXPECT_EQ(offsetof(cp_step_type, struct_size), 0U);
  EXPECT_EQ(offsetof(cp_plugin, struct_size), 0U);
}

TEST(PluginAbi, ZeroIsNeverAStatus) {
  EXPECT_EQ(CP_STATUS_INVALID, 0);
  EXPECT_EQ(CP_STATUS_OK, 1);
  EXPECT_EQ(CP_STATUS_FAILED, 2);
  EXPECT_EQ(CP_STATUS_RETRYABLE, 3);
  EXPECT_EQ(CP_STATUS_PENDING, 4);
  EXPECT_EQ(CP_STATUS_VETO, 5);
}

TEST(PluginAbi, LogLevelsArePinned) {
  EXPECT_EQ(CP_LOG_DEBUG, 1);
  EXPECT_EQ(CP_LOG_INFO, 2);
  EXPECT_EQ(CP_LOG_WARNING, 3);
  EXPECT_EQ(CP_LOG_ERROR, 4);
}

TEST(PluginAbi, EntrySymbolCarriesTheMajorVersion) {
  EXPECT_EQ(std::string_view(CP_PLUGIN_ENTRY_SYMBOL), "carepath_plugin_entry_v1");
  EXPECT_EQ(CP_ABI_MAJOR, 1);
}

TEST(PluginAbi, LayoutIsPinnedOnX8664) {
#if defined(__x86_64__)
  EXPECT_EQ(sizeof(cp_str), 16U);
  EXPECT_EQ(offsetof(cp_str, data), 0U);
  EXPECT_EQ(offsetof(cp_str, size), 8U);
  EXPECT_EQ(sizeof(cp_sink), 16U);
  EXPECT_EQ(offsetof(cp_sink, host), 0U);
  EXPECT_EQ(offsetof(cp_sink, write), 8U);

  EXPECT_EQ(offsetof(cp_host_api, abi_major), 4U);
  EXPECT_EQ(offsetof(cp_host_api, abi_minor), 6U);
  EXPECT_EQ(offsetof(cp_host_api, log), 8U);
  EXPECT_EQ(offsetof(cp_host_api, is_cancelled), 16U);
  EXPECT_EQ(offsetof(cp_host_api, idempotency_key), 24U);
  EXPECT_GE(sizeof(cp_host_api), kHostApiSizeAtMinor0);

  EXPECT_EQ(offsetof(cp_step_type, name), 8U);
  EXPECT_EQ(offsetof(cp_step_type, description), 16U);
  EXPECT_EQ(offsetof(cp_step_type, config_schema), 24U);
  EXPECT_EQ(offsetof(cp_step_type, reads), 32U);
  EXPECT_EQ(offsetof(cp_step_type, read_count), 40U);
  EXPECT_EQ(offsetof(cp_step_type, create), 48U);
  EXPECT_EQ(offsetof(cp_step_type, run), 56U);
  EXPECT_EQ(offsetof(cp_step_type, destroy), 64U);
  EXPECT_GE(sizeof(cp_step_type), kStepTypeSizeAtMinor0);

  EXPECT_EQ(offsetof(cp_plugin, abi_major), 4U);
  EXPECT_EQ(offsetof(cp_plugin, abi_minor), 6U);
  EXPECT_EQ(offsetof(cp_plugin, name), 8U);
  EXPECT_EQ(offsetof(cp_plugin, version), 16U);
  EXPECT_EQ(offsetof(cp_plugin, step_types), 24U);
  EXPECT_EQ(offsetof(cp_plugin, step_type_count), 32U);
  EXPECT_GE(sizeof(cp_plugin), kPluginSizeAtMinor0);
#else
  GTEST_SKIP() << "layout is pinned for x86_64 only";
#endif
}

TEST(PluginAbi, SizesArePinnedForMinorZero) {
#if defined(__x86_64__)
  if (CP_ABI_MINOR != 0) {
    GTEST_SKIP() << "the 1.0 sizes are checked as lower bounds in LayoutIsPinnedOnX8664";
  }
  EXPECT_EQ(sizeof(cp_host_api), kHostApiSizeAtMinor0);
  EXPECT_EQ(sizeof(cp_step_type), kStepTypeSizeAtMinor0);
  EXPECT_EQ(sizeof(cp_plugin), kPluginSizeAtMinor0);
#else
  GTEST_SKIP() << "sizes are pinned for x86_64 only";
#endif
}

// The same expressions, evaluated by the C++ compiler.
#define CP_ALIGNOF(type) alignof(type)
#define CP_LAYOUT(expression) {#expression, static_cast<std::size_t>(expression)},
const std::vector<std::pair<std::string_view, std::size_t>> kCxxLayout = {
#include "tests/sdk/abi_layout.inc"
};
#undef CP_LAYOUT
#undef CP_ALIGNOF

TEST(PluginAbi, CompilesAsC11WithTheSameLayoutAsCxx) {
  EXPECT_GE(cp_test_c11_stdc_version, 201112L);
  ASSERT_EQ(cp_test_c11_layout_count, kCxxLayout.size());
  for (std::size_t i = 0; i < kCxxLayout.size(); ++i) {
    const auto& c = cp_test_c11_layout[i];
    EXPECT_EQ(std::string_view(c.expression), kCxxLayout[i].first);
    EXPECT_EQ(c.value, kCxxLayout[i].second) << kCxxLayout[i].first << " differs between C and C++";
  }
}

TEST(PluginAbi, PluginWrittenInCDescribesItself) {
  const cp_plugin* plugin = cp_test_c11_entry(nullptr);
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->struct_size, sizeof(cp_plugin));
  EXPECT_EQ(plugin->abi_major, CP_ABI_MAJOR);
  EXPECT_EQ(plugin->abi_minor, CP_ABI_MINOR);
  EXPECT_STREQ(plugin->name, "c");
  ASSERT_EQ(plugin->step_type_count, 1U);
  EXPECT_STREQ(plugin->step_types[0]->name, "c.step");
  EXPECT_EQ(plugin->step_types[0]->struct_size, sizeof(cp_step_type));
}

// tests/sdk/frozen/abi_1_0 is what a plugin built against ABI 1.0 saw. While the live header is
// still 1.0, the two must be identical; once it moves on, the frozen copy must not.
TEST(PluginAbi, FrozenCopyOfMinorZeroMatchesTheHeaderItFroze) {
  const std::string live =
      carepath::test::read_file(CP_SOURCE_DIR "/engine/sdk/include/carepath/plugin_abi.h");
  const std::string frozen =
      carepath::test::read_file(CP_SOURCE_DIR "/tests/sdk/frozen/abi_1_0/carepath/plugin_abi.h");
  ASSERT_FALSE(live.empty());
  ASSERT_FALSE(frozen.empty());
  EXPECT_NE(frozen.find("#define CP_ABI_MINOR 0\n"), std::string::npos);
  if (CP_ABI_MINOR == 0) {
    EXPECT_EQ(live, frozen) << "the live header is still 1.0, so the frozen copy must equal it";
  }
}

}  // namespace
