// plugin.hpp: a plugin made with the SDK, linked in (CP_PLUGIN_STATIC) and driven through its
// descriptor exactly as the host drives a loaded one.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <carepath/plugin.hpp>
#include <gtest/gtest.h>

namespace sdk_test {

using carepath::sdk::Call;
using carepath::sdk::LogLevel;
using carepath::sdk::Outcome;

constexpr std::string_view kAnswerSchema = R"({"type": "object"})";

// Answers according to its input text, so that one step covers every Outcome and every failure.
// Refuses the config "bad" with a std::exception and "int" with a non-exception.
class AnswerStep final : public carepath::sdk::Step {
 public:
  explicit AnswerStep(std::string_view config_json) {
    if (config_json == "bad") {
      throw std::invalid_argument("config: 'mode' is required");
    }
    if (config_json == "int") {
      throw 7;
    }
    config_ = config_json;
  }

 private:
  // Private on purpose: the SDK must call it through the Step base.
  Outcome run(Call& call, std::string_view input_json) override {
    if (input_json == "ok") {
      return Outcome::ok(R"({"referral_no": "R-1"})");
    }
    if (input_json == "ok_default") {
      return Outcome::ok();
    }
    if (input_json == "ok_empty") {
      return Outcome::ok("");
    }
    if (input_json == "failed") {
      return Outcome::failed("provider refused the referral");
    }
    if (input_json == "retryable") {
      return Outcome::retryable("provider unavailable");
    }
    if (input_json == "pending") {
      return Outcome::pending(R"({"task": "call the provider"})");
    }
    if (input_json == "veto") {
      return Outcome::veto("case field 'cwc_order_no' is not set");
    }
    if (input_json == "throw") {
      throw std::runtime_error("provider client broke");
    }
    if (input_json == "throw_int") {
      throw 42;
    }
    if (input_json == "host") {
      call.log(LogLevel::warning, "checking the host");
      std::string out = R"({"cancelled": )";
      out += call.is_cancelled() ? "true" : "false";
      out += R"(, "key": ")";
      out += call.idempotency_key();
      out += R"(", "config": ")" + config_ + "\"}";
      return Outcome::ok(out);
    }
    return Outcome::failed("unknown input");
  }

  std::string config_;
};

// Takes no configuration and reads no fields.
class PlainStep final : public carepath::sdk::Step {
 public:
  explicit PlainStep(std::string_view /*config_json*/) {}
  Outcome run(Call& /*call*/, std::string_view /*input_json*/) override { return Outcome::ok(); }
};

}  // namespace sdk_test

CP_PLUGIN(sdk_test, "1.2.3",
          carepath::sdk::step_type<sdk_test::AnswerStep>("sdk_test.answer", sdk_test::kAnswerSchema,
                                                         {"age", "cwc_order_no"},
                                                         "Answers what its input asks for"),
          carepath::sdk::step_type<sdk_test::PlainStep>("sdk_test.plain", ""),
          carepath::sdk::step_type<sdk_test::PlainStep>("sdk_test.described", "", {},
                                                        "Reads nothing"))

CP_PLUGIN_DECLARE_STATIC(sdk_test);

namespace {

using carepath::sdk::Call;
using carepath::sdk::LogLevel;
using carepath::sdk::Outcome;

// A host: collects what the plugin writes and offers the services in cp_host_api.
struct FakeHost {
  std::string output;
  std::string error;
  std::vector<std::pair<int, std::string>> logs;
  bool cancelled = false;
  std::string key = "case-7/step-2/attempt";
  int calls = 0;  // host functions called

  static void append(void* to, cp_str bytes) {
    static_cast<std::string*>(to)->append(bytes.data, bytes.size);
  }
  static void log(void* call, int level, cp_str message) {
    auto* self = static_cast<FakeHost*>(call);
    ++self->calls;
    self->logs.emplace_back(level, std::string(message.data, message.size));
  }
  static int is_cancelled(void* call) {
    auto* self = static_cast<FakeHost*>(call);
    ++self->calls;
    return self->cancelled ? 1 : 0;
  }
  static cp_str idempotency_key(void* call) {
    auto* self = static_cast<FakeHost*>(call);
    ++self->calls;
    return cp_str{self->key.data(), self->key.size()};
  }

  cp_host_api api{sizeof(cp_host_api), CP_ABI_MAJOR,    CP_ABI_MINOR, &log,
                  &is_cancelled,       &idempotency_key};

