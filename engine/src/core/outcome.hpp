// The outcome vocabulary of workflows (docs/workflow-format.md, Outcomes): what a final state
// (`outcome:`) or a transition (`counts_as:`) means for the statutory reports (core/report.hpp).
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace carepath {

// What a case's end (a final state's `outcome:`) or a transition (`counts_as:`) means for the
// statutory reports. Figures with a legal meaning are counted from these words only, never
// guessed from the names of states or events.
enum class Outcome { restored = 1, transferred, aged_out, ran_away, repatriated, died, other };

inline constexpr std::array<Outcome, 7> kOutcomes{
    Outcome::restored,    Outcome::transferred, Outcome::aged_out, Outcome::ran_away,
    Outcome::repatriated, Outcome::died,        Outcome::other};

// "restored", "transferred", "aged_out", "ran_away", "repatriated", "died", "other".
std::string_view outcome_name(Outcome outcome);
std::optional<Outcome> parse_outcome(std::string_view name);

}  // namespace carepath
