// What the workflow loader knows about reading YAML, shared with the other files admins write
// (migration plans): positions as editors count them, typo suggestions, YAML values as JSON.
// Inside the workflow library only: it exposes yaml-cpp types.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>
#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/model.hpp"

namespace carepath::workflow::detail {

// The 1-based line and character (not byte) column of `mark` in `text`.
SourcePos position_in(std::string_view text, const YAML::Mark& mark);

// "expected one of: a, b, c; did you mean 'b'?" for a word that is not among `candidates`.
std::string expected_one_of(std::string_view word, std::span<const std::string> candidates);

// "a map", "a list", "a single value" or "nothing".
std::string_view kind_name(const YAML::Node& node);

// A YAML node as JSON: plain scalars under the YAML 1.2 core schema (null, booleans, integers,
// floats), quoted and block scalars as strings, an empty value as null. Errc::invalid_argument
// for a key that is not a single value or a number JSON cannot hold.
Result<boost::json::value> node_as_json(const YAML::Node& node);

}  // namespace carepath::workflow::detail
