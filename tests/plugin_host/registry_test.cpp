#include "plugin_host/registry.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <dlfcn.h>
#include <gtest/gtest.h>

#include "security/digest.hpp"
#include "tests/plugin_host/test_plugins.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::plugin_host {
namespace {

namespace fs = std::filesystem;
using test::kFrozen;
using test::kGood;
using test::kMisbehaving;
using test::LogCapture;

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

std::vector<std::string> names(const std::vector<const StepType*>& types) {
  std::vector<std::string> out;
  out.reserve(types.size());
  for (const auto* type : types) {
    out.push_back(type->name());
  }
  return out;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Whether the dynamic loader has `path` loaded right now (without loading it).
bool is_loaded(const fs::path& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) {
    return false;
  }
  dlclose(handle);
  return true;
}

// A built-in step type for add().
class FakeStepType final : public StepType {
 public:
  explicit FakeStepType(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  const std::string& description() const override { return empty_; }
  const boost::json::value& config_schema() const override { return schema_; }
  const std::vector<std::string>& reads() const override { return reads_; }
  const std::string& plugin() const override { return plugin_; }
  const std::string& plugin_version() const override { return version_; }
  Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& /*config*/) const override {
    return make_error(Errc::internal, "not used");
  }

 private:
  std::string name_;
  std::string empty_;
  boost::json::value schema_;
  std::vector<std::string> reads_;
  std::string plugin_ = "core";
  std::string version_ = "0.1.0";
};

TEST(PluginRegistry, LoadsAPluginAndDescribesIt) {
  Registry registry;
  auto info = registry.load(kGood);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->name, "good");
  EXPECT_EQ(info->version, "1.2.3");
  EXPECT_EQ(info->file, fs::absolute(kGood));
  EXPECT_EQ(info->abi_major, 1);
  EXPECT_EQ(info->abi_minor, 0);
  EXPECT_TRUE(info->warnings.empty());
  ASSERT_EQ(info->step_types.size(), 2U);
  EXPECT_EQ(info->step_types[0].name, "good.echo");
  EXPECT_EQ(info->step_types[0].description, "Writes back what it was given.");
  EXPECT_TRUE(info->step_types[0].config_schema.is_null());
  EXPECT_EQ(info->step_types[0].reads, (std::vector<std::string>{"age", "district"}));
  EXPECT_EQ(info->step_types[1].name, "good.decide");
  EXPECT_TRUE(info->step_types[1].config_schema.is_object());
  EXPECT_TRUE(info->step_types[1].reads.empty());

  ASSERT_EQ(registry.plugins().size(), 1U);
  EXPECT_EQ(registry.plugins()[0].name, "good");
  EXPECT_EQ(names(registry.all()), (std::vector<std::string>{"good.decide", "good.echo"}));
  const StepType* echo = registry.find("good.echo");
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->plugin(), "good");
  EXPECT_EQ(echo->plugin_version(), "1.2.3");
  EXPECT_EQ(echo->reads(), (std::vector<std::string>{"age", "district"}));
  EXPECT_EQ(registry.find("good.nothing"), nullptr);
  EXPECT_EQ(registry.find("good"), nullptr);
}

TEST(PluginRegistry, LoadsAPluginBuiltAgainstTheFrozenAbi10Header) {
  Registry registry;
  auto info = registry.load(kFrozen);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->name, "frozen");
  EXPECT_EQ(info->abi_minor, 0);
  EXPECT_EQ(names(registry.all()), (std::vector<std::string>{"frozen.mark", "frozen.refuse"}));
}

TEST(PluginRegistry, LogsEachLoadedPlugin) {
  LogCapture logs;
  Registry registry;
  ASSERT_TRUE(registry.load(kGood));
  const auto lines = logs.lines();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].level, LogLevel::info);
  EXPECT_EQ(lines[0].message, "plugin loaded");
  EXPECT_EQ(lines[0].attributes.at("plugin"), "good");
  EXPECT_EQ(lines[0].attributes.at("version"), "1.2.3");
  EXPECT_EQ(lines[0].attributes.at("file"), fs::absolute(kGood).string());
}

struct Refusal {
  fs::path file;
  Errc code;
  std::string message;  // after "plugin file '<path>': "
};

