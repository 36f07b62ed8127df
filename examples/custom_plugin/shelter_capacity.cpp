//
// Example: a carepath plugin built outside the carepath source tree
//
// One step type, `shelter.capacity_check`, for an NGO that runs several shelter homes. Put it on
// the transition that places a child in a home, and it stops the placement when the chosen home
// is already full:
//
//   fields:
//     home:             { type: enum, values: [umang, umeed, asha] }
//     home_occupancy:   { type: integer, min: 0, description: Children living there now }
//     home_places_left: { type: integer, description: Written by shelter.capacity_check }
//   states:
//     assessed:
//       on:
//         placed:
//           to: in_home
//           roles: [caseworker]
//           requires: [home, home_occupancy]
//           steps:
//             - step: shelter.capacity_check
//               with: { homes: { umang: 15, umeed: 12, asha: 20 } }
//
// Read it top to bottom: each numbered step is one thing every plugin does.
//

//------------------------------------------------------------------------------
// 1. Include the SDK.
//
// <carepath/plugin.hpp> is the whole SDK: a header-only C++ layer over the C ABI in
// <carepath/plugin_abi.h>. It needs only the standard library. It has no JSON parser, so that
// you can use the one you already have; this example brings a tiny one (tiny_json.hpp) so that
// it builds with nothing but carepath installed.
//------------------------------------------------------------------------------
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include <carepath/plugin.hpp>

#include "tiny_json.hpp"

namespace shelter {

using carepath::sdk::Call;
using carepath::sdk::LogLevel;
using carepath::sdk::Outcome;

//------------------------------------------------------------------------------
// 2. Describe the configuration with a JSON Schema.
//
// This is the shape of the step's `with:` block in a workflow. The engine checks every `with:`
// block against it when the workflow loads, so a typo ("homse") or a capacity of "fifteen" is
// reported to the administrator with the file and line, before any case reaches the step.
//------------------------------------------------------------------------------
constexpr std::string_view kCapacitySchema = R"({
  "type": "object",
  "required": ["homes"],
  "additionalProperties": false,
  "properties": {
    "homes": {
      "description": "How many children each home can take, by home name",
      "type": "object",
      "additionalProperties": {"type": "integer", "minimum": 1}
    }
  }
})";

//------------------------------------------------------------------------------
// 3. Write the step as a class derived from carepath::sdk::Step.
//
// The engine makes one instance per `with:` block when a workflow loads, and then calls run()
// for every case that takes the transition, possibly from several threads at once. So the
// constructor does all the preparation, and run() only reads what the constructor made.
//------------------------------------------------------------------------------
class CapacityCheckStep final : public carepath::sdk::Step {
 public:
  explicit CapacityCheckStep(std::string_view config_json);
  Outcome run(Call& call, std::string_view input_json) override;

 private:
  // Capacity by home name. std::less<> lets run() look up a std::string_view without a copy.
  std::map<std::string, std::int64_t, std::less<>> capacity_;
};

//------------------------------------------------------------------------------
// 4. The constructor reads the configuration, or refuses it by throwing.
//
// The schema already guaranteed the shape, but check anyway: a constructor is the only place a
// step can refuse its configuration, and it costs nothing. Any std::exception thrown here makes
// the workflow fail to load with your message, so say what is wrong in words an administrator
// understands. Configuration is not case data, so naming a home here is fine.
//------------------------------------------------------------------------------
CapacityCheckStep::CapacityCheckStep(std::string_view config_json) {
  const auto config = tiny_json::parse(config_json);
  if (!config) {
    throw std::invalid_argument("configuration is not valid JSON");
  }
  const tiny_json::Value* homes = config->find("homes");
  if (homes == nullptr || homes->type != tiny_json::Value::Type::object || homes->keys.empty()) {
    throw std::invalid_argument("'homes' must be an object with at least one home");
  }
  for (std::size_t i = 0; i < homes->keys.size(); ++i) {
    const tiny_json::Value& places = homes->items[i];
    if (places.type != tiny_json::Value::Type::integer || places.integer < 1) {
      throw std::invalid_argument("the capacity of home '" + homes->keys[i] +
                                  "' must be a whole number of at least 1");
    }
    capacity_[homes->keys[i]] = places.integer;
  }
}

