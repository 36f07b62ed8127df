// What changed between two versions of a workflow, and which running cases a change would strand.
//
// `carepath diff OLD.yaml NEW.yaml` prints it (issue #6). States, fields and clocks are matched by
// name, transitions by (from, event, row index), timers by their stable name. Output follows
// source order (removed and changed items in OLD's order, then added ones in NEW's), so the same
// pair of workflows always gives the same text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/model.hpp"

namespace carepath::workflow {

enum class ChangeKind { added = 1, removed, changed };

// A transition row as diff matches it: the `row`th row (0-based) for `event` in state `from`.
struct TransitionKey {
  std::string from;
  std::string event;
  std::size_t row = 0;
  std::string to;  // NEW's target when the row exists in NEW, else OLD's
};

// One state, transition, field or clock that was added, removed or changed.
struct Change {
  ChangeKind kind = ChangeKind::changed;
  // The state, field or clock; for a transition "from --event--> to" with OLD's target when the
  // row exists in OLD.
  std::string name;
  std::optional<TransitionKey> transition{};  // transitions only
  // What changed, one item each, for people: "type string -> integer", "final false -> true",
  // "enum values removed: high". Empty for added and removed items.
  std::vector<std::string> details{};
};

// Why cases already running on OLD could get stuck on NEW.
struct Strand {
  enum class Reason {
    state_removed = 1,    // cases in it would have nowhere to be
    no_way_out,           // kept, not final, had transitions and has none now
    field_type_changed,   // stored values may not be of the new type
    enum_values_removed,  // stored values may no longer be allowed
  };
  Reason reason = Reason::state_removed;
  std::string name;  // the state or field
  std::string why;   // a sentence for people
};

struct WorkflowDiff {
  std::string workflow;  // OLD's name
  int old_version = 0;
  int new_version = 0;
  std::vector<Change> states{};
  std::vector<Change> transitions{};
  std::vector<Change> fields{};
  std::vector<Change> clocks{};
  std::vector<Strand> strands{};

  bool has_changes() const {
    return !states.empty() || !transitions.empty() || !fields.empty() || !clocks.empty();
  }
};

// Compares two finalized workflows. Pure: reads both, touches nothing else. The names are not
// compared (the caller decides whether comparing two different workflows makes sense).
WorkflowDiff diff_workflows(const Workflow& old_w, const Workflow& new_w);

// For people, one line per item: "+ state x", "- transition a --e--> b",
// "~ field f: type string -> integer", then a "Would strand running cases:" section when
// something strands; "no changes\n" when nothing changed.
std::string diff_to_text(const WorkflowDiff& diff);

// For tools: {"workflow", "old_version", "new_version", "changed", "states", "transitions",
// "fields", "clocks", "strands"}; each change is {"change": "added"|"removed"|"changed", "name",
// "details": [...]} (transitions also "from", "event", "row", "to"), each strand
// {"reason": "state_removed"|"no_way_out"|"field_type_changed"|"enum_values_removed", "name",
// "why"}.
boost::json::object diff_to_json(const WorkflowDiff& diff);

}  // namespace carepath::workflow