TEST(PluginRegistry, RefusesBrokenPluginsWithAClearMessageAndRegistersNothing) {
  const std::vector<Refusal> refusals = {
      {CP_TEST_PLUGIN_WRONG_MAJOR, Errc::plugin,
       "built for ABI 2.0, this engine has 1.0; rebuild the plugin against this engine's SDK"},
      {CP_TEST_PLUGIN_NEWER_MINOR, Errc::plugin,
       "plugin 'broken' needs ABI 1.7, this engine has 1.0; upgrade the engine"},
      {CP_TEST_PLUGIN_SMALL_DESCRIPTOR, Errc::plugin,
       "descriptor is too small (8 bytes; ABI 1.0 needs at least 40)"},
      {CP_TEST_PLUGIN_SMALL_STEP, Errc::plugin,
       "plugin 'broken': step type #0: descriptor is too small (56 bytes; ABI 1.0 needs at "
       "least 72)"},
      {CP_TEST_PLUGIN_BAD_NAME, Errc::plugin,
       "plugin name 'Broken-Name' is invalid: use lower-case letters, digits and '_', starting "
       "with a letter, at most 64 characters"},
      {CP_TEST_PLUGIN_CORE_NAME, Errc::plugin,
       "plugin 'core': the name is reserved for built-in steps"},
      {CP_TEST_PLUGIN_NO_VERSION, Errc::plugin, "plugin 'broken' has no version"},
      {CP_TEST_PLUGIN_NO_TABLE, Errc::plugin,
       "plugin 'broken' declares 2 step types but gives no table"},
      {CP_TEST_PLUGIN_NULL_STEP, Errc::plugin, "plugin 'broken': step type #1 is NULL"},
      {CP_TEST_PLUGIN_DUPLICATE_STEPS, Errc::conflict,
       "plugin 'broken': step 'broken.first' is declared twice"},
      {CP_TEST_PLUGIN_UNPREFIXED_STEP, Errc::plugin,
       "plugin 'broken': step 'other.second' must be named 'broken.<step>' (lower-case letters, "
       "digits and '_', starting with a letter)"},
      {CP_TEST_PLUGIN_CORE_STEP, Errc::plugin,
       "plugin 'broken': step 'core.second': the 'core.' prefix is reserved for built-in steps"},
      {CP_TEST_PLUGIN_BAD_JSON_SCHEMA, Errc::plugin,
       "plugin 'broken': step 'broken.first': config_schema is not valid JSON"},
      {CP_TEST_PLUGIN_UNSUPPORTED_SCHEMA, Errc::plugin,
       "plugin 'broken': step 'broken.first': config_schema: schema keyword 'format' at "
       "/properties/email/format is not supported; the engine would not enforce it"},
      {CP_TEST_PLUGIN_BAD_READS, Errc::plugin,
       "plugin 'broken': step 'broken.first': reads #0 ('Age; DROP TABLE') is not a field name"},
      {CP_TEST_PLUGIN_NO_READS_LIST, Errc::plugin,
       "plugin 'broken': step 'broken.first' declares 1 reads but gives no list"},
      {CP_TEST_PLUGIN_NO_RUN, Errc::plugin,
       "plugin 'broken': step 'broken.first' has no run function"},
      {CP_TEST_PLUGIN_NULL_DESCRIPTOR, Errc::plugin,
       "the entry function returned no descriptor (the plugin refused to load)"},
      {CP_TEST_PLUGIN_ENTRY_V2, Errc::plugin,
       "is built for ABI 2, this engine has 1.0; use a build of the plugin for ABI 1"},
      {CP_TEST_PLUGIN_NOT_A_PLUGIN, Errc::plugin,
       "is not a carepath plugin: it does not export carepath_plugin_entry_v1"},
  };
  for (const auto& refusal : refusals) {
    SCOPED_TRACE(refusal.file.filename().string());
    Registry registry;
    auto loaded = registry.load(refusal.file);
    ASSERT_FALSE(loaded);
    const Error error = loaded.error();
    EXPECT_EQ(error.code, refusal.code);
    const std::string prefix = "plugin file '" + fs::absolute(refusal.file).string() + "': ";
    EXPECT_EQ(error.message.substr(0, prefix.size()), prefix) << error.message;
    // The message is exact where the reason comes from the host; the JSON parser's wording is
    // its own.
    EXPECT_TRUE(contains(error.message, prefix + refusal.message));
    EXPECT_TRUE(registry.all().empty());
    EXPECT_TRUE(registry.plugins().empty());
  }
}

