// Case fields as a workflow declares them: type, limits, sensitivity and who may see or edit them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carepath {

enum class FieldType {
  string = 1,
  text,
  integer,
  number,
  boolean,
  date,
  datetime,
  enumeration,
  list
};

// How much harm disclosure does. Anything above `none` is never written to logs or error bodies,
// and (from the identity issue on) is encrypted at rest.
enum class Sensitivity { none = 1, identifying, sensitive, privileged };

struct Field {
  std::string name{};
  FieldType type = FieldType::string;
  // integer/number: value range; string/text: length; list: number of items.
  std::optional<double> min{};
  std::optional<double> max{};
  std::vector<std::string> values{};  // enum only
  Sensitivity sensitivity = Sensitivity::none;
  std::vector<std::string> visible_to{};   // empty: every role of the workflow
  std::vector<std::string> editable_by{};  // empty: every role of the workflow
  // Every case holds a value from the moment it is opened: opening without one, or unsetting
  // it, is refused; a migration to a version that adds it must give it a value.
  bool required = false;
};

// YAML/JSON spelling of a type ("enum" for enumeration) and back.
std::string_view field_type_name(FieldType type);
std::optional<FieldType> parse_field_type(std::string_view name);
std::string_view sensitivity_name(Sensitivity s);
std::optional<Sensitivity> parse_sensitivity(std::string_view name);

}  // namespace carepath
