// Step calls in workflow files: `on_enter`, `on_exit` and a transition's `steps`, checked against
// a fake step catalog.
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "core/step.hpp"
#include "tests/workflow/diagnostics.hpp"
#include "workflow/loader.hpp"

namespace carepath::workflow {
namespace {

using test::dump;
using test::has_error;

// Every fixture below is invented; none of it describes a real child or home.

// ---------------------------------------------------------------------------------------------
// A fake catalog

class FakeInstance final : public StepInstance {
 public:
  explicit FakeInstance(boost::json::object config) : config_(std::move(config)) {}
  StepOutcome run(const StepInput& /*input*/) const override {
    return StepOutcome{StepStatus::ok, {}, {}};
  }
  const boost::json::object& config() const { return config_; }

 private:
  boost::json::object config_;
};

enum class Creation { accept, refuse_slsa, throw_always, return_null };

class FakeType final : public StepType {
 public:
  FakeType(std::string name, std::string_view schema, std::vector<std::string> reads,
           Creation creation = Creation::accept)
      : name_(std::move(name)),
        schema_(schema.empty() ? boost::json::value() : boost::json::parse(schema)),
        reads_(std::move(reads)),
        creation_(creation) {}

  const std::string& name() const override { return name_; }
  const std::string& description() const override { return description_; }
  const boost::json::value& config_schema() const override { return schema_; }
  const std::vector<std::string>& reads() const override { return reads_; }
  const std::string& plugin() const override { return plugin_; }
  const std::string& plugin_version() const override { return version_; }

  Result<std::shared_ptr<const StepInstance>> create(
      const boost::json::object& config) const override {
    ++created_;
    switch (creation_) {
      case Creation::accept:
        break;
      case Creation::refuse_slsa:
        if (const auto* provider = config.if_contains("provider");
            provider != nullptr && *provider == "slsa") {
          return make_error(Errc::plugin, "no SLSA office serves this district yet");
        }
        break;
      case Creation::throw_always:
        throw std::runtime_error("configuration table is corrupt");
      case Creation::return_null:
        return std::shared_ptr<const StepInstance>();
    }
    return std::shared_ptr<const StepInstance>(std::make_shared<FakeInstance>(config));
  }

  int created() const { return created_; }

 private:
  std::string name_;
  std::string description_ = "a fake step";
  boost::json::value schema_;
  std::vector<std::string> reads_;
  Creation creation_;
  std::string plugin_ = "fake";
  std::string version_ = "0.0.1";
  mutable int created_ = 0;
};

class FakeCatalog final : public StepCatalog {
 public:
  FakeType& add(std::unique_ptr<FakeType> type) {
    types_.push_back(std::move(type));
    return *types_.back();
  }
  const StepType* find(std::string_view name) const override {
    const auto it = std::find_if(types_.begin(), types_.end(),
                                 [&](const auto& t) { return t->name() == name; });
    return it == types_.end() ? nullptr : it->get();
  }
  std::vector<const StepType*> all() const override {
    std::vector<const StepType*> out;
    for (const auto& t : types_) {
      out.push_back(t.get());
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<FakeType>> types_;
};

constexpr std::string_view kReferSchema = R"({
  "type": "object",
  "properties": {
    "provider": { "enum": ["dlsa", "slsa"] },
    "checks": { "type": "array", "items": { "type": "string" } }
  },
  "required": ["provider"],
  "additionalProperties": false
})";

constexpr std::string_view kCheckSchema = R"({
  "type": "object",
  "properties": {
    "checks": { "type": "array", "items": { "type": "string" } },
    "follow_up": {
      "type": "object",
      "properties": { "days": { "type": "integer" } },
      "additionalProperties": false
    }
  },
  "additionalProperties": false
})";

// Takes any map, so that the YAML -> JSON conversion can be seen as it is.
constexpr std::string_view kAnySchema = R"({ "type": "object" })";

// `format` is not among the keywords the engine's validator enforces.
constexpr std::string_view kUnenforceableSchema =
    R"({ "type": "object", "properties": { "email": { "type": "string", "format": "email" } } })";

