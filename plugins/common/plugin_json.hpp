// Reading a first-party plugin step's JSON: the `with:` block (config) and the step input's
// `data`. Shared by legal_aid, medical and vocational (each links cp_plugin_json). Messages name
// config keys and case fields, never a case field's value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

namespace plugin_json {

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

// The string at `key`, which must be one of `allowed`; `fallback` when the key is absent.
// Throws std::invalid_argument otherwise (absent with no fallback: "is required").
std::string config_enum(const boost::json::object& config, std::string_view key,
                        std::initializer_list<std::string_view> allowed,
                        std::optional<std::string_view> fallback = std::nullopt);

// The list at `key`: at least one item, each one of `allowed`, none twice; nullopt when the key
// is absent. Throws std::invalid_argument otherwise.
std::optional<std::vector<std::string>> config_enum_list(const boost::json::object& config,
                                                         std::string_view key,
                                                         std::span<const std::string_view> allowed);

// The whole number at `key` within [min, max]; `fallback` when the key is absent.
std::int64_t config_integer(const boost::json::object& config, std::string_view key,
                            std::int64_t min, std::int64_t max, std::int64_t fallback);

// The string at `key`, of 1..max_length characters (bytes); nullopt when the key is absent.
std::optional<std::string> config_string(const boost::json::object& config, std::string_view key,
                                         std::size_t max_length);

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

// The number of items in the list field `field`, whatever they are; 0 when unset. Throws BadInput
// when it is set to anything but a list.
std::size_t list_field_size(const boost::json::object& data, std::string_view field);

}  // namespace plugin_json
