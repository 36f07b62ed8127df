// The first-party plugins' descriptors as the engine reads them: names, versions, step types,
// reads, and config schemas that the engine's own validator accepts and enforces.
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <carepath/plugin.hpp>
#include <gtest/gtest.h>

#include "core/json_schema.hpp"
#include "tests/plugins/plugin_harness.hpp"

CP_PLUGIN_DECLARE_STATIC(legal_aid);
CP_PLUGIN_DECLARE_STATIC(medical);
CP_PLUGIN_DECLARE_STATIC(vocational);

namespace carepath::test {
namespace {

struct Expected {
  const cp_plugin* plugin;
  const char* name;
  std::vector<std::pair<std::string, std::vector<std::string>>> steps;  // name, reads
};

std::vector<Expected> plugins() {
  return {
      {legal_aid_carepath_plugin_entry_v1(&entry_host()),
       "legal_aid",
       {{"legal_aid.refer", {}},
        {"legal_aid.record_hearing", {"hearing_count", "next_hearing_date"}}}},
      {medical_carepath_plugin_entry_v1(&entry_host()),
       "medical",
       {{"medical.check", {"medical_checks_done", "medical_flags"}}}},
      {vocational_carepath_plugin_entry_v1(&entry_host()),
       "vocational",
       {{"vocational.assess_interest", {"age", "education_level", "interests"}},
        {"vocational.place", {"vocational_track"}}}},
  };
}

// Every object schema inside `schema` says additionalProperties: false.
void expect_closed_objects(const boost::json::value& schema, const std::string& where) {
  if (!schema.is_object()) {
    return;
  }
  const boost::json::object& object = schema.get_object();
  if (const auto* type = object.if_contains("type"); type != nullptr && *type == "object") {
    const auto* additional = object.if_contains("additionalProperties");
    EXPECT_TRUE(additional != nullptr && *additional == false) << where;
  }
  for (const auto& member : object) {
    if (member.value().is_object()) {
      expect_closed_objects(member.value(), where + "/" + std::string(member.key()));
    }
  }
}

TEST(FirstPartyPlugins, DescribeThemselvesForThisAbi) {
  for (const Expected& expected : plugins()) {
    ASSERT_NE(expected.plugin, nullptr) << expected.name;
    const cp_plugin& plugin = *expected.plugin;
    EXPECT_EQ(plugin.struct_size, sizeof(cp_plugin));
    EXPECT_EQ(plugin.abi_major, CP_ABI_MAJOR);
    EXPECT_EQ(plugin.abi_minor, CP_ABI_MINOR);
    EXPECT_STREQ(plugin.name, expected.name);
    EXPECT_STREQ(plugin.version, "0.1.0");
    ASSERT_EQ(plugin.step_type_count, expected.steps.size()) << expected.name;
    for (std::size_t i = 0; i < plugin.step_type_count; ++i) {
      const cp_step_type& type = *plugin.step_types[i];
      EXPECT_EQ(type.struct_size, sizeof(cp_step_type));
      EXPECT_EQ(type.name, expected.steps[i].first);
      EXPECT_NE(type.description, nullptr);
      std::vector<std::string> reads(type.reads, type.reads + type.read_count);
      EXPECT_EQ(reads, expected.steps[i].second) << type.name;
    }
  }
}

TEST(FirstPartyPlugins, SchemasAreOnesTheEngineEnforcesWithClosedObjects) {
  for (const Expected& expected : plugins()) {
    for (std::size_t i = 0; i < expected.plugin->step_type_count; ++i) {
      const cp_step_type& type = *expected.plugin->step_types[i];
      ASSERT_NE(type.config_schema, nullptr) << type.name;
      const boost::json::value schema = boost::json::parse(type.config_schema);
      const auto checked = check_schema(schema);
      EXPECT_TRUE(checked.has_value()) << type.name << ": " << checked.error().message;
      expect_closed_objects(schema, type.name);
    }
  }
}

struct ConfigCase {
  const char* step;
  const char* config;
  bool valid;
};

// The host validates `with:` blocks against the schema before create() sees them; the schema and
// the constructor must agree on what is valid (the constructor may refuse more: subsets,
// duplicates).
TEST(FirstPartyPlugins, SchemaAndConstructorAgree) {
  const std::vector<ConfigCase> cases = {
      {"legal_aid.refer", R"({"provider": "dlsa"})", true},
      {"legal_aid.refer",
       R"({"provider": "ngo_panel", "due_days": 45, "office": "Panel, Sealdah", "confirm": "immediate"})",
       true},
      {"legal_aid.refer", R"({"provider": "dlsa", "provder": "slsa"})", false},
      {"legal_aid.refer", R"({"provider": "court"})", false},
      {"legal_aid.refer", R"({"provider": "dlsa", "due_days": 0})", false},
      {"legal_aid.refer", R"({})", false},
      {"legal_aid.record_hearing", R"({"court": "jjb"})", true},
      {"legal_aid.record_hearing", R"({"court": "jjb", "date": "x"})", false},
      {"medical.check", R"({"checks": ["general", "hiv"], "cleared_when_done": ["hiv"]})", true},
      {"medical.check", R"({"checks": ["general", "general"]})", false},
      {"medical.check", R"({"checks": ["xray"]})", false},
      {"vocational.assess_interest", R"({})", true},
      {"vocational.assess_interest", R"({"min_age": 15})", true},
      {"vocational.assess_interest", R"({"min_age": 30})", false},
      {"vocational.place",
       R"({"partners": [{"name": "Sewing Circle Howrah", "course": "tailoring", "capacity": 10}]})",
       true},
      {"vocational.place",
       R"({"partners": [{"name": "X", "course": "tailoring", "capacity": 10, "city": "Y"}]})",
       false},
      {"vocational.place", R"({"partners": []})", false},
  };
  for (const ConfigCase& c : cases) {
    const cp_plugin* plugin = nullptr;
    for (const Expected& expected : plugins()) {
      if (std::string_view(c.step).starts_with(std::string(expected.name) + ".")) {
        plugin = expected.plugin;
      }
    }
    ASSERT_NE(plugin, nullptr) << c.step;
    const cp_step_type* type = find_step_type(plugin, c.step);
    ASSERT_NE(type, nullptr) << c.step;
    const auto problems =
        validate_schema(boost::json::parse(type->config_schema), boost::json::parse(c.config));
    EXPECT_EQ(problems.empty(), c.valid) << c.step << " " << c.config;
    const auto created = StepUnderTest::create(plugin, c.step, c.config);
    EXPECT_EQ(created.status == CP_STATUS_OK, c.valid)
        << c.step << " " << c.config << " -> " << created.error;
  }
}

}  // namespace
}  // namespace carepath::test