class StepCalls : public ::testing::Test {
 protected:
  StepCalls()
      : medical_(catalog_.add(std::make_unique<FakeType>("medical.check", kCheckSchema,
                                                         std::vector<std::string>{"age"}))),
        refer_(catalog_.add(std::make_unique<FakeType>(
            "legal_aid.refer", kReferSchema, std::vector<std::string>{"cwc_order_no", "age"},
            Creation::refuse_slsa))),
        vocational_(catalog_.add(std::make_unique<FakeType>("vocational.assess_interest", "",
                                                            std::vector<std::string>{"age"}))) {
    catalog_.add(std::make_unique<FakeType>("core.echo", kAnySchema, std::vector<std::string>{}));
    catalog_.add(std::make_unique<FakeType>("faulty.throws", "", std::vector<std::string>{},
                                            Creation::throw_always));
    catalog_.add(std::make_unique<FakeType>("faulty.null", "", std::vector<std::string>{},
                                            Creation::return_null));
    catalog_.add(std::make_unique<FakeType>("faulty.schema", kUnenforceableSchema,
                                            std::vector<std::string>{}));
  }

  LoadResult load(std::string_view text) const {
    return load_workflow_text(text, "test.yaml", &catalog_);
  }

  // kHeader followed by `lines`, the first of which is line 16, under `on_enter:` of `intake`.
  LoadResult load_on_enter(std::string_view lines) const {
    return load(std::string(kHeader) + std::string(lines));
  }

  static constexpr std::string_view kHeader = R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  age: { type: integer }
  cwc_order_no: { type: string }
states:
  closed: { final: true }
  intake:
    initial: true
    on:
      done: { to: closed }
      legal_aid_confirmed: { to: closed }
    on_enter:
)";  // the next line is line 16

  FakeCatalog catalog_;
  FakeType& medical_;
  FakeType& refer_;
  FakeType& vocational_;
};

std::size_t error_count(const LoadResult& result) {
  return static_cast<std::size_t>(
      std::count_if(result.diagnostics.begin(), result.diagnostics.end(),
                    [](const Diagnostic& d) { return d.severity == Severity::error; }));
}

boost::json::value json(std::string_view text) {
  return boost::json::parse(text);
}

// ---------------------------------------------------------------------------------------------
// A good file

