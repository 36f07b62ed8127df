// Vocational tracks and schooling levels, spelt as workflows declare them (enum values).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vocational {

// The courses our training partners run; "other" when none fits and the caseworker decides.
inline constexpr std::array<std::string_view, 7> kTracks = {
    "tailoring", "beautician", "computer_basics", "hospitality", "retail", "bakery", "other"};

// Schooling reached, lowest first: primary is classes 1-5, upper_primary 6-8, secondary 9-10,
// higher_secondary 11-12. A level's index is its rank.
inline constexpr std::array<std::string_view, 6> kEducationLevels = {
    "none", "primary", "upper_primary", "secondary", "higher_secondary", "graduate"};

inline bool is_track(std::string_view word) {
  return std::find(kTracks.begin(), kTracks.end(), word) != kTracks.end();
}

// The rank of a schooling level in kEducationLevels; nullopt for an unknown word.
inline std::optional<std::size_t> education_rank(std::string_view level) {
  const auto* found = std::find(kEducationLevels.begin(), kEducationLevels.end(), level);
  if (found == kEducationLevels.end()) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(found - kEducationLevels.begin());
}

// "a, b, c", for messages.
template <std::size_t N>
std::string joined(const std::array<std::string_view, N>& words) {
  std::string out;
  for (const std::string_view word : words) {
    out += out.empty() ? "" : ", ";
    out += word;
  }
  return out;
}

}  // namespace vocational
