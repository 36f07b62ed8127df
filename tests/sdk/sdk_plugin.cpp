// A plugin made with today's C++ SDK and built with carepath_add_plugin(), loaded by
// plugin_module_test.cpp the way the engine loads plugins (dlopen, one symbol). It proves the
// SDK's classes, templates and exception handling leave exactly one exported symbol and that an
// exception thrown inside a loaded module comes back as a status and message.
//
// Plugin "sdk_module", version "0.0.1":
//   sdk_module.echo   config: any JSON; answers CP_STATUS_OK with {"echo_config": <config>}
//   sdk_module.throw  answers CP_STATUS_FAILED with "thrown inside the module"
#include <stdexcept>
#include <string>
#include <string_view>

#include <carepath/plugin.hpp>

namespace sdk_module {

class EchoStep final : public carepath::sdk::Step {
 public:
  explicit EchoStep(std::string_view config_json) : config_(config_json) {}
  carepath::sdk::Outcome run(carepath::sdk::Call& /*call*/,
                             std::string_view /*input_json*/) override {
    return carepath::sdk::Outcome::ok(R"({"echo_config": )" + config_ + "}");
  }

 private:
  std::string config_;
};

class ThrowStep final : public carepath::sdk::Step {
 public:
  explicit ThrowStep(std::string_view /*config_json*/) {}
  carepath::sdk::Outcome run(carepath::sdk::Call& /*call*/,
                             std::string_view /*input_json*/) override {
    throw std::runtime_error("thrown inside the module");
  }
};

constexpr std::string_view kAnyObject = R"({"type": "object"})";

}  // namespace sdk_module

CP_PLUGIN(sdk_module, "0.0.1",
          carepath::sdk::step_type<sdk_module::EchoStep>("sdk_module.echo", sdk_module::kAnyObject),
          carepath::sdk::step_type<sdk_module::ThrowStep>("sdk_module.throw", ""))
