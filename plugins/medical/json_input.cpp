#include "json_input.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace medical {
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
    if (std::find(known.begin(), known.end(), member.key()) == known.end()) {
      throw std::invalid_argument(
          "with: unknown key '" + std::string(member.key()) +
          "'; expected one of: " + joined(std::span(known.begin(), known.size())));
    }
  }
  return std::move(parsed.get_object());
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

}  // namespace medical
