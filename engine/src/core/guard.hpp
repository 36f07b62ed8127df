// `when` guards: a small CEL-like expression language, compiled once when a workflow loads.
//
//   literals    42  3.5  "text"  'text'  true  false  ["a", "b"]
//   names       declared case fields
//   operators   !  &&  ||  ==  !=  <  <=  >  >=  in   ( )
//   functions   has(field)  size(x)  days_since(date_field)  years_since(date_field)
//
// Compilation type-checks every name and operator against the declared fields. Evaluation never
// fails: a guard that reads an unset field is false, and the outcome names that field.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "core/field.hpp"

namespace carepath {

namespace guard_detail {
struct Node;
}

// What a guard reads while it is evaluated.
struct GuardContext {
  const boost::json::object& data;  // the case data (would-be data during a transition)
  std::int64_t today;  // days since 1970-01-01 in the organisation's zone, for days_since()
};

struct GuardOutcome {
  bool value = false;
  std::string unset_field;  // the first unset field the guard needed; empty when none
};

// Resolves a field name to its declaration; nullptr when no such field is declared.
using FieldLookup = std::function<const Field*(std::string_view name)>;

// A compiled guard. Cheap to copy (shares the immutable tree); safe to evaluate from many
// threads at once.
class Guard {
 public:
  // Parses and type-checks `text`. On failure the Error (code invalid_argument) has a message
  // without position ("expected ')' after arguments of size") and details["offset"], the 0-based
  // byte offset in `text` where the problem starts, so a loader can point at file:line:col.
  static Result<Guard> compile(std::string_view text, const FieldLookup& lookup);

  GuardOutcome evaluate(const GuardContext& context) const;

  const std::string& text() const { return text_; }
  // Names of the fields the guard reads, in first-use order, without repeats.
  const std::vector<std::string>& fields() const { return fields_; }

 private:
  std::string text_;
  std::vector<std::string> fields_;
  std::shared_ptr<const guard_detail::Node> root_;
};

}  // namespace carepath
