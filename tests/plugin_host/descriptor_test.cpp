// read_descriptor() on descriptors built in memory: what a plugin library would hand over.
#include "plugin_host/descriptor.hpp"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

namespace carepath::plugin_host {
namespace {

cp_status no_create(cp_str, void**, cp_sink) {
  return CP_STATUS_FAILED;
}
cp_status no_run(void*, const cp_host_api*, void*, cp_str, cp_sink, cp_sink) {
  return CP_STATUS_FAILED;
}
void no_destroy(void*) {
}

// One plugin "forms" with one step type "forms.check" whose config_schema is `schema`.
Result<PluginDescriptor> read_with_schema(const std::string& schema) {
  cp_step_type step{};
  step.struct_size = sizeof step;
  step.name = "forms.check";
  step.config_schema = schema.c_str();
  step.create = no_create;
  step.run = no_run;
  step.destroy = no_destroy;
  const cp_step_type* table[] = {&step};
  cp_plugin plugin{};
  plugin.struct_size = sizeof plugin;
  plugin.abi_major = CP_ABI_MAJOR;
  plugin.abi_minor = CP_ABI_MINOR;
  plugin.name = "forms";
  plugin.version = "1.0";
  plugin.step_types = table;
  plugin.step_type_count = 1;
  return read_descriptor(&plugin);
}

bool printable(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

TEST(Descriptor, ReadsAStepTypeWithASupportedSchema) {
  const auto read = read_with_schema(R"({"type": "object", "properties": {"form": {"type":
      "string", "pattern": "^[A-Z]{2}-[0-9]+$"}}, "additionalProperties": false})");
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_EQ(read->step_types.size(), 1U);
  EXPECT_TRUE(read->step_types[0].config_schema.is_object());
}

// Found by fuzzing (fuzz/regressions/plugin_descriptor/): the schema checker quotes an
// unsupported keyword as it is, and the descriptor's message passed control bytes and any
// length of it on.
TEST(Descriptor, QuotesAnUnsupportedSchemaKeywordOnlyAsAShortPrintableExcerpt) {
  const auto control = read_with_schema(R"({"type": "object", "\u007fneOf\u001b[2J": []})");
  ASSERT_FALSE(control);
  const Error error = control.error();
  EXPECT_EQ(error.code, Errc::plugin);
  EXPECT_TRUE(printable(error.message)) << error.message;
  EXPECT_NE(error.message.find("plugin 'forms': step 'forms.check': config_schema: schema "
                               "keyword '?neOf?[2J' at /?neOf?[2J is not supported"),
            std::string::npos)
      << error.message;

  const auto long_key = read_with_schema(R"({")" + std::string(5000, 'k') + R"(": 1})");
  ASSERT_FALSE(long_key);
  const std::string message = long_key.error().message;
  EXPECT_TRUE(printable(message));
  EXPECT_LT(message.size(), 500U) << message;
  EXPECT_EQ(message.substr(message.size() - 3), "...");
}

}  // namespace
}  // namespace carepath::plugin_host