TEST(PluginRegistry, RefusesAFileThatIsNotASharedLibrary) {
  test::TempDir dir;
  const fs::path text = dir / "notes.so";
  std::ofstream(text) << "these are not machine instructions\n";
  Registry registry;
  auto loaded = registry.load(text);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, Errc::plugin);
  EXPECT_TRUE(
      contains(loaded.error().message, "plugin file '" + text.string() + "': cannot be loaded: "));
  // dlerror's own words follow; Boost.DLL's wrapping is stripped.
  EXPECT_FALSE(contains(loaded.error().message, "boost::dll"));
}

TEST(PluginRegistry, RefusesAMissingFile) {
  test::TempDir dir;
  Registry registry;
  auto loaded = registry.load(dir / "absent.so");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message,
            "plugin file '" + (dir / "absent.so").string() + "': does not exist");
  auto directory = registry.load(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_TRUE(contains(directory.error().message, "is not a regular file"));
}

TEST(PluginRegistry, RefusesAPluginLoadedTwice) {
  Registry registry;
  ASSERT_TRUE(registry.load(kGood));
  auto again = registry.load(kGood);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_TRUE(contains(again.error().message,
                       "plugin 'good' is already loaded from '" + fs::absolute(kGood).string()));
  EXPECT_EQ(registry.plugins().size(), 1U);
}

TEST(PluginRegistry, RefusesTheWholePluginWhenOneStepNameIsTaken) {
  Registry registry;
  ASSERT_TRUE(registry.add(std::make_unique<FakeStepType>("good.decide")));
  auto loaded = registry.load(kGood);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, Errc::conflict);
  EXPECT_TRUE(contains(loaded.error().message,
                       "plugin 'good': step 'good.decide' is already registered by plugin 'core'"));
  // good.echo was fine on its own, and still not registered.
  EXPECT_EQ(registry.find("good.echo"), nullptr);
  EXPECT_EQ(names(registry.all()), std::vector<std::string>{"good.decide"});
  EXPECT_TRUE(registry.plugins().empty());
}

