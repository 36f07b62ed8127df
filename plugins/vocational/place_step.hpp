// vocational.place: places the child with a training partner that has a free place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <carepath/plugin.hpp>

namespace vocational {

constexpr std::string_view kPlaceSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["partners"],
  "properties": {
    "partners": {
      "description": "Training partners, tried in this order; the same name and course may appear once",
      "type": "array",
      "minItems": 1,
      "maxItems": 50,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "course", "capacity"],
        "properties": {
          "name": {"description": "The partner's name, written to vocational_partner", "type": "string", "minLength": 1, "maxLength": 200},
          "course": {
            "description": "The track the course teaches",
            "type": "string",
            "enum": ["tailoring", "beautician", "computer_basics", "hospitality", "retail", "bakery", "other"]
          },
          "capacity": {"description": "Places in the course", "type": "integer", "minimum": 1, "maximum": 1000}
        }
      }
    }
  }
})json";

// One call reads `vocational_track` and takes a place with the first partner (config order) whose
// course is that track and which has a free place: ok with `vocational_partner`,
// `vocational_course` and `vocational_placed: true`. Vetoes when the track is unset, when no
// partner runs that course, or when every such partner is full.
//
// Places are counted in memory, per instance, keyed by the call's idempotency key, so a retry of
// the same call gets the place the first attempt took and is not counted twice. The counts start
// at zero whenever the instance is made (engine start, workflow load) and never go down when a
// child leaves a course: this guards against over-filling a batch, it is not a register of
// places. A durable count belongs in the case data, or in the store API planned for plugins.
// The memory held is bounded by the sum of the capacities (only calls that got a place are kept).
//
// Thread-safety: run() may be called concurrently; the counts are guarded by mutex_.
class PlaceStep final : public carepath::sdk::Step {
 public:
  // Throws std::invalid_argument when the config is not valid for kPlaceSchema, or when a name
  // and course appear twice.
  explicit PlaceStep(std::string_view config_json);

  carepath::sdk::Outcome run(carepath::sdk::Call& call, std::string_view input_json) override;

 private:
  struct Partner {
    std::string name;
    std::string course;  // one of kTracks
    std::int64_t capacity = 0;
  };

  std::vector<Partner> partners_;  // in config order; immutable after construction

  std::mutex mutex_;
  std::vector<std::int64_t> taken_;  // GUARDED_BY(mutex_); places taken, per partner
  // GUARDED_BY(mutex_); idempotency key of each call that got a place -> index in partners_.
  std::unordered_map<std::string, std::size_t> placements_;
};

}  // namespace vocational