  cp_sink output_sink() { return cp_sink{&output, &append}; }
  cp_sink error_sink() { return cp_sink{&error, &append}; }
};

cp_str text(std::string_view s) {
  return cp_str{s.data(), s.size()};
}

const cp_plugin& plugin() {
  return *sdk_test_carepath_plugin_entry_v1(nullptr);
}

const cp_step_type& step_type(std::string_view name) {
  for (std::size_t i = 0; i < plugin().step_type_count; ++i) {
    if (plugin().step_types[i]->name == name) {
      return *plugin().step_types[i];
    }
  }
  throw std::logic_error("no such step type");
}

// One instance of sdk_test.answer, destroyed with the fixture.
class AnswerStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeHost host;
    ASSERT_EQ(type_.create(text("{}"), &step_, host.error_sink()), CP_STATUS_OK) << host.error;
    ASSERT_NE(step_, nullptr);
  }
  void TearDown() override { type_.destroy(step_); }

  cp_status run(std::string_view input) {
    return type_.run(step_, &host_.api, &host_, text(input), host_.output_sink(),
                     host_.error_sink());
  }

  const cp_step_type& type_ = step_type("sdk_test.answer");
  void* step_ = nullptr;
  FakeHost host_;
};

TEST(PluginHpp, DescriptorDescribesThePlugin) {
  const cp_plugin* p = sdk_test_carepath_plugin_entry_v1(nullptr);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, sdk_test_carepath_plugin_entry_v1(nullptr)) << "one static descriptor";
  EXPECT_EQ(p->struct_size, sizeof(cp_plugin));
  EXPECT_EQ(p->abi_major, CP_ABI_MAJOR);
  EXPECT_EQ(p->abi_minor, CP_ABI_MINOR);
  EXPECT_STREQ(p->name, "sdk_test");
  EXPECT_STREQ(p->version, "1.2.3");
  ASSERT_EQ(p->step_type_count, 3U);
  EXPECT_STREQ(p->step_types[0]->name, "sdk_test.answer");
  EXPECT_STREQ(p->step_types[1]->name, "sdk_test.plain");
  EXPECT_STREQ(p->step_types[2]->name, "sdk_test.described");
}

TEST(PluginHpp, StepTypesCarryNameSchemaReadsAndDescription) {
  const cp_step_type& answer = step_type("sdk_test.answer");
  EXPECT_EQ(answer.struct_size, sizeof(cp_step_type));
  EXPECT_STREQ(answer.config_schema, R"({"type": "object"})");
  EXPECT_STREQ(answer.description, "Answers what its input asks for");
  ASSERT_EQ(answer.read_count, 2U);
  EXPECT_STREQ(answer.reads[0], "age");
  EXPECT_STREQ(answer.reads[1], "cwc_order_no");
  EXPECT_NE(answer.create, nullptr);
  EXPECT_NE(answer.run, nullptr);
  EXPECT_NE(answer.destroy, nullptr);

  const cp_step_type& plain = step_type("sdk_test.plain");
  EXPECT_EQ(plain.config_schema, nullptr) << "an empty schema means no configuration";
  EXPECT_EQ(plain.description, nullptr);
  EXPECT_EQ(plain.reads, nullptr);
  EXPECT_EQ(plain.read_count, 0U);

  const cp_step_type& described = step_type("sdk_test.described");
  EXPECT_STREQ(described.description, "Reads nothing");
  EXPECT_EQ(described.read_count, 0U);
}

TEST(PluginHpp, CreateReportsWhatARefusedConfigThrew) {
  const cp_step_type& type = step_type("sdk_test.answer");
  FakeHost host;
  void* step = &host;  // create() must reset it on failure
  EXPECT_EQ(type.create(text("bad"), &step, host.error_sink()), CP_STATUS_FAILED);
  EXPECT_EQ(host.error, "config: 'mode' is required");
  EXPECT_EQ(step, nullptr);
}

TEST(PluginHpp, CreateReportsANonExceptionThrowAsUnknown) {
  const cp_step_type& type = step_type("sdk_test.answer");
  FakeHost host;
  void* step = nullptr;
  EXPECT_EQ(type.create(text("int"), &step, host.error_sink()), CP_STATUS_FAILED);
  EXPECT_EQ(host.error, "unknown exception");
  EXPECT_EQ(step, nullptr);
}

TEST(PluginHpp, CreateWithoutAPlaceForTheInstanceFails) {
  const cp_step_type& type = step_type("sdk_test.answer");
  FakeHost host;
  EXPECT_EQ(type.create(text("{}"), nullptr, host.error_sink()), CP_STATUS_FAILED);
  EXPECT_FALSE(host.error.empty());
}