TEST_F(StepCalls, LoadsEveryKindOfStepCallWithEverythingFilled) {
  const auto result = load(R"(carepath: 1
workflow: aftercare
version: 1
roles: [caseworker]
fields:
  age: { type: integer }
  cwc_order_no: { type: string }
states:
  intake:
    initial: true
    on:
      admitted: { to: assessment, roles: [caseworker] }
  assessment:
    on_enter:
      - step: medical.check
        with: { checks: [general, nutrition, sti] }
      - step: legal_aid.refer
        async: true
        retry: { max_attempts: 5, backoff: 2m }
        with: { provider: dlsa }
        on_complete: legal_aid_confirmed
    on_exit: [ { step: vocational.assess_interest } ]
    on:
      assessed:
        to: care_plan
        roles: [caseworker]
        steps: [ { step: vocational.assess_interest, when: "age >= 14" } ]
      legal_aid_confirmed: { to: assessment }
  care_plan:
    on_enter:
      - { step: legal_aid.refer, async: true, with: { provider: dlsa, checks: [] } }
    on:
      closed: { to: closed, roles: [caseworker] }
  closed:
    final: true
    on_enter: []
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  const Workflow& w = *result.workflow;

  const State& assessment = w.states[*w.find_state("assessment")];
  ASSERT_EQ(assessment.on_enter.size(), 2U);
  const StepCall& check = assessment.on_enter[0];
  EXPECT_EQ(check.type, "medical.check");
  EXPECT_EQ(boost::json::value(check.config), json(R"({"checks":["general","nutrition","sti"]})"));
  EXPECT_FALSE(check.async);
  EXPECT_FALSE(check.when);
  EXPECT_FALSE(check.on_complete);
  EXPECT_EQ(check.reads, std::vector<std::string>{"age"});
  ASSERT_NE(check.instance, nullptr);
  EXPECT_EQ(check.pos.line, 15);  // the `step:` key
  EXPECT_EQ(check.pos.column, 9);

  const StepCall& refer = assessment.on_enter[1];
  EXPECT_EQ(refer.type, "legal_aid.refer");
  EXPECT_EQ(boost::json::value(refer.config), json(R"({"provider":"dlsa"})"));
  EXPECT_TRUE(refer.async);
  EXPECT_EQ(refer.retry.max_attempts, 5);
  EXPECT_EQ(refer.retry.backoff_ms, 120'000);
  EXPECT_EQ(refer.on_complete, "legal_aid_confirmed");
  EXPECT_EQ(refer.reads, (std::vector<std::string>{"cwc_order_no", "age"}));
  ASSERT_NE(refer.instance, nullptr);
  // The instance was made from this call's own `with:` block.
  const auto* instance = dynamic_cast<const FakeInstance*>(refer.instance.get());
  ASSERT_NE(instance, nullptr);
  EXPECT_EQ(instance->config(), refer.config);
  EXPECT_EQ(refer.pos.line, 17);

  ASSERT_EQ(assessment.on_exit.size(), 1U);
  EXPECT_EQ(assessment.on_exit[0].type, "vocational.assess_interest");
  EXPECT_TRUE(assessment.on_exit[0].config.empty());
  EXPECT_NE(assessment.on_exit[0].instance, nullptr);
  EXPECT_EQ(assessment.on_exit[0].pos.line, 22);
  EXPECT_EQ(assessment.on_exit[0].pos.column, 18);

  const auto rows = w.rows(*w.find_state("assessment"), *w.find_event("assessed"));
  ASSERT_EQ(rows.size(), 1U);
  ASSERT_EQ(rows[0].steps.size(), 1U);
  const StepCall& interest = rows[0].steps[0];
  EXPECT_EQ(interest.type, "vocational.assess_interest");
  ASSERT_TRUE(interest.when);
  EXPECT_EQ(interest.when->text(), "age >= 14");
  EXPECT_EQ(interest.when->fields(), std::vector<std::string>{"age"});
  EXPECT_EQ(interest.reads, std::vector<std::string>{"age"});
  EXPECT_NE(interest.instance, nullptr);

  const State& care_plan = w.states[*w.find_state("care_plan")];
  ASSERT_EQ(care_plan.on_enter.size(), 1U);
  EXPECT_TRUE(care_plan.on_enter[0].async);
  // Without `retry`, an asynchronous step gets the default policy.
  EXPECT_EQ(care_plan.on_enter[0].retry.max_attempts, RetryPolicy{}.max_attempts);
  EXPECT_EQ(care_plan.on_enter[0].retry.backoff_ms, RetryPolicy{}.backoff_ms);
  EXPECT_EQ(boost::json::value(care_plan.on_enter[0].config),
            json(R"({"provider":"dlsa","checks":[]})"));

  EXPECT_TRUE(w.states[*w.find_state("closed")].on_enter.empty());
  EXPECT_TRUE(w.states[*w.find_state("intake")].on_enter.empty());
  EXPECT_EQ(refer_.created(), 2);
  EXPECT_EQ(medical_.created(), 1);
  EXPECT_EQ(vocational_.created(), 2);
}

TEST_F(StepCalls, ReadsEveryDurationUnit) {
  const std::vector<std::pair<std::string, std::int64_t>> cases = {
      {"500ms", 500}, {"30s", 30'000}, {"5m", 300'000}, {"2h", 7'200'000}, {"1d", 86'400'000}};
  for (const auto& [text, ms] : cases) {
    const auto result = load_on_enter(
        "      - step: medical.check\n        async: true\n"
        "        retry: { backoff: " +
        text + " }\n");
    ASSERT_TRUE(result.ok()) << text << "\n" << dump(result);
    const StepCall& call = result.workflow->states[1].on_enter.at(0);
    EXPECT_EQ(call.retry.backoff_ms, ms) << text;
    EXPECT_EQ(call.retry.max_attempts, RetryPolicy{}.max_attempts) << text;
  }
}

// Plain scalars are typed as the YAML 1.2 core schema says; quoted ones are always strings.
TEST_F(StepCalls, ConvertsWithToJsonByTheYaml12CoreSchema) {
  const auto result = load_on_enter(R"(      - step: core.echo
        with:
          count: 42
          negative: -7
          plus: +3
          octal: 0o17
          hex: 0x1F
          big: 12345678901234567890
          ratio: 2.5
          exponent: 1e3
          yes_no: [true, False, TRUE]
          nothing: ~
          null_word: null
          empty:
          quoted_number: "42"
          quoted_bool: 'true'
          quoted_null: "null"
          word: dlsa
          yaml11_bool: yes
          version_like: 1.2.3
          octal_yaml11: 017
          text: |
            line one
            line two
          nested: { list: [1, [a, b], { c: 0.5 }] }
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  const StepCall& call = result.workflow->states[1].on_enter.at(0);
  EXPECT_EQ(boost::json::value(call.config), json(R"({
    "count": 42, "negative": -7, "plus": 3, "octal": 15, "hex": 31,
    "big": 12345678901234567890, "ratio": 2.5, "exponent": 1000.0,
    "yes_no": [true, false, true], "nothing": null, "null_word": null, "empty": null,
    "quoted_number": "42", "quoted_bool": "true", "quoted_null": "null", "word": "dlsa",
    "yaml11_bool": "yes", "version_like": "1.2.3", "octal_yaml11": 17,
    "text": "line one\nline two\n",
    "nested": { "list": [1, ["a", "b"], { "c": 0.5 }] }
  })"))
      << boost::json::serialize(call.config);
  EXPECT_TRUE(call.config.at("count").is_int64());
  EXPECT_TRUE(call.config.at("big").is_uint64());
  EXPECT_TRUE(call.config.at("exponent").is_double());
}

TEST_F(StepCalls, RejectsNumbersJsonCannotHold) {
  const auto result = load_on_enter(R"(      - step: core.echo
        with: { a: .inf, b: -.Inf, c: .nan, d: 1e999, e: ".inf" }
)");
  EXPECT_TRUE(has_error(result, 17, 20, "'.inf' is not a number JSON can hold"));
  EXPECT_TRUE(has_error(result, 17, 29, "'-.Inf' is not a number"));
  EXPECT_TRUE(has_error(result, 17, 39, "'.nan' is not a number"));
  EXPECT_TRUE(has_error(result, 17, 48, "'1e999' is not a number"));
  EXPECT_EQ(error_count(result), 4U) << dump(result);
}

// ---------------------------------------------------------------------------------------------
// The step type

TEST_F(StepCalls, RejectsAnUnknownStepTypeWithASuggestion) {
  const auto result = load_on_enter("      - step: medcal.check\n");
  EXPECT_TRUE(
      has_error(result, 16, 15, "unknown step type 'medcal.check'; did you mean 'medical.check'?"));
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

TEST_F(StepCalls, ListsTheKnownStepTypesWhenNoneIsClose) {
  const auto result = load_on_enter("      - step: sms.send\n");
  EXPECT_TRUE(has_error(result, 16, 15,
                        "unknown step type 'sms.send'; the loaded plugins provide: core.echo, "
                        "faulty.null, faulty.schema, faulty.throws, legal_aid.refer, "
                        "medical.check, vocational.assess_interest"));
}

TEST_F(StepCalls, RejectsEveryStepTypeWhenNoPluginsAreLoaded) {
  const std::string text = std::string(kHeader) + "      - step: medical.check\n";
  const auto without = load_workflow_text(text, "test.yaml");
  EXPECT_TRUE(
      has_error(without, 16, 15, "unknown step type 'medical.check': no plugins are loaded"));
  const FakeCatalog empty;
  const auto with_empty = load_workflow_text(text, "test.yaml", &empty);
  EXPECT_TRUE(
      has_error(with_empty, 16, 15, "unknown step type 'medical.check': no plugins are loaded"));
}

TEST_F(StepCalls, RejectsAStepCallWithoutStep) {
  const auto result = load_on_enter("      - { with: { checks: [general] } }\n");
  EXPECT_TRUE(has_error(result, 16, 9, "step call has no 'step'"));
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

TEST_F(StepCalls, RejectsUnknownKeysOfAStepCallWithSuggestions) {
  const auto result = load_on_enter(R"(      - step: medical.check
        wiht: { checks: [general] }
        asynch: true
        colour: red
      - { stpe: medical.check }
      - step: legal_aid.refer
        async: true
        with: { provider: dlsa }
        retry: { max_attempt: 3, backof: 1s }
)");
  EXPECT_TRUE(has_error(result, 17, 9,
                        "unknown key 'wiht'; expected one of: step, with, when, async, retry, "
                        "on_complete; did you mean 'with'?"));
  EXPECT_TRUE(has_error(result, 18, 9, "unknown key 'asynch'"));
  EXPECT_TRUE(has_error(result, 18, 9, "did you mean 'async'?"));
  EXPECT_TRUE(has_error(result, 19, 9, "unknown key 'colour'"));
  EXPECT_TRUE(has_error(result, 20, 11, "unknown key 'stpe'"));
  EXPECT_TRUE(has_error(result, 20, 11, "did you mean 'step'?"));
  EXPECT_TRUE(has_error(result, 24, 18,
                        "unknown key 'max_attempt'; expected one of: max_attempts, backoff; did "
                        "you mean 'max_attempts'?"));
  EXPECT_TRUE(has_error(result, 24, 34, "unknown key 'backof'"));
  EXPECT_TRUE(has_error(result, 24, 34, "did you mean 'backoff'?"));
  // A misspelt `step` is one mistake: no "has no 'step'" on top.
  EXPECT_EQ(error_count(result), 6U) << dump(result);
}

TEST_F(StepCalls, RejectsDuplicateKeysInAStepCallAndItsWith) {
  const auto result = load_on_enter(R"(      - step: medical.check
        step: legal_aid.refer
        with: { checks: [general], checks: [sti] }
)");
  EXPECT_TRUE(has_error(result, 17, 9, "duplicate key 'step' (first at line 16)"));
  EXPECT_TRUE(has_error(result, 18, 36, "duplicate key 'checks' (first at line 18)"));
}

// ---------------------------------------------------------------------------------------------
// `with:` against the type's schema

TEST_F(StepCalls, ReportsAnUnknownWithKeyAtThatKey) {
  const auto result = load_on_enter(R"(      - step: legal_aid.refer
        with:
          checks: [general]
          provder: dlsa
)");
  EXPECT_TRUE(has_error(result, 19, 11,
                        "step 'legal_aid.refer': with: unknown key 'provder'; expected one of: "
                        "provider, checks; did you mean 'provider'?"));
  // A misspelt required key is one mistake: no "missing required key 'provider'" on top.
  EXPECT_EQ(error_count(result), 1U) << dump(result);
  EXPECT_EQ(refer_.created(), 0);
}

TEST_F(StepCalls, ReportsAnUnknownKeyNestedInWith) {
  const auto result =
      load_on_enter("      - { step: medical.check, with: { follow_up: { dayz: 3 } } }\n");
  EXPECT_TRUE(has_error(result, 16, 53,
                        "step 'medical.check': with.follow_up: unknown key 'dayz'; expected one "
                        "of: days; did you mean 'days'?"));
}

TEST_F(StepCalls, ReportsAWrongTypeInWithAtTheValue) {
  const auto result = load_on_enter(R"(      - step: legal_aid.refer
        with: { provider: dlsa, checks: [general, 5, "6"] }
      - step: legal_aid.refer
        with:
          provider: dlsa
          checks: general
      - step: legal_aid.refer
        with:
          provider: [dlsa]
      - step: medical.check
        with: { follow_up: { days: soon } }
      - step: medical.check
        with: { follow_up: 3 }
      - step: medical.check
        with:
          follow_up:
            - 3
)");
  EXPECT_TRUE(has_error(result, 17, 51, "step 'legal_aid.refer': with.checks[1]: "));
  EXPECT_TRUE(has_error(result, 21, 19, "step 'legal_aid.refer': with.checks: "));
  // A list or map is reported at its key, where an editor shows it.
  EXPECT_TRUE(has_error(result, 24, 11, "step 'legal_aid.refer': with.provider: "));
  EXPECT_TRUE(has_error(result, 26, 36, "step 'medical.check': with.follow_up.days: "));
  EXPECT_TRUE(has_error(result, 28, 28, "step 'medical.check': with.follow_up: "));
  EXPECT_TRUE(has_error(result, 31, 11, "step 'medical.check': with.follow_up: "));
  EXPECT_EQ(error_count(result), 6U) << dump(result);
}

TEST_F(StepCalls, ReportsAValueOutsideAnEnum) {
  const auto result = load_on_enter("      - { step: legal_aid.refer, with: { provider: dls } }\n");
  EXPECT_TRUE(has_error(result, 16, 52, "step 'legal_aid.refer': with.provider: "));
}

TEST_F(StepCalls, ReportsAMissingRequiredKeyAtWithOrAtStep) {
  const auto result = load_on_enter(R"(      - step: legal_aid.refer
        with: { checks: [general] }
      - step: legal_aid.refer
      - { step: legal_aid.refer, with: {} }
)");
  EXPECT_TRUE(has_error(result, 17, 9, "step 'legal_aid.refer': with: "));
  EXPECT_TRUE(has_error(result, 17, 9, "provider"));
  // With no `with` at all, at the step's name.
  EXPECT_TRUE(has_error(result, 18, 9, "step 'legal_aid.refer': with: "));
  EXPECT_TRUE(has_error(result, 18, 9, "provider"));
  EXPECT_TRUE(has_error(result, 19, 34, "step 'legal_aid.refer': with: "));
  EXPECT_EQ(error_count(result), 3U) << dump(result);
}

TEST_F(StepCalls, RejectsWithThatIsNotAMap) {
  const auto result = load_on_enter(R"(      - { step: medical.check, with: [general] }
      - step: medical.check
        with:
)");
  EXPECT_TRUE(has_error(result, 16, 38, "expected a map of settings for 'with', found a list"));
  EXPECT_TRUE(has_error(result, 18, 9, "'with' has no value; expected a map of settings"));
}

TEST_F(StepCalls, RejectsWithOnAStepThatTakesNoSettings) {
  const auto result =
      load_on_enter("      - { step: vocational.assess_interest, with: { track: tailoring } }\n");
  EXPECT_TRUE(has_error(result, 16, 45,
                        "step 'vocational.assess_interest' takes no settings; remove 'with'"));
  EXPECT_EQ(vocational_.created(), 0);
}

TEST_F(StepCalls, RejectsAStepTypeWhoseSchemaTheEngineCannotEnforce) {
  const auto result = load_on_enter(
      "      - { step: faulty.schema, with: { email: x } }\n"
      "      - { step: faulty.schema }\n");
  EXPECT_TRUE(has_error(result, 16, 11,
                        "step 'faulty.schema' has a configuration schema the engine cannot "
                        "enforce: "));
  // Said once per type, not once per use.
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

// ---------------------------------------------------------------------------------------------
// create()

TEST_F(StepCalls, ReportsARefusalByThePluginAtTheStepKey) {
  const auto result = load_on_enter(R"(      - step: medical.check
      - step: legal_aid.refer
        with:
          provider: slsa
)");
  EXPECT_TRUE(has_error(result, 17, 9,
                        "step 'legal_aid.refer' refused its configuration: no SLSA office "
                        "serves this district yet"));
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

TEST_F(StepCalls, ReportsAPluginThatThrowsOrMakesNothing) {
  const auto result = load_on_enter(R"(      - step: faulty.throws
      - { step: faulty.null }
)");
  EXPECT_TRUE(has_error(result, 16, 9,
                        "step 'faulty.throws' refused its configuration: configuration table "
                        "is corrupt"));
  EXPECT_TRUE(has_error(result, 17, 11, "step 'faulty.null' refused its configuration"));
}

// ---------------------------------------------------------------------------------------------
// async, retry, on_complete, when

TEST_F(StepCalls, RejectsRetryWithoutAsync) {
  const auto result = load_on_enter(R"(      - step: medical.check
        retry: { max_attempts: 3 }
      - step: medical.check
        async: false
        retry: { backoff: 1s }
      - step: medical.check
        async: yes
        retry: { backoff: 1s }
)");
  EXPECT_TRUE(has_error(result, 17, 9, "'retry' is only allowed with 'async: true'"));
  EXPECT_TRUE(has_error(result, 20, 9, "'retry' is only allowed with 'async: true'"));
  // An unreadable `async` is its own error; whether `retry` fits is then unknown.
  EXPECT_TRUE(has_error(result, 22, 16, "expected true or false for 'async', found 'yes'"));
  EXPECT_EQ(error_count(result), 3U) << dump(result);
}

TEST_F(StepCalls, RejectsBadRetryPolicies) {
  const auto result = load_on_enter(R"(      - step: medical.check
        async: true
        retry:
          max_attempts: 0
          backoff: 30
      - step: medical.check
        async: true
        retry: { max_attempts: 101, backoff: 5 min }
      - step: medical.check
        async: true
        retry: { max_attempts: 2.5, backoff: 0s }
      - step: medical.check
        async: true
        retry: { max_attempts: "3", backoff: 1w }
      - step: medical.check
        async: true
        retry: { backoff: 99999999999999999d }
      - { step: medical.check, async: true, retry: 3 }
)");
  EXPECT_TRUE(has_error(result, 19, 25, "'max_attempts' is 0; expected 1 to 100"));
  EXPECT_TRUE(has_error(result, 20, 20,
                        "invalid duration '30' for 'backoff'; expected a whole number and a "
                        "unit: 500ms, 30s, 5m, 2h or 1d"));
  EXPECT_TRUE(has_error(result, 23, 32, "'max_attempts' is 101; expected 1 to 100"));
  EXPECT_TRUE(has_error(result, 23, 46, "invalid duration '5 min'"));
  EXPECT_TRUE(has_error(result, 26, 32, "expected an integer for 'max_attempts', found '2.5'"));
  EXPECT_TRUE(has_error(result, 26, 46, "'backoff' is zero"));
  EXPECT_TRUE(has_error(result, 29, 32, "expected an integer for 'max_attempts', found a quoted"));
  EXPECT_TRUE(has_error(result, 29, 46, "invalid duration '1w'"));
  EXPECT_TRUE(has_error(result, 32, 27, "invalid duration '99999999999999999d'"));
  EXPECT_TRUE(has_error(result, 33, 52,
                        "expected a map with 'max_attempts' and/or 'backoff' for "
                        "'retry', found a single value"));
  EXPECT_EQ(error_count(result), 10U) << dump(result);
}

TEST_F(StepCalls, RejectsOnCompleteNamingAnUnknownEvent) {
  const auto result = load_on_enter(R"(      - step: legal_aid.refer
        async: true
        with: { provider: dlsa }
        on_complete: legal_aid_confirmd
      - { step: medical.check, on_complete: opened }
      - { step: medical.check, on_complete: [done] }
)");
  EXPECT_TRUE(has_error(result, 19, 22,
                        "unknown event 'legal_aid_confirmd' in 'on_complete'; expected one of: "
                        "done, legal_aid_confirmed; did you mean 'legal_aid_confirmed'?"));
  EXPECT_TRUE(has_error(result, 20, 45, "unknown event 'opened' in 'on_complete'"));
  EXPECT_TRUE(has_error(result, 21, 45, "expected a string for 'on_complete', found a list"));
  EXPECT_EQ(error_count(result), 3U) << dump(result);
}

// The event may be one that only a state further down the file uses.
TEST_F(StepCalls, AcceptsOnCompleteNamingAnEventOfAnyState) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on_enter:
      - { step: legal_aid.refer, async: true, with: { provider: dlsa }, on_complete: confirmed }
    on:
      referred: { to: waiting }
  waiting:
    on:
      confirmed: { to: closed }
  closed: { final: true }
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_EQ(result.workflow->states[0].on_enter.at(0).on_complete, "confirmed");
}

TEST_F(StepCalls, SaysSoWhenNoEventExistsForOnComplete) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    final: true
    on_enter: [ { step: medical.check, on_complete: checked } ]
)");
  EXPECT_TRUE(has_error(result, 9, 53,
                        "unknown event 'checked' in 'on_complete'; no state of this workflow has "
                        "transitions ('on')"));
}

TEST_F(StepCalls, CompilesAStepsGuardWithExactPositions) {
  const auto result =
      load_on_enter(R"(      - { step: vocational.assess_interest, when: "age >= 14 && nope" }
      - step: vocational.assess_interest
        when: age >= "x"
      - { step: vocational.assess_interest, when: "" }
)");
  EXPECT_TRUE(has_error(result, 16, 65, "invalid guard: unknown field 'nope'"));
  EXPECT_TRUE(has_error(result, 18, 19, "invalid guard: cannot compare integer with string"));
  EXPECT_TRUE(has_error(result, 19, 51, "empty guard"));
}

// ---------------------------------------------------------------------------------------------
// Where step calls may be written

TEST_F(StepCalls, RejectsAStepListThatIsNotAList) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on_enter: { step: medical.check }
    on_exit: medical.check
    on:
      done: { to: closed, steps: { step: medical.check } }
  closed:
    final: true
    on_enter:
)");
  EXPECT_TRUE(
      has_error(result, 8, 15, "expected a list of step calls for 'on_enter', found a map"));
  EXPECT_TRUE(has_error(result, 9, 14,
                        "expected a list of step calls for 'on_exit', found a single value"));
  EXPECT_TRUE(has_error(result, 11, 34, "expected a list of step calls for 'steps', found a map"));
  EXPECT_TRUE(has_error(result, 14, 5, "'on_enter' has no value; expected a list of step calls"));
  EXPECT_EQ(error_count(result), 4U) << dump(result);
}

TEST_F(StepCalls, RejectsAStepEntryThatIsNotAMap) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on_enter: [medical.check]
    on_exit:
      - medical.check
      - [legal_aid.refer]
    on:
      done:
        - to: closed
          steps: [ { step: medical.check }, vocational.assess_interest ]
  closed:
    final: true
)");
  EXPECT_TRUE(has_error(result, 8, 16,
                        "expected a step call (a map with 'step') in 'on_enter', found a single "
                        "value"));
  EXPECT_TRUE(has_error(result, 10, 9, "in 'on_exit', found a single value"));
  EXPECT_TRUE(has_error(result, 11, 9, "in 'on_exit', found a list"));
  EXPECT_TRUE(has_error(result, 15, 45, "in 'steps', found a single value"));
  EXPECT_EQ(error_count(result), 4U) << dump(result);
}