TEST(PluginRegistry, AddsBuiltInStepsOnceEach) {
  Registry registry;
  ASSERT_TRUE(registry.add(std::make_unique<FakeStepType>("core.set")));
  ASSERT_TRUE(registry.add(std::make_unique<FakeStepType>("core.assign")));
  auto again = registry.add(std::make_unique<FakeStepType>("core.set"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_EQ(again.error().message, "step 'core.set' is already registered");
  auto null = registry.add(nullptr);
  ASSERT_FALSE(null);
  EXPECT_EQ(null.error().code, Errc::invalid_argument);
  EXPECT_EQ(names(registry.all()), (std::vector<std::string>{"core.assign", "core.set"}));
  EXPECT_TRUE(registry.plugins().empty());  // built-ins are not plugins

  ASSERT_TRUE(registry.load(kGood));
  EXPECT_EQ(names(registry.all()),
            (std::vector<std::string>{"core.assign", "core.set", "good.decide", "good.echo"}));
}

TEST(PluginRegistry, LoadDirectoryKeepsTheGoodPluginsAndReportsEachBadOne) {
  test::TempDir dir;
  fs::copy_file(kGood, dir / "good.so");
  fs::copy_file(kMisbehaving, dir / "misbehaving.so");
  fs::copy_file(CP_TEST_PLUGIN_WRONG_MAJOR, dir / "wrong_major.so");
  fs::copy_file(CP_TEST_PLUGIN_NOT_A_PLUGIN, dir / "not_a_plugin.so");
  fs::copy_file(CP_TEST_PLUGIN_DUPLICATE_STEPS, dir / "duplicate_steps.so");
  std::ofstream(dir / "renamed.so") << "plain text\n";
  std::ofstream(dir / "README.txt") << "not a plugin, not looked at\n";
  fs::create_directory(dir / "subdir.so");

  LogCapture logs;
  Registry registry;
  const auto problems = registry.load_directory(dir.path());

  ASSERT_EQ(problems.size(), 4U);
  // Sorted by file name.
  EXPECT_EQ(problems[0].file, dir / "duplicate_steps.so");
  EXPECT_TRUE(contains(problems[0].message, "step 'broken.first' is declared twice"));
  EXPECT_EQ(problems[1].file, dir / "not_a_plugin.so");
  EXPECT_TRUE(contains(problems[1].message, "is not a carepath plugin"));
  EXPECT_EQ(problems[2].file, dir / "renamed.so");
  EXPECT_TRUE(contains(problems[2].message, "cannot be loaded"));
  EXPECT_EQ(problems[3].file, dir / "wrong_major.so");
  EXPECT_TRUE(contains(problems[3].message, "built for ABI 2.0"));
  for (const auto& problem : problems) {
    EXPECT_TRUE(contains(problem.message, "plugin file '" + problem.file.string() + "': "));
  }

  ASSERT_EQ(registry.plugins().size(), 2U);
  EXPECT_EQ(registry.plugins()[0].name, "good");
  EXPECT_EQ(registry.plugins()[1].name, "misbehaving");
  EXPECT_NE(registry.find("good.echo"), nullptr);

  // Each refusal is logged at error level with the same message, and the file.
  std::vector<test::LogLine> errors;
  for (const auto& line : logs.lines()) {
    if (line.level == LogLevel::error) {
      errors.push_back(line);
    }
  }
  ASSERT_EQ(errors.size(), 4U);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    EXPECT_EQ(errors[i].message, problems[i].message);
    EXPECT_EQ(errors[i].attributes.at("file"), problems[i].file.string());
  }
}

TEST(PluginRegistry, LoadDirectoryReportsADirectoryItCannotRead) {
  test::TempDir dir;
  Registry registry;
  const auto problems = registry.load_directory(dir / "missing");
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].file, dir / "missing");
  EXPECT_TRUE(contains(problems[0].message,
                       "plugin directory '" + (dir / "missing").string() + "' cannot be read"));
  EXPECT_TRUE(registry.load_directory(dir.path()).empty());  // empty: nothing to report
}

TEST(PluginRegistry, AllowlistAcceptsListedFilesWithTheirDigest) {
  test::TempDir dir;
  fs::copy_file(kGood, dir / "good.so");
  Allowlist allow;
  allow.files["good.so"] = security::sha256_hex(read_bytes(dir / "good.so"));
  Registry registry;
  auto loaded = registry.load(dir / "good.so", &allow);
  ASSERT_TRUE(loaded) << loaded.error().message;

  // Operators paste digests from sha256sum; upper-case hex is the same digest.
  std::string upper = allow.files["good.so"];
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return static_cast<char>(std::toupper(c)); });
  Allowlist shouting;
  shouting.files["good.so"] = upper;
  Registry other;
  EXPECT_TRUE(other.load(dir / "good.so", &shouting));
}

TEST(PluginRegistry, AllowlistRefusesUnlistedOrChangedFilesBeforeOpeningThem) {
  test::TempDir dir;
  fs::copy_file(kGood, dir / "good.so");
  fs::copy_file(kMisbehaving, dir / "misbehaving.so");
  std::ofstream(dir / "renamed.so") << "plain text\n";
  Allowlist allow;
  allow.files["good.so"] = security::sha256_hex(read_bytes(dir / "good.so"));
  allow.files["misbehaving.so"] = security::sha256_hex("an older build");

  Registry registry;
  const auto problems = registry.load_directory(dir.path(), &allow);
  ASSERT_EQ(problems.size(), 2U);
  EXPECT_EQ(problems[0].message, "plugin file '" + (dir / "misbehaving.so").string() +
                                     "': its SHA-256 does not match the plugin allowlist");
  // Refused before dlopen: the loader would have said "cannot be loaded" otherwise.
  EXPECT_EQ(problems[1].message,
            "plugin file '" + (dir / "renamed.so").string() + "': is not in the plugin allowlist");
  EXPECT_FALSE(is_loaded(dir / "misbehaving.so"));

  ASSERT_EQ(registry.plugins().size(), 1U);
  EXPECT_EQ(registry.plugins()[0].name, "good");
}