TEST(PluginHpp, CreateAcceptsAnEmptyConfigWithNullData) {
  const cp_step_type& type = step_type("sdk_test.plain");
  FakeHost host;
  void* step = nullptr;
  ASSERT_EQ(type.create(cp_str{nullptr, 0}, &step, host.error_sink()), CP_STATUS_OK);
  EXPECT_EQ(
      type.run(step, nullptr, nullptr, cp_str{nullptr, 0}, host.output_sink(), host.error_sink()),
      CP_STATUS_OK);
  EXPECT_EQ(host.output, "{}");
  type.destroy(step);
}

TEST_F(AnswerStepTest, OkWritesTheFieldsToTheOutputSink) {
  EXPECT_EQ(run("ok"), CP_STATUS_OK);
  EXPECT_EQ(host_.output, R"({"referral_no": "R-1"})");
  EXPECT_EQ(host_.error, "");
}

TEST_F(AnswerStepTest, OkWithoutFieldsWritesAnEmptyObject) {
  EXPECT_EQ(run("ok_default"), CP_STATUS_OK);
  EXPECT_EQ(host_.output, "{}");
  host_.output.clear();
  EXPECT_EQ(run("ok_empty"), CP_STATUS_OK);
  EXPECT_EQ(host_.output, "{}");
}

TEST_F(AnswerStepTest, FailedWritesTheMessageToTheErrorSink) {
  EXPECT_EQ(run("failed"), CP_STATUS_FAILED);
  EXPECT_EQ(host_.error, "provider refused the referral");
  EXPECT_EQ(host_.output, "");
}

TEST_F(AnswerStepTest, RetryableWritesTheMessageToTheErrorSink) {
  EXPECT_EQ(run("retryable"), CP_STATUS_RETRYABLE);
  EXPECT_EQ(host_.error, "provider unavailable");
  EXPECT_EQ(host_.output, "");
}

TEST_F(AnswerStepTest, PendingWritesTheTaskToTheOutputSink) {
  EXPECT_EQ(run("pending"), CP_STATUS_PENDING);
  EXPECT_EQ(host_.output, R"({"task": "call the provider"})");
  EXPECT_EQ(host_.error, "");
}

TEST_F(AnswerStepTest, VetoWritesTheReasonToTheErrorSink) {
  EXPECT_EQ(run("veto"), CP_STATUS_VETO);
  EXPECT_EQ(host_.error, "case field 'cwc_order_no' is not set");
  EXPECT_EQ(host_.output, "");
}

TEST_F(AnswerStepTest, AStdExceptionBecomesFailedWithItsWhat) {
  EXPECT_EQ(run("throw"), CP_STATUS_FAILED);
  EXPECT_EQ(host_.error, "provider client broke");
}

TEST_F(AnswerStepTest, AnyOtherThrowBecomesFailedWithUnknownException) {
  EXPECT_EQ(run("throw_int"), CP_STATUS_FAILED);
  EXPECT_EQ(host_.error, "unknown exception");
}

TEST_F(AnswerStepTest, CallReachesTheHostServices) {
  host_.cancelled = true;
  EXPECT_EQ(run("host"), CP_STATUS_OK);
  EXPECT_EQ(host_.output, R"({"cancelled": true, "key": "case-7/step-2/attempt", "config": "{}"})");
  ASSERT_EQ(host_.logs.size(), 1U);
  EXPECT_EQ(host_.logs[0].first, CP_LOG_WARNING);
  EXPECT_EQ(host_.logs[0].second, "checking the host");
}

TEST_F(AnswerStepTest, NullHostTableIsAHostThatOffersNothing) {
  EXPECT_EQ(
      type_.run(step_, nullptr, nullptr, text("host"), host_.output_sink(), host_.error_sink()),
      CP_STATUS_OK);
  EXPECT_EQ(host_.output, R"({"cancelled": false, "key": "", "config": "{}"})");
}

TEST_F(AnswerStepTest, NullHostFunctionsAreNotOffered) {
  cp_host_api empty{sizeof(cp_host_api), CP_ABI_MAJOR, CP_ABI_MINOR, nullptr, nullptr, nullptr};
  EXPECT_EQ(type_.run(step_, &empty, &host_, text("host"), host_.output_sink(), host_.error_sink()),
            CP_STATUS_OK);
  EXPECT_EQ(host_.output, R"({"cancelled": false, "key": "", "config": "{}"})");
  EXPECT_EQ(host_.calls, 0);
}

