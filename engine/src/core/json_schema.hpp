// A JSON Schema validator for the subset step configurations and the workflow format's own
// schema (docs/workflow.schema.json) need (draft-07 keywords):
//   type, enum, const, properties, required, additionalProperties, propertyNames, minProperties,
//   maxProperties, items, minItems, maxItems, uniqueItems, minimum, maximum, exclusiveMinimum,
//   exclusiveMaximum, minLength, maxLength, pattern (ECMAScript), anyOf, oneOf, allOf, not,
//   definitions, $ref (only "#" and "#/definitions/NAME": one self-contained document; nothing
//   but annotations beside it), and the annotations title, description, default, examples,
//   $schema, $id, $comment.
// A schema using any other keyword is refused when it is checked, so a plugin author learns at
// load time that the engine would not enforce it.
#pragma once

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.hpp"

namespace carepath {

struct SchemaProblem {
  std::string path;     // JSON Pointer into the instance: "" (the root), "/checks/0"
  std::string message;  // "unknown key 'provder'", "expected a string", "must be one of: ..."
};

// Checks that `schema` is a schema this validator fully understands.
// Errc::invalid_argument naming the offending keyword and its JSON Pointer in the schema.
Result<void> check_schema(const boost::json::value& schema);

// Validates `instance` against a schema that passed check_schema(); empty when valid. Problems
// are in document order. For an object schema with `additionalProperties: false`, an unknown
// member's problem says "unknown key 'name'" at that member's path.
std::vector<SchemaProblem> validate_schema(const boost::json::value& schema,
                                           const boost::json::value& instance);

}  // namespace carepath
