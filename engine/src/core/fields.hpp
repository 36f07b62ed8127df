// Checking case data against a workflow's field declarations, and who may see or edit a field.
#pragma once

#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/actor.hpp"
#include "core/error.hpp"
#include "core/model.hpp"

namespace carepath {

// Why one field of a payload is not acceptable. Never holds the value.
struct FieldProblem {
  std::string field;
  std::string
      reason;  // "must be an integer", "must be one of: umang, umeed, udaan", "unknown field"
};

// Checks each member of `payload` against its declaration: known field, type, enum values,
// min/max, date formats. JSON null is accepted for any declared field and means "unset it".
std::vector<FieldProblem> validate_payload(const Workflow& workflow,
                                           const boost::json::object& payload);

// The `required` fields `data` holds no value for, in declaration order.
std::vector<FieldProblem> missing_required(const Workflow& workflow,
                                           const boost::json::object& data);

// Fields of `payload` the actor may not edit (editable_by), in payload order.
std::vector<std::string> uneditable_fields(const Workflow& workflow, const Actor& actor,
                                           const boost::json::object& payload);

// Whether `actor` may see the field's value: a role in visible_to; without visible_to, any role
// of the workflow for a field of sensitivity none, and for a sensitive one (need to know) a role
// in editable_by, or none when that is empty too.
bool field_visible(const Field& field, const Actor& actor);
// The roles field_visible lets see the field (for the workflow's description).
std::vector<std::string> visible_roles(const Field& field,
                                       const std::vector<std::string>& workflow_roles);

// Applies `payload` to `data` (null removes a field) and returns the names of the fields whose
// value changed, in payload order.
std::vector<std::string> merge_payload(boost::json::object& data,
                                       const boost::json::object& payload);

// The 422 answer (type invalid-fields, details.invalid_fields) for `problems`; `where` names the
// workflow, state, case or task the payload was for.
Error invalid_fields_error(const std::string& where, const std::vector<FieldProblem>& problems);

// [{"field": ..., "reason": ...}, ...] for problem+json details.
boost::json::array to_json(const std::vector<FieldProblem>& problems);

}  // namespace carepath
