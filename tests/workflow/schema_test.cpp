// docs/workflow.schema.json, the JSON Schema editors use for workflow files, against the loader,
// which is the authority: the shipped workflows pass both, the broken files in schema_cases/ fail
// both, and the two agree on the keys of every map.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/duration.hpp"
#include "core/json_schema.hpp"
#include "tests/support/shipped_steps.hpp"
#include "tests/workflow/diagnostics.hpp"
#include "workflow/loader.hpp"

namespace carepath::workflow {
namespace {

namespace fs = std::filesystem;

const fs::path kSource(CP_SOURCE_DIR);

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const boost::json::value& schema() {
  static const boost::json::value parsed =
      boost::json::parse(read_text(kSource / "docs" / "workflow.schema.json"));
  return parsed;
}

std::vector<fs::path> yaml_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".yaml") {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The schema's problems with a workflow file's text, as "path: message" lines.
std::vector<std::string> schema_problems(const std::string& text) {
  const auto instance = workflow_as_json(text);
  if (!instance) {
    return {"(not JSON: " + instance.error().message + ")"};
  }
  std::vector<std::string> out;
  for (const SchemaProblem& p : validate_schema(schema(), *instance)) {
    out.push_back((p.path.empty() ? "/" : p.path) + ": " + p.message);
  }
  return out;
}

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += "  " + item + "\n";
  }
  return out;
}

// The value of a "# key: value" line in a case file's header comment.
std::string header(const std::string& text, std::string_view key) {
  const std::string prefix = "# " + std::string(key) + ": ";
  std::istringstream in(text);
  for (std::string line; std::getline(in, line) && line.rfind('#', 0) == 0;) {
    if (line.rfind(prefix, 0) == 0) {
      return line.substr(prefix.size());
    }
  }
  return {};
}

TEST(WorkflowSchema, IsADraft07SchemaTheEngineCanEnforce) {
  ASSERT_TRUE(schema().is_object());
  const auto& root = schema().as_object();
  ASSERT_NE(root.if_contains("$schema"), nullptr);
  EXPECT_EQ(root.at("$schema"), "http://json-schema.org/draft-07/schema#");
  EXPECT_EQ(root.at("type"), "object");
  const auto checked = check_schema(schema());
  EXPECT_TRUE(checked) << (checked ? "" : checked.error().message);
}

// Editors show `title` and `description` as hover help, so every key of every map has both,
// and so does every definition (shown where it is used).
TEST(WorkflowSchema, AnnotatesEveryKey) {
  auto expect_annotated = [](const boost::json::value& map, const std::string& at) {
    const auto* properties = map.as_object().if_contains("properties");
    ASSERT_NE(properties, nullptr) << at;
    for (const auto& property : properties->as_object()) {
      const auto* p = property.value().if_object();
      EXPECT_TRUE(p != nullptr && p->contains("title") && p->contains("description"))
          << at << "/properties/" << property.key() << " has no title or description";
    }
  };
  expect_annotated(schema(), "");
  for (const auto& definition : schema().at("definitions").as_object()) {
    const std::string at = "/definitions/" + std::string(definition.key());
    const auto& d = definition.value().as_object();
    EXPECT_TRUE(d.contains("title") && d.contains("description")) << at;
    if (d.contains("properties")) {
      expect_annotated(definition.value(), at);
    }
  }
}

// The duration patterns accept what parse_duration() accepts (numbers too large to hold aside:
// a pattern cannot count). The retry backoff is the short form in ms, s, m, h or d, not zero.
TEST(WorkflowSchema, DurationPatternsAgreeWithTheParser) {
  const auto& definitions = schema().at("definitions");
  constexpr std::string_view kTexts[] = {
      "10s",   "30m",    "24h",    "15d",     "2w",    "4mo",       "1y",
      "500ms", "0s",     "007d",   "P15D",    "PT24H", "P1M",       "P1Y2M10DT2H30M",
      "P2W",   "P1W2D",  "PT0.5S", "PT1.25S", "PT0S",  "P0D",       "P1DT1H",
      "",      "P",      "PT",     "1.5d",    " 10s",  "10s ",      "10 s",
      "10S",   "1h30m",  "-1d",    "+1d",     "P1DT",  "PT1.2345S", "P1.5D",
      "P1D2Y", "PT1H2H", "PT1M1H", "p1d",     "1mo2",  "P1YT",      "10sec",
      "d",     "PT.5S",  "P1H",    "PT1D",    "P1Y1Y", "1w1d"};
  for (const std::string_view text : kTexts) {
    SCOPED_TRACE("'" + std::string(text) + "'");
    const boost::json::value instance(text);
    const auto parsed = parse_duration(text);
    EXPECT_EQ(validate_schema(definitions.at("duration"), instance).empty(), parsed.has_value());
    EXPECT_EQ(validate_schema(definitions.at("positive_duration"), instance).empty(),
              parsed.has_value() && !parsed->is_zero());
    const bool backoff = parsed.has_value() && !parsed->is_zero() && !text.starts_with("P") &&
                         parsed->months == 0 && !text.ends_with("w");
    EXPECT_EQ(
        validate_schema(definitions.at("retry").at("properties").at("backoff"), instance).empty(),
        backoff);
  }
}

