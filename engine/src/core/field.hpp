// Case fields as a workflow declares them: type, limits, sensitivity and who may see or edit them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"

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

// What a retention rule counts from: the case's closing (entering a final state) or its opening.
enum class RetainAnchor { closed = 1, opened };

// `retain: "7y after closed"`: the field's value is removed from the case and its history once
// `keep` has passed since the anchor (runtime::Runtime::apply_retention, a daily job).
struct Retention {
  Duration keep{};
  RetainAnchor anchor = RetainAnchor::closed;
};

struct Field {
  std::string name{};
  FieldType type = FieldType::string;
  // integer/number: value range; string/text: length; list: number of items.
  std::optional<double> min{};
  std::optional<double> max{};
  std::vector<std::string> values{};  // enum only
  Sensitivity sensitivity = Sensitivity::none;
  // Who may see the value. Empty: every role of the workflow for a field of sensitivity `none`;
  // need-to-know for the others: the roles of `editable_by`, and no role when that is empty
  // too (see field_visible in core/fields.hpp).
  std::vector<std::string> visible_to{};
  std::vector<std::string> editable_by{};  // empty: every role of the workflow
  // The home the child is placed in (`placement: true`): supervisors see their homes' cases.
  bool placement = false;
  // Who holds the case (`assignment: true`, or the field named assigned_to): core.assign sets it.
  bool assignment = false;
  // Every case holds a value from the moment it is opened: opening without one, or unsetting
  // it, is refused; a migration to a version that adds it must give it a value.
  bool required = false;
  // When the value is removed again (see Retention); nullopt: kept as long as the case.
  std::optional<Retention> retain{};
};

// YAML/JSON spelling of a type ("enum" for enumeration) and back.
std::string_view field_type_name(FieldType type);
std::optional<FieldType> parse_field_type(std::string_view name);
std::string_view sensitivity_name(Sensitivity s);
std::optional<Sensitivity> parse_sensitivity(std::string_view name);

}  // namespace carepath