TEST_F(AnswerStepTest, MembersBeyondStructSizeAreNeverRead) {
  // An older, shorter host table: it ends after `log`, so the later members are garbage to us.
  cp_host_api older = host_.api;
  older.struct_size = offsetof(cp_host_api, log) + sizeof(older.log);
  host_.cancelled = true;
  EXPECT_EQ(type_.run(step_, &older, &host_, text("host"), host_.output_sink(), host_.error_sink()),
            CP_STATUS_OK);
  EXPECT_EQ(host_.output, R"({"cancelled": false, "key": "", "config": "{}"})");
  EXPECT_EQ(host_.logs.size(), 1U) << "log is within struct_size";
  EXPECT_EQ(host_.calls, 1);
}

TEST_F(AnswerStepTest, SinksWithoutAFunctionAreIgnored) {
  const cp_sink none{nullptr, nullptr};
  EXPECT_EQ(type_.run(step_, &host_.api, &host_, text("ok"), none, none), CP_STATUS_OK);
  EXPECT_EQ(type_.run(step_, &host_.api, &host_, text("throw"), none, none), CP_STATUS_FAILED);
}

TEST(PluginHpp, RunWithoutAnInstanceFails) {
  const cp_step_type& type = step_type("sdk_test.answer");
  FakeHost host;
  EXPECT_EQ(type.run(nullptr, &host.api, &host, text("ok"), host.output_sink(), host.error_sink()),
            CP_STATUS_FAILED);
  EXPECT_FALSE(host.error.empty());
}

TEST(PluginHpp, DestroyAcceptsNull) {
  step_type("sdk_test.answer").destroy(nullptr);
}

TEST(SdkOutcome, KindsMatchTheAbiStatuses) {
  EXPECT_EQ(Outcome::ok().status(), CP_STATUS_OK);
  EXPECT_EQ(Outcome::failed("x").status(), CP_STATUS_FAILED);
  EXPECT_EQ(Outcome::retryable("x").status(), CP_STATUS_RETRYABLE);
  EXPECT_EQ(Outcome::pending("{}").status(), CP_STATUS_PENDING);
  EXPECT_EQ(Outcome::veto("x").status(), CP_STATUS_VETO);
  EXPECT_EQ(Outcome::veto("x").kind(), Outcome::Kind::veto);
}

TEST(SdkOutcome, OutputAndMessageAreSeparate) {
  EXPECT_EQ(Outcome::ok().output_json(), "{}");
  EXPECT_EQ(Outcome::ok(R"({"a": 1})").message(), "");
  EXPECT_EQ(Outcome::pending(R"({"t": 1})").output_json(), R"({"t": 1})");
  EXPECT_EQ(Outcome::failed("why").message(), "why");
  EXPECT_EQ(Outcome::failed("why").output_json(), "");
  EXPECT_EQ(Outcome::veto("no").message(), "no");
}

TEST(SdkCall, AHostThatOffersNothingIsSafe) {
  const Call call(nullptr, nullptr);
  call.log(LogLevel::error, "nothing listens");
  EXPECT_FALSE(call.is_cancelled());
  EXPECT_EQ(call.idempotency_key(), "");
}

TEST(SdkCall, ANullKeyIsEmpty) {
  cp_host_api api{sizeof(cp_host_api), CP_ABI_MAJOR, CP_ABI_MINOR, nullptr, nullptr, [](void*) {
                    return cp_str{nullptr, 0};
                  }};
  const Call call(&api, nullptr);
  EXPECT_EQ(call.idempotency_key(), "");
}

TEST(SdkCall, LogLevelsAreTheAbis) {
  EXPECT_EQ(static_cast<int>(LogLevel::debug), CP_LOG_DEBUG);
  EXPECT_EQ(static_cast<int>(LogLevel::info), CP_LOG_INFO);
  EXPECT_EQ(static_cast<int>(LogLevel::warning), CP_LOG_WARNING);
  EXPECT_EQ(static_cast<int>(LogLevel::error), CP_LOG_ERROR);
}

// Compile-time checks of the names CP_PLUGIN accepts.
static_assert(carepath::sdk::detail::is_step_name_of("legal_aid", "legal_aid.refer"));
static_assert(!carepath::sdk::detail::is_step_name_of("legal_aid", "legal_aid."));
static_assert(!carepath::sdk::detail::is_step_name_of("legal_aid", "legal.refer"));
static_assert(!carepath::sdk::detail::is_step_name_of("legal_aid", "legal_aidrefer"));
static_assert(!carepath::sdk::detail::is_step_name_of("legal_aid", "legal_aid.Refer"));
static_assert(carepath::sdk::detail::is_lower_identifier("legal_aid"));
static_assert(!carepath::sdk::detail::is_lower_identifier("\"legal_aid\""));
static_assert(!carepath::sdk::detail::is_lower_identifier("9lives"));

}  // namespace