//------------------------------------------------------------------------------
// 5. run() answers for one case with an Outcome.
//
// The input is a JSON object; its "data" member holds only the case fields this step type
// declared in `reads` (step 6), and only those that are set. The answer is one of:
//
//   Outcome::ok(fields)      done; `fields` is a JSON object of case fields to set
//   Outcome::veto(reason)    the transition must not happen; the caseworker sees the reason
//   Outcome::failed(why)     something is wrong that retrying will not fix
//   Outcome::retryable(why)  a transient problem; the workflow's retry policy decides
//   Outcome::pending(task)   waiting for a person or an outside system
//
// Messages are read by caseworkers and administrators and end up in logs, so they name fields,
// never their values: not the home, not the child. A thrown exception would also become
// Outcome::failed (the SDK catches everything), but explicit outcomes give better messages.
//------------------------------------------------------------------------------
Outcome CapacityCheckStep::run(Call& call, std::string_view input_json) {
  // 5a. Parse the input. The engine always sends valid JSON, but a plugin never trusts that it
  // will: bad input must give a failed outcome, never a crash.
  const auto input = tiny_json::parse(input_json);
  const tiny_json::Value* data = input ? input->find("data") : nullptr;
  if (data == nullptr || data->type != tiny_json::Value::Type::object) {
    return Outcome::failed("input has no 'data' object");
  }

  // 5b. Read the two fields. A workflow should list them in the transition's `requires:`, so a
  // missing one means the workflow needs fixing: that is a failure, not a veto.
  const tiny_json::Value* home = data->find("home");
  if (home == nullptr || home->type != tiny_json::Value::Type::string) {
    return Outcome::failed("case field 'home' is not set");
  }
  const tiny_json::Value* occupancy = data->find("home_occupancy");
  if (occupancy == nullptr || occupancy->type != tiny_json::Value::Type::integer ||
      occupancy->integer < 0) {
    return Outcome::failed("case field 'home_occupancy' must be a whole number of at least 0");
  }

  // 5c. Decide. An unknown home is a gap in the configuration, so fail and let an administrator
  // add it; a full home is exactly what this step exists to stop, so veto.
  const auto capacity = capacity_.find(home->string);
  if (capacity == capacity_.end()) {
    return Outcome::failed("the selected home has no capacity in this step's configuration");
  }
  if (occupancy->integer >= capacity->second) {
    return Outcome::veto("the selected home is full");
  }

  // 5d. Log through the host, so the line carries the case and step without us adding them.
  // A message without values: the case id in the log line already says whose case it was.
  call.log(LogLevel::info, "shelter capacity check passed");

  // 5e. Answer ok, setting one case field. The workflow must declare `home_places_left`.
  const std::int64_t places_left = capacity->second - occupancy->integer - 1;
  return Outcome::ok(R"({"home_places_left": )" + std::to_string(places_left) + "}");
}

}  // namespace shelter

//------------------------------------------------------------------------------
// 6. Declare the plugin and its step types.
//
// CP_PLUGIN defines the one symbol the engine looks for, carepath_plugin_entry_v1. Its
// arguments: the plugin's name as a bare identifier (every step type name starts with it and a
// dot), the plugin's own version, and one step_type<Class>(...) per step:
//
//   - the step type's name, used in workflows as `step: shelter.capacity_check`;
//   - the config schema from step 2;
//   - the case fields the step may read; the engine passes it no others, so list only what
//     it needs (a step that sees fewer details of a child can leak fewer);
//   - one sentence for people, shown by `carepath plugins check` and the API.
//
// Names are checked at compile time. No semicolon after it.
//------------------------------------------------------------------------------
CP_PLUGIN(shelter, "0.1.0",
          carepath::sdk::step_type<shelter::CapacityCheckStep>(
              "shelter.capacity_check", shelter::kCapacitySchema, {"home", "home_occupancy"},
              "Vetoes a placement when the chosen shelter home is full"))