TEST(PluginRegistry, CheckPluginFileWarnsAboutSchemasThatAcceptUnknownKeys) {
  auto lax = check_plugin_file(CP_TEST_PLUGIN_LAX_SCHEMA);
  ASSERT_TRUE(lax) << lax.error().message;
  EXPECT_EQ(lax->name, "broken");
  ASSERT_EQ(lax->warnings.size(), 3U);
  EXPECT_EQ(lax->warnings[0], "step 'broken.first' has no description");
  EXPECT_TRUE(contains(lax->warnings[1],
                       "step 'broken.first': config schema accepts unknown "
                       "keys; add \"additionalProperties\": false"));
  EXPECT_EQ(lax->warnings[2], "step 'broken.second' has no description");

  auto good = check_plugin_file(kGood);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_TRUE(good->warnings.empty());
  EXPECT_EQ(good->step_types.size(), 2U);
}

TEST(PluginRegistry, CheckPluginFileReportsWhyAFileIsRefused) {
  auto checked = check_plugin_file(CP_TEST_PLUGIN_NEWER_MINOR);
  ASSERT_FALSE(checked);
  EXPECT_TRUE(contains(checked.error().message, "needs ABI 1.7, this engine has 1.0"));
}

// ---- plugins linked into the engine -------------------------------------------------------------

cp_status linked_create(cp_str /*config*/, void** step, cp_sink /*error*/) {
  *step = nullptr;
  return CP_STATUS_OK;
}
cp_status linked_run(void* /*step*/, const cp_host_api* /*host*/, void* /*call*/, cp_str /*input*/,
                     cp_sink output, cp_sink /*error*/) {
  constexpr std::string_view kOutput = R"({"linked": true})";
  output.write(output.host, cp_str{kOutput.data(), kOutput.size()});
  return CP_STATUS_OK;
}
void linked_destroy(void* /*step*/) {
}

const cp_step_type kLinkedStep = {sizeof(cp_step_type),    "linked.step", nullptr,
                                  R"({"type": "object"})", nullptr,       0,
                                  &linked_create,          &linked_run,   &linked_destroy};
const std::array<const cp_step_type*, 1> kLinkedSteps = {&kLinkedStep};
cp_plugin linked_plugin = {
    sizeof(cp_plugin), CP_ABI_MAJOR, CP_ABI_MINOR, "linked", "2.0.0", kLinkedSteps.data(), 1};

const cp_plugin* linked_entry(const cp_host_api* host) {
  return host != nullptr && host->struct_size == sizeof(cp_host_api) ? &linked_plugin : nullptr;
}

TEST(PluginRegistry, RegistersAPluginLinkedIntoTheEngine) {
  Registry registry;
  auto info = registry.add_linked(&linked_entry);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->name, "linked");
  EXPECT_TRUE(info->file.empty());
  const StepType* step = registry.find("linked.step");
  ASSERT_NE(step, nullptr);
  auto instance = step->create({});
  ASSERT_TRUE(instance) << instance.error().message;
  const StepOutcome outcome = (*instance)->run(StepInput{"key", {}});
  EXPECT_EQ(outcome.status, StepStatus::ok);
  EXPECT_EQ(outcome.output, (boost::json::object{{"linked", true}}));

  auto twice = registry.add_linked(&linked_entry);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "plugin 'linked' is already loaded (linked into the engine)");
  EXPECT_EQ(registry.add_linked(nullptr).error().code, Errc::invalid_argument);
}

TEST(PluginRegistry, ChecksTheVersionString) {
  for (const char* version : {"", "1.0 beta", "1.0\n"}) {
    linked_plugin.version = version;
    Registry registry;
    auto info = registry.add_linked(&linked_entry);
    ASSERT_FALSE(info) << version;
    EXPECT_TRUE(contains(info.error().message, "plugin 'linked': version '"));
    EXPECT_TRUE(contains(info.error().message, "is invalid"));
  }
  linked_plugin.version = "2.0.0";
}

TEST(PluginRegistry, RefusesImplausibleStepCounts) {
  linked_plugin.step_type_count = 100000;
  Registry registry;
  auto info = registry.add_linked(&linked_entry);
  linked_plugin.step_type_count = 1;
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().message,
            "plugin 'linked' declares too many step types (100000; at most 256)");
}

}  // namespace
}  // namespace carepath::plugin_host
