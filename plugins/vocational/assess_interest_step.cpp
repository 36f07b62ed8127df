#include "assess_interest_step.hpp"

#include <array>
#include <cctype>
#include <cstddef>
#include <optional>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "json_input.hpp"
#include "tracks.hpp"

namespace vocational {
namespace {

using carepath::sdk::Outcome;

struct Keyword {
  std::string_view word;
  std::string_view track;
};

// Interest words (normalised: lower case, `_` between words) and the track each points to. Kept
// in docs/plugins.md as a table; change both together.
// clang-format off
constexpr std::array kKeywords = {
    Keyword{"tailoring", "tailoring"},        Keyword{"sewing", "tailoring"},
    Keyword{"stitching", "tailoring"},        Keyword{"embroidery", "tailoring"},
    Keyword{"fashion", "tailoring"},          Keyword{"garments", "tailoring"},
    Keyword{"beautician", "beautician"},      Keyword{"beauty", "beautician"},
    Keyword{"beauty_parlour", "beautician"},  Keyword{"hair", "beautician"},
    Keyword{"makeup", "beautician"},          Keyword{"mehendi", "beautician"},
    Keyword{"mehndi", "beautician"},
    Keyword{"computer_basics", "computer_basics"}, Keyword{"computer", "computer_basics"},
    Keyword{"computers", "computer_basics"},  Keyword{"data_entry", "computer_basics"},
    Keyword{"typing", "computer_basics"},     Keyword{"it", "computer_basics"},
    Keyword{"hospitality", "hospitality"},    Keyword{"hotel", "hospitality"},
    Keyword{"cooking", "hospitality"},        Keyword{"housekeeping", "hospitality"},
    Keyword{"catering", "hospitality"},
    Keyword{"retail", "retail"},              Keyword{"sales", "retail"},
    Keyword{"shop", "retail"},                Keyword{"shop_assistant", "retail"},
    Keyword{"bakery", "bakery"},              Keyword{"baking", "bakery"},
    Keyword{"cakes", "bakery"},               Keyword{"confectionery", "bakery"},
};
// clang-format on

// Rank in kEducationLevels of upper_primary (class 6 and above).
constexpr std::size_t kUpperPrimary = 2;

std::size_t schooling_required(std::string_view track) {
  return track == "computer_basics" || track == "retail" ? kUpperPrimary : 0;
}

// " Beauty-Parlour " -> "beauty_parlour": lower case (ASCII), trimmed, runs of spaces, hyphens
// and underscores as one `_`.
std::string normalise(std::string_view interest) {
  std::string out;
  bool gap = false;
  for (const char c : interest) {
    if (c == ' ' || c == '-' || c == '_' || c == '\t') {
      gap = !out.empty();
      continue;
    }
    if (gap) {
      out += '_';
      gap = false;
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::optional<std::string_view> track_of(std::string_view word) {
  for (const Keyword& keyword : kKeywords) {
    if (keyword.word == word) {
      return keyword.track;
    }
  }
  return std::nullopt;
}

}  // namespace

AssessInterestStep::AssessInterestStep(std::string_view config_json) {
  const boost::json::object config = parse_config(config_json, {"min_age"});
  min_age_ = config_integer(config, "min_age", 0, 25, 14);
}

Outcome AssessInterestStep::run(carepath::sdk::Call& /*call*/, std::string_view input_json) {
  std::optional<std::int64_t> age;
  std::optional<std::string> education_level;
  std::vector<std::string> interests;
  try {
    const boost::json::object data = parse_input_data(input_json);
    age = whole_number_field(data, "age");
    education_level = string_field(data, "education_level");
    interests = string_list_field(data, "interests");
  } catch (const BadInput& e) {
    return Outcome::failed(e.what());
  }

  std::size_t schooling = 0;
  if (education_level) {
    const std::optional<std::size_t> rank = education_rank(*education_level);
    if (!rank) {
      return Outcome::failed("case field 'education_level' is not one of: " +
                             joined(kEducationLevels));
    }
    schooling = *rank;
  }
  if (!age) {
    return Outcome::veto("case field 'age' is not set; the vocational assessment needs it");
  }
  if (*age < min_age_) {
    return Outcome::veto("the child is younger than the minimum age for vocational training (" +
                         std::to_string(min_age_) + ", the step's min_age)");
  }

  std::string_view track = "other";
  for (const std::string& interest : interests) {
    const std::optional<std::string_view> match = track_of(normalise(interest));
    if (match && schooling >= schooling_required(*match)) {
      track = *match;
      break;
    }
  }

  return Outcome::ok(boost::json::serialize(boost::json::object{
      {"vocational_track", track},
      {"vocational_assessed", true},
  }));
}

}  // namespace vocational
