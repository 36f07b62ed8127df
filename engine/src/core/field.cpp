#include "core/field.hpp"

#include <array>
#include <utility>

namespace carepath {
namespace {

constexpr std::array<std::pair<std::string_view, FieldType>, 9> kTypeNames{{
    {"string", FieldType::string},
    {"text", FieldType::text},
    {"integer", FieldType::integer},
    {"number", FieldType::number},
    {"boolean", FieldType::boolean},
    {"date", FieldType::date},
    {"datetime", FieldType::datetime},
    {"enum", FieldType::enumeration},
    {"list", FieldType::list},
}};

constexpr std::array<std::pair<std::string_view, Sensitivity>, 4> kSensitivityNames{{
    {"none", Sensitivity::none},
    {"identifying", Sensitivity::identifying},
    {"sensitive", Sensitivity::sensitive},
    {"privileged", Sensitivity::privileged},
}};

}  // namespace

std::string_view field_type_name(FieldType type) {
  for (const auto& [name, value] : kTypeNames) {
    if (value == type) {
      return name;
    }
  }
  return "string";
}

std::optional<FieldType> parse_field_type(std::string_view name) {
  for (const auto& [n, value] : kTypeNames) {
    if (n == name) {
      return value;
    }
  }
  return std::nullopt;
}

std::string_view sensitivity_name(Sensitivity s) {
  for (const auto& [name, value] : kSensitivityNames) {
    if (value == s) {
      return name;
    }
  }
  return "none";
}

std::optional<Sensitivity> parse_sensitivity(std::string_view name) {
  for (const auto& [n, value] : kSensitivityNames) {
    if (n == name) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace carepath
