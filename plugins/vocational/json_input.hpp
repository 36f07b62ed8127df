// Reading the vocational steps' JSON: the `with:` block (config) and the step input's `data`.
// Messages name config keys and case fields, never a case field's value.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

namespace vocational {

// The step input cannot be used (not JSON, a field of the wrong type). what() is for people and
// names the field, never its value; run() turns it into Outcome::failed().
class BadInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a `with:` block. Throws std::invalid_argument when it is not a JSON object or has a key
// outside `known`.
boost::json::object parse_config(std::string_view config_json,
                                 std::initializer_list<std::string_view> known);

// The whole number at `key` within [min, max]; `fallback` when the key is absent.
std::int64_t config_integer(const boost::json::object& config, std::string_view key,
                            std::int64_t min, std::int64_t max, std::int64_t fallback);

// Parses a step input and returns its `data` object. Throws BadInput when the text is not a JSON
// object or has no `data` object.
boost::json::object parse_input_data(std::string_view input_json);

// The case field `field` as a whole number; nullopt when unset. Throws BadInput when it is set to
// anything else (a fraction, a string).
std::optional<std::int64_t> whole_number_field(const boost::json::object& data,
                                               std::string_view field);

// The case field `field` as a string; nullopt when unset. Throws BadInput when it is not a string.
std::optional<std::string> string_field(const boost::json::object& data, std::string_view field);

// The case field `field` as a list of strings; empty when unset. Throws BadInput when it is set
// to anything else.
std::vector<std::string> string_list_field(const boost::json::object& data, std::string_view field);

}  // namespace vocational
