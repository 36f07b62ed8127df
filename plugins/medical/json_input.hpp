// Reading the medical steps' JSON: the `with:` block (config) and the step input's `data`.
// Messages name config keys and case fields, never a case field's value: for this plugin those
// values are health information.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

namespace medical {

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

// The list at `key`: at least one item, each one of `allowed`, none twice; nullopt when the key
// is absent. Throws std::invalid_argument otherwise.
std::optional<std::vector<std::string>> config_enum_list(const boost::json::object& config,
                                                         std::string_view key,
                                                         std::span<const std::string_view> allowed);

// Parses a step input and returns its `data` object. Throws BadInput when the text is not a JSON
// object or has no `data` object.
boost::json::object parse_input_data(std::string_view input_json);

// The case field `field` as a list of strings; empty when unset. Throws BadInput when it is set
// to anything else.
std::vector<std::string> string_list_field(const boost::json::object& data, std::string_view field);

// The number of items in the list field `field`, whatever they are; 0 when unset. Throws BadInput
// when it is set to anything but a list.
std::size_t list_field_size(const boost::json::object& data, std::string_view field);

}  // namespace medical
