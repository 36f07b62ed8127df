#include "core/fields.hpp"

#include <cmath>
#include <string>

#include "core/strings.hpp"
#include "core/time.hpp"

namespace carepath {
namespace {

bool is_integral(const boost::json::value& v) {
  if (v.is_int64() || v.is_uint64()) {
    return true;
  }
  // 3.0 is an integer to a person typing JSON; 3.5 is not.
  return v.is_double() && std::isfinite(v.get_double()) &&
         std::trunc(v.get_double()) == v.get_double();
}

std::string format_limit(double d) {
  if (std::trunc(d) == d && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<long long>(d));
  }
  return std::to_string(d);
}

// Checks a measure (value, length or count) against min/max; empty when it fits.
std::string check_range(const Field& field, double measure, std::string_view what) {
  if (field.min && measure < *field.min) {
    return std::string(what) + " must be at least " + format_limit(*field.min);
  }
  if (field.max && measure > *field.max) {
    return std::string(what) + " must be at most " + format_limit(*field.max);
  }
  return {};
}

double as_double(const boost::json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  return v.get_double();
}

// Length in characters (UTF-8 code points), not bytes: a limit an admin writes means letters.
std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++n;
    }
  }
  return n;
}

// Why `v` is not acceptable for `field`; empty when it is.
std::string check_value(const Field& field, const boost::json::value& v) {
  switch (field.type) {
    case FieldType::string:
    case FieldType::text:
      if (!v.is_string()) {
        return "must be a string";
      }
      return check_range(field, static_cast<double>(utf8_length(v.get_string())), "length");
    case FieldType::integer:
      if (!is_integral(v)) {
        return "must be an integer";
      }
      return check_range(field, as_double(v), "value");
    case FieldType::number:
      if (!v.is_number() || (v.is_double() && !std::isfinite(v.get_double()))) {
        return "must be a number";
      }
      return check_range(field, as_double(v), "value");
    case FieldType::boolean:
      return v.is_bool() ? std::string() : std::string("must be true or false");
    case FieldType::date:
      if (!v.is_string() || !parse_date(v.get_string())) {
        return "must be a date (YYYY-MM-DD)";
      }
      return {};
    case FieldType::datetime:
      if (!v.is_string() || !parse_datetime(v.get_string())) {
        return "must be an RFC 3339 date-time (2026-01-31T09:30:00+05:30)";
      }
      return {};
    case FieldType::enumeration: {
      if (v.is_string()) {
        for (const auto& allowed : field.values) {
          if (v.get_string() == allowed) {
            return {};
          }
        }
      }
      return "must be one of: " + join(field.values);
    }
    case FieldType::list: {
      if (!v.is_array()) {
        return "must be a list of strings";
      }
      for (const auto& item : v.get_array()) {
        if (!item.is_string()) {
          return "must be a list of strings";
        }
      }
      return check_range(field, static_cast<double>(v.get_array().size()), "number of items");
    }
  }
  return "has an unsupported type";
}

bool role_allowed(const std::vector<std::string>& allowed, const Actor& actor) {
  return allowed.empty() || actor.has_any_role(allowed);
}

}  // namespace

std::vector<FieldProblem> validate_payload(const Workflow& workflow,
                                           const boost::json::object& payload) {
  std::vector<FieldProblem> problems;
  for (const auto& [key, value] : payload) {
    const Field* field = workflow.find_field(key);
    if (field == nullptr) {
      problems.push_back({std::string(key), "unknown field"});
      continue;
    }
    if (value.is_null()) {
      if (field->required) {
        problems.push_back({std::string(key), "is required; it cannot be unset"});
      }
      continue;
    }
    if (auto reason = check_value(*field, value); !reason.empty()) {
      problems.push_back({std::string(key), std::move(reason)});
    }
  }
  return problems;
}

std::vector<FieldProblem> missing_required(const Workflow& workflow,
                                           const boost::json::object& data) {
  std::vector<FieldProblem> problems;
  for (const Field& field : workflow.fields) {
    const auto* value = data.if_contains(field.name);
    if (field.required && (value == nullptr || value->is_null())) {
      problems.push_back({field.name, "is required"});
    }
  }
  return problems;
}

std::vector<std::string> uneditable_fields(const Workflow& workflow, const Actor& actor,
                                           const boost::json::object& payload) {
  std::vector<std::string> names;
  for (const auto& [key, value] : payload) {
    const Field* field = workflow.find_field(key);
    if (field != nullptr && !role_allowed(field->editable_by, actor)) {
      names.emplace_back(key);
    }
  }
  return names;
}

bool field_visible(const Field& field, const Actor& actor) {
  if (!field.visible_to.empty() || field.sensitivity == Sensitivity::none) {
    return role_allowed(field.visible_to, actor);
  }
  // Need to know: a sensitive field nobody named readers for is read by those who write it.
  return !field.editable_by.empty() && actor.has_any_role(field.editable_by);
}

std::vector<std::string> visible_roles(const Field& field,
                                       const std::vector<std::string>& workflow_roles) {
  if (!field.visible_to.empty()) {
    return field.visible_to;
  }
  if (field.sensitivity == Sensitivity::none) {
    return workflow_roles;
  }
  return field.editable_by;
}

std::vector<std::string> merge_payload(boost::json::object& data,
                                       const boost::json::object& payload) {
  std::vector<std::string> changed;
  changed.reserve(payload.size());
  for (const auto& [key, value] : payload) {
    auto* existing = data.if_contains(key);
    if (value.is_null()) {
      if (existing != nullptr) {
        data.erase(key);
        changed.emplace_back(key);
      }
      continue;
    }
    if (existing != nullptr) {
      if (*existing == value) {
        continue;
      }
      *existing = value;  // found already: no second lookup
    } else {
      data.emplace(key, value);
    }
    changed.emplace_back(key);
  }
  return changed;
}

Error invalid_fields_error(const std::string& where, const std::vector<FieldProblem>& problems) {
  std::vector<std::string> names;
  names.reserve(problems.size());
  for (const auto& p : problems) {
    names.push_back(p.field);
  }
  return Error{Errc::unprocessable,
               where + ": invalid fields: " + join(names),
               {{"invalid_fields", to_json(problems)}},
               "invalid-fields"};
}

boost::json::array to_json(const std::vector<FieldProblem>& problems) {
  boost::json::array out;
  for (const auto& p : problems) {
    out.push_back(boost::json::object{{"field", p.field}, {"reason", p.reason}});
  }
  return out;
}

}  // namespace carepath
