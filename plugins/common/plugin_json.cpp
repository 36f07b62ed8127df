#include "plugin_json.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace plugin_json {
namespace {

std::string joined(std::span<const std::string_view> words) {
  std::string out;
  for (const std::string_view word : words) {
    out += out.empty() ? "" : ", ";
    out += word;
  }
  return out;
}

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A JSON number that is a whole number in range, whatever its JSON spelling (3, 3.0).
std::optional<std::int64_t> as_whole_number(const boost::json::value& value) {
  if (value.is_int64()) {
    return value.get_int64();
  }
  if (value.is_uint64()) {
    if (value.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(value.get_uint64());
  }
  if (value.is_double()) {
    const double number = value.get_double();
    // 2^63 is exactly representable; anything at or above it does not fit.
    if (!std::isfinite(number) || std::trunc(number) != number || number < -9.2233720368547758e18 ||
        number >= 9.2233720368547758e18) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(number);
  }
  return std::nullopt;
}

}  // namespace

boost::json::object parse_config(std::string_view config_json,
                                 std::initializer_list<std::string_view> known) {
  // The host sends "{}" for a step without a `with:` block; accept an empty text as the same.
  if (is_blank(config_json)) {
    return {};
  }
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(config_json, ec);
  if (ec) {
    throw std::invalid_argument("with: not valid JSON");
  }
  if (parsed.is_null()) {
    return {};
  }
  if (!parsed.is_object()) {
    throw std::invalid_argument("with: must be a JSON object");
  }
  for (const auto& member : parsed.get_object()) {
    bool is_known = false;
    for (const std::string_view key : known) {
      is_known = is_known || member.key() == key;
    }
    if (!is_known) {
      throw std::invalid_argument(
          "with: unknown key '" + std::string(member.key()) +
          "'; expected one of: " + joined(std::span(known.begin(), known.size())));
    }
  }
  return std::move(parsed.get_object());
}

std::string config_enum(const boost::json::object& config, std::string_view key,
                        std::initializer_list<std::string_view> allowed,
                        std::optional<std::string_view> fallback) {
  const boost::json::value* value = config.if_contains(key);
  if (value == nullptr) {
    if (!fallback) {
      throw std::invalid_argument("with: missing required key '" + std::string(key) + "'");
    }
    return std::string(*fallback);
  }
  if (value->is_string()) {
    for (const std::string_view word : allowed) {
      if (value->get_string() == word) {
        return std::string(word);
      }
    }
  }
  throw std::invalid_argument("with." + std::string(key) + ": must be one of: " +
                              joined(std::span(allowed.begin(), allowed.size())));
}

std::optional<std::vector<std::string>> config_enum_list(
    const boost::json::object& config, std::string_view key,
    std::span<const std::string_view> allowed) {
  const boost::json::value* value = config.if_contains(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  const std::string problem =
      "with." + std::string(key) +
      ": must be a non-empty list of distinct values, each one of: " + joined(allowed);
  if (!value->is_array() || value->get_array().empty()) {
    throw std::invalid_argument(problem);
  }
  std::vector<std::string> items;
  for (const boost::json::value& item : value->get_array()) {
    if (!item.is_string()) {
      throw std::invalid_argument(problem);
    }
    const std::string_view word = item.get_string().subview();
    if (std::find(allowed.begin(), allowed.end(), word) == allowed.end() ||
        std::find(items.begin(), items.end(), word) != items.end()) {
      throw std::invalid_argument(problem);
    }
    items.emplace_back(word);
  }
  return items;
}

std::int64_t config_integer(const boost::json::object& config, std::string_view key,
                            std::int64_t min, std::int64_t max, std::int64_t fallback) {
  const boost::json::value* value = config.if_contains(key);
  if (value == nullptr) {
    return fallback;
  }
  const std::optional<std::int64_t> number = as_whole_number(*value);
  if (!number || *number < min || *number > max) {
    throw std::invalid_argument("with." + std::string(key) + ": must be a whole number from " +
                                std::to_string(min) + " to " + std::to_string(max));
  }
  return *number;
}

std::optional<std::string> config_string(const boost::json::object& config, std::string_view key,
                                         std::size_t max_length) {
  const boost::json::value* value = config.if_contains(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string() || value->get_string().empty() ||
      value->get_string().size() > max_length) {
    throw std::invalid_argument("with." + std::string(key) + ": must be a string of 1 to " +
                                std::to_string(max_length) + " characters");
  }
  return std::string(value->get_string());
}

boost::json::object parse_input_data(std::string_view input_json) {
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(input_json, ec);
  if (ec || !parsed.is_object()) {
    throw BadInput("step input is not a JSON object");
  }
  boost::json::value* data = parsed.get_object().if_contains("data");
  if (data == nullptr || !data->is_object()) {
    throw BadInput("step input has no 'data' object");
  }
  return std::move(data->get_object());
}

std::optional<std::int64_t> whole_number_field(const boost::json::object& data,
                                               std::string_view field) {
  const boost::json::value* value = data.if_contains(field);
  if (value == nullptr || value->is_null()) {
    return std::nullopt;
  }
  const std::optional<std::int64_t> number = as_whole_number(*value);
  if (!number) {
    throw BadInput("case field '" + std::string(field) + "' is not a whole number");
  }
  return number;
}

std::optional<std::string> string_field(const boost::json::object& data, std::string_view field) {
  const boost::json::value* value = data.if_contains(field);
  if (value == nullptr || value->is_null()) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    throw BadInput("case field '" + std::string(field) + "' is not a string");
  }
  return std::string(value->get_string());
}

std::vector<std::string> string_list_field(const boost::json::object& data,
                                           std::string_view field) {
  const boost::json::value* value = data.if_contains(field);
  if (value == nullptr || value->is_null()) {
    return {};
  }
  const std::string problem = "case field '" + std::string(field) + "' is not a list of strings";
  if (!value->is_array()) {
    throw BadInput(problem);
  }
  std::vector<std::string> items;
  items.reserve(value->get_array().size());
  for (const boost::json::value& item : value->get_array()) {
    if (!item.is_string()) {
      throw BadInput(problem);
    }
    items.emplace_back(item.get_string());
  }
  return items;
}

std::size_t list_field_size(const boost::json::object& data, std::string_view field) {
  const boost::json::value* value = data.if_contains(field);
  if (value == nullptr || value->is_null()) {
    return 0;
  }
  if (!value->is_array()) {
    throw BadInput("case field '" + std::string(field) + "' is not a list");
  }
  return value->get_array().size();
}

}  // namespace plugin_json