TEST(WorkflowSchema, AcceptsEveryShippedWorkflow) {
  const auto steps = test::shipped_steps();
  const auto files = yaml_files(kSource / "workflows");
  ASSERT_FALSE(files.empty());
  for (const fs::path& file : files) {
    const std::string text = read_text(file);
    EXPECT_EQ(schema_problems(text), std::vector<std::string>{}) << file;
    const LoadResult loaded = load_workflow_text(text, file.string(), steps.get());
    EXPECT_TRUE(loaded.ok()) << file << "\n" << test::dump(loaded);
    // Editors find the schema through the first line.
    EXPECT_EQ(text.substr(0, text.find('\n')),
              "# yaml-language-server: $schema=../docs/workflow.schema.json")
        << file;
  }
}

// Each case names, in its header, the instance path where the schema must object and a part of
// the loader's message, so that both reject it for the reason it was written for.
TEST(WorkflowSchema, RejectsWhatTheLoaderRejects) {
  const auto steps = test::shipped_steps();
  const auto files = yaml_files(kSource / "tests" / "workflow" / "schema_cases");
  EXPECT_GE(files.size(), 15U);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    const std::string text = read_text(file);
    const std::string path = header(text, "schema");
    const std::string message = header(text, "loader");
    ASSERT_FALSE(path.empty() || message.empty()) << "needs '# schema:' and '# loader:' lines";

    const std::vector<std::string> problems = schema_problems(text);
    const bool at_path = std::any_of(problems.begin(), problems.end(), [&](const std::string& p) {
      return p.rfind(path + ":", 0) == 0 || p.rfind(path + "/", 0) == 0;
    });
    EXPECT_TRUE(at_path) << "the schema has no problem at " << path << "\n" << lines(problems);

    const LoadResult loaded = load_workflow_text(text, file.string(), steps.get());
    EXPECT_FALSE(loaded.ok());
    const bool said =
        std::any_of(loaded.diagnostics.begin(), loaded.diagnostics.end(), [&](const Diagnostic& d) {
          return d.severity == Severity::error && d.message.find(message) != std::string::npos;
        });
    EXPECT_TRUE(said) << "the loader did not say \"" << message << "\"\n" << test::dump(loaded);
  }
}

// Where each map of the format is described in the schema.
struct Place {
  std::string_view where;   // known_keys()
  std::string_view schema;  // JSON Pointer into the schema
};
constexpr Place kPlaces[] = {
    {"workflow", ""},
    {"field", "/definitions/field"},
    {"state", "/definitions/state"},
    {"transition", "/definitions/transition"},
    {"step_call", "/definitions/step_call"},
    {"retry", "/definitions/retry"},
    {"after", "/definitions/after"},
    {"every", "/definitions/every"},
    {"clock", "/definitions/clock"},
    {"trigger", "/definitions/trigger"},
    {"clock_action", "/definitions/clock_action"},
    {"exclude", "/definitions/exclude"},
    {"consent", "/definitions/consent"},
};

TEST(WorkflowSchema, HasExactlyTheKeysTheLoaderAccepts) {
  for (const Place& place : kPlaces) {
    SCOPED_TRACE(std::string(place.where));
    const auto keys = known_keys(place.where);
    ASSERT_FALSE(keys.empty());
    const std::set<std::string> loader(keys.begin(), keys.end());

    boost::json::error_code ec;
    const boost::json::value* map = schema().find_pointer(place.schema, ec);
    ASSERT_TRUE(map != nullptr && map->is_object()) << place.schema;
    const auto* additional = map->as_object().if_contains("additionalProperties");
    EXPECT_TRUE(additional != nullptr && *additional == false)
        << place.schema << " must refuse unknown keys, as the loader does";
    std::set<std::string> described;
    if (const auto* properties = map->as_object().if_contains("properties")) {
      for (const auto& property : properties->as_object()) {
        described.emplace(property.key());
      }
    }
    EXPECT_EQ(described, loader) << place.schema;
  }
  // And no map in the schema that the loader does not know.
  for (const auto& definition : schema().at("definitions").as_object()) {
    if (!definition.value().as_object().contains("properties")) {
      continue;
    }
    const bool known = std::any_of(std::begin(kPlaces), std::end(kPlaces), [&](const Place& p) {
      return p.schema == "/definitions/" + std::string(definition.key());
    });
    EXPECT_TRUE(known) << "definitions/" << definition.key() << " is no map of the loader's";
  }
}

}  // namespace
}  // namespace carepath::workflow