TEST_F(StepCalls, RejectsOnExitOnAFinalState) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
states:
  intake:
    initial: true
    on: { done: { to: closed } }
  closed:
    final: true
    on_enter: [ { step: medical.check } ]
    on_exit: [ { step: medical.check } ]
)");
  EXPECT_TRUE(has_error(result, 12, 5,
                        "final state 'closed' is never left, so its 'on_exit' would never run"));
  EXPECT_EQ(error_count(result), 1U) << dump(result);
}

TEST_F(StepCalls, PutsTransitionStepsOnEachRowOfAList) {
  const auto result = load(R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  age: { type: integer }
states:
  intake:
    initial: true
    on:
      assessed:
        - { to: closed, when: "age >= 18", steps: [ { step: medical.check } ] }
        - to: closed
          steps:
            - step: vocational.assess_interest
            - step: medical.check
              with: { checks: [general] }
  closed:
    final: true
)");
  ASSERT_TRUE(result.ok()) << dump(result);
  const Workflow& w = *result.workflow;
  const auto rows = w.rows(*w.find_state("intake"), *w.find_event("assessed"));
  ASSERT_EQ(rows.size(), 2U);
  ASSERT_EQ(rows[0].steps.size(), 1U);
  EXPECT_EQ(rows[0].steps[0].type, "medical.check");
  ASSERT_EQ(rows[1].steps.size(), 2U);
  EXPECT_EQ(rows[1].steps[0].type, "vocational.assess_interest");
  EXPECT_EQ(rows[1].steps[1].type, "medical.check");
  EXPECT_EQ(boost::json::value(rows[1].steps[1].config), json(R"({"checks":["general"]})"));
}

}  // namespace
}  // namespace carepath::workflow
