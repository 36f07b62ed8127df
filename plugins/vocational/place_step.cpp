#include "place_step.hpp"

#include <optional>
#include <stdexcept>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "json_input.hpp"
#include "tracks.hpp"

namespace vocational {
namespace {

using carepath::sdk::Outcome;

std::string ok_fields(const std::string& partner, const std::string& course) {
  return boost::json::serialize(boost::json::object{
      {"vocational_partner", partner},
      {"vocational_course", course},
      {"vocational_placed", true},
  });
}

}  // namespace

PlaceStep::PlaceStep(std::string_view config_json) {
  const boost::json::object config = parse_config(config_json, {"partners"});
  const boost::json::value* partners = config.if_contains("partners");
  if (partners == nullptr) {
    throw std::invalid_argument("with: missing required key 'partners'");
  }
  if (!partners->is_array() || partners->get_array().empty() || partners->get_array().size() > 50) {
    throw std::invalid_argument("with.partners: must be a list of 1 to 50 partners");
  }
  for (std::size_t i = 0; i < partners->get_array().size(); ++i) {
    const std::string where = "with.partners[" + std::to_string(i) + "]";
    const boost::json::value& item = partners->get_array()[i];
    if (!item.is_object()) {
      throw std::invalid_argument(where + ": must be an object with name, course and capacity");
    }
    const boost::json::object& partner = item.get_object();
    for (const auto& member : partner) {
      if (member.key() != "name" && member.key() != "course" && member.key() != "capacity") {
        throw std::invalid_argument(where + ": unknown key '" + std::string(member.key()) +
                                    "'; expected one of: name, course, capacity");
      }
    }
    const boost::json::value* name = partner.if_contains("name");
    if (name == nullptr || !name->is_string() || name->get_string().empty() ||
        name->get_string().size() > 200) {
      throw std::invalid_argument(where + ".name: must be a string of 1 to 200 characters");
    }
    const boost::json::value* course = partner.if_contains("course");
    if (course == nullptr || !course->is_string() || !is_track(course->get_string())) {
      throw std::invalid_argument(where + ".course: must be one of: " + joined(kTracks));
    }
    const boost::json::value* capacity = partner.if_contains("capacity");
    if (capacity == nullptr || !capacity->is_int64() || capacity->get_int64() < 1 ||
        capacity->get_int64() > 1000) {
      throw std::invalid_argument(where + ".capacity: must be a whole number from 1 to 1000");
    }
    Partner next{std::string(name->get_string()), std::string(course->get_string()),
                 capacity->get_int64()};
    for (const Partner& earlier : partners_) {
      if (earlier.name == next.name && earlier.course == next.course) {
        throw std::invalid_argument(where + ": partner '" + next.name + "' with course '" +
                                    next.course + "' is listed twice");
      }
    }
    partners_.push_back(std::move(next));
  }
  taken_.assign(partners_.size(), 0);
}

Outcome PlaceStep::run(carepath::sdk::Call& call, std::string_view input_json) {
  std::optional<std::string> track;
  try {
    track = string_field(parse_input_data(input_json), "vocational_track");
  } catch (const BadInput& e) {
    return Outcome::failed(e.what());
  }
  if (!track) {
    return Outcome::veto(
        "case field 'vocational_track' is not set; run vocational.assess_interest or set it first");
  }
  if (!is_track(*track)) {
    return Outcome::failed("case field 'vocational_track' is not one of: " + joined(kTracks));
  }
  const std::string_view key = call.idempotency_key();
  if (key.empty()) {
    return Outcome::failed(
        "the engine offered no idempotency key; vocational.place needs one so that a retry does "
        "not take a second place");
  }

  const std::lock_guard<std::mutex> lock(mutex_);
  // A retry of a call that already got a place keeps it, even if the case's track changed in
  // between: the place was taken by this call, and counting a second one would over-fill.
  if (const auto found = placements_.find(std::string(key)); found != placements_.end()) {
    const Partner& partner = partners_[found->second];
    return Outcome::ok(ok_fields(partner.name, partner.course));
  }
  std::int64_t places = 0;
  for (std::size_t i = 0; i < partners_.size(); ++i) {
    if (partners_[i].course != *track) {
      continue;
    }
    places += partners_[i].capacity;
    if (taken_[i] < partners_[i].capacity) {
      ++taken_[i];
      placements_.emplace(key, i);
      return Outcome::ok(ok_fields(partners_[i].name, partners_[i].course));
    }
  }
  if (places == 0) {
    return Outcome::veto(
        "no training partner of this step runs the course in case field 'vocational_track'; "
        "add one to the workflow or choose another track");
  }
  return Outcome::veto(
      "every training partner of this step for the course in case field "
      "'vocational_track' is full (" +
      std::to_string(places) +
      " places, counted since the engine started); add places or a partner to "
      "the workflow, or place the child by hand");
}

}  // namespace vocational
