#include "workflow/diff.hpp"

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>

#include "core/duration.hpp"
#include "core/field.hpp"
#include "core/outcome.hpp"

namespace carepath::workflow {
namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += out.empty() ? "" : ", ";
    out += item;
  }
  return out;
}

std::string list_text(const std::vector<std::string>& items) {
  return items.empty() ? "(none)" : "[" + join(items) + "]";
}

// Items of `b` not in `a`, in `b`'s order.
std::vector<std::string> missing_from(const std::vector<std::string>& a,
                                      const std::vector<std::string>& b) {
  std::vector<std::string> out;
  for (const auto& item : b) {
    if (std::find(a.begin(), a.end(), item) == a.end()) {
      out.push_back(item);
    }
  }
  return out;
}

void compare(std::vector<std::string>& details, std::string_view what, const std::string& before,
             const std::string& after) {
  if (before != after) {
    details.push_back(std::string(what) + " " + before + " -> " + after);
  }
}

std::string flag(bool b) {
  return b ? "true" : "false";
}

std::string number(const std::optional<double>& v) {
  if (!v) {
    return "(none)";
  }
  std::string text = std::to_string(*v);
  // std::to_string gives six decimals; people wrote 18, not 18.000000.
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') {
    text.pop_back();
  }
  return text;
}

std::string guard_text(const std::optional<Guard>& g) {
  return g ? g->text() : "(none)";
}

// An `outcome:` or `counts_as:` word, "(none)" when the key is not set.
std::string outcome_text(const std::optional<Outcome>& o) {
  return o ? std::string(outcome_name(*o)) : "(none)";
}

// ---------------------------------------------------------------------------------------------
// States and their timers

std::string timer_kind(Timer::Kind k) {
  switch (k) {
    case Timer::Kind::after:
      return "after";
    case Timer::Kind::at:
      return "at";
    case Timer::Kind::every:
      return "every";
  }
  return {};
}

std::vector<std::string> timer_changes(const Timer& a, const Timer& b) {
  std::vector<std::string> d;
  compare(d, "kind", timer_kind(a.kind), timer_kind(b.kind));
  compare(d, "delay", format_duration(a.delay), format_duration(b.delay));
  compare(d, "first", format_duration(a.first), format_duration(b.first));
  compare(d, "field", a.field.empty() ? "(none)" : a.field, b.field.empty() ? "(none)" : b.field);
  compare(d, "event", a.event, b.event);
  compare(d, "until", guard_text(a.until), guard_text(b.until));
  return d;
}

const Timer* find_timer(const State& s, const std::string& name) {
  for (const auto& t : s.timers) {
    if (t.name == name) {
      return &t;
    }
  }
  return nullptr;
}

std::vector<std::string> state_changes(const State& a, const State& b) {
  std::vector<std::string> d;
  compare(d, "initial", flag(a.initial), flag(b.initial));
  compare(d, "final", flag(a.final), flag(b.final));
  compare(d, "outcome", outcome_text(a.outcome), outcome_text(b.outcome));
  for (const auto& t : a.timers) {
    const Timer* other = find_timer(b, t.name);
    if (other == nullptr) {
      d.push_back("timer " + t.name + " removed (" + t.event + ")");
      continue;
    }
    for (const auto& c : timer_changes(t, *other)) {
      d.push_back("timer " + t.name + ": " + c);
    }
  }
  for (const auto& t : b.timers) {
    if (find_timer(a, t.name) == nullptr) {
      d.push_back("timer " + t.name + " added (" + t.event + ")");
    }
  }
  return d;
}

const State* find_state(const Workflow& w, std::string_view name) {
  const auto id = w.find_state(name);
  return id ? &w.states[*id] : nullptr;
}

void diff_states(const Workflow& old_w, const Workflow& new_w, WorkflowDiff& out) {
  for (const auto& s : old_w.states) {
    const State* other = find_state(new_w, s.name);
    if (other == nullptr) {
      out.states.push_back({ChangeKind::removed, s.name});
      out.strands.push_back(
          {Strand::Reason::state_removed, s.name, "removed; cases in it would have nowhere to be"});
      continue;
    }
    if (auto d = state_changes(s, *other); !d.empty()) {
      out.states.push_back({ChangeKind::changed, s.name, std::nullopt, std::move(d)});
    }
    const auto old_id = *old_w.find_state(s.name);
    const auto new_id = *new_w.find_state(s.name);
    if (!old_w.rows_from(old_id).empty() && new_w.rows_from(new_id).empty() && !other->final) {
      out.strands.push_back({Strand::Reason::no_way_out, s.name,
                             "no transitions leave it any more and it is not final: cases in "
                             "it could never move on"});
    }
  }
  for (const auto& s : new_w.states) {
    if (find_state(old_w, s.name) == nullptr) {
      out.states.push_back({ChangeKind::added, s.name});
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Transitions, keyed by (from, event, row index)

using RowKey = std::tuple<std::string, std::string, std::size_t>;

// Every row of `w` by key, and the keys in source order.
std::pair<std::map<RowKey, const Transition*>, std::vector<RowKey>> index_rows(const Workflow& w) {
  std::map<RowKey, const Transition*> rows;
  std::vector<RowKey> order;
  std::map<std::pair<StateId, EventId>, std::size_t> seen;
  for (const auto& row : w.transitions) {
    const std::size_t index = seen[{row.from, row.on}]++;
    RowKey key{w.states[row.from].name, w.events[row.on], index};
    rows.emplace(key, &row);
    order.push_back(std::move(key));
  }
  return {std::move(rows), std::move(order)};
}

std::vector<std::string> step_types(const Transition& t) {
  std::vector<std::string> out;
  out.reserve(t.steps.size());
  for (const auto& s : t.steps) {
    out.push_back(s.type);
  }
  return out;
}

Change transition_change(ChangeKind kind, const RowKey& key, const std::string& to) {
  const auto& [from, event, row] = key;
  std::string name = from + " --" + event + "--> " + to;
  if (row > 0) {
    name += " (row " + std::to_string(row + 1) + ")";
  }
  return {kind, std::move(name), TransitionKey{from, event, row, to}};
}

void diff_transitions(const Workflow& old_w, const Workflow& new_w, WorkflowDiff& out) {
  const auto [old_rows, old_order] = index_rows(old_w);
  const auto [new_rows, new_order] = index_rows(new_w);
  for (const auto& key : old_order) {
    const Transition& a = *old_rows.at(key);
    const auto it = new_rows.find(key);
    if (it == new_rows.end()) {
      out.transitions.push_back(
          transition_change(ChangeKind::removed, key, old_w.states[a.to].name));
      continue;
    }
    const Transition& b = *it->second;
    std::vector<std::string> d;
    compare(d, "to", old_w.states[a.to].name, new_w.states[b.to].name);
    compare(d, "roles", list_text(a.roles), list_text(b.roles));
    compare(d, "requires", list_text(a.required_fields), list_text(b.required_fields));
    compare(d, "requires_consent", list_text(a.required_consents), list_text(b.required_consents));
    compare(d, "when", guard_text(a.when), guard_text(b.when));
    compare(d, "steps", list_text(step_types(a)), list_text(step_types(b)));
    compare(d, "counts_as", outcome_text(a.counts_as), outcome_text(b.counts_as));
    if (!d.empty()) {
      auto change = transition_change(ChangeKind::changed, key, old_w.states[a.to].name);
      change.transition->to = new_w.states[b.to].name;
      change.details = std::move(d);
      out.transitions.push_back(std::move(change));
    }
  }
  for (const auto& key : new_order) {
    if (!old_rows.contains(key)) {
      out.transitions.push_back(
          transition_change(ChangeKind::added, key, new_w.states[new_rows.at(key)->to].name));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fields

// The first row of `w` that requires `field`, as "from --event--> to"; empty when none does.
std::string first_requirer(const Workflow& w, const std::string& field) {
  for (const auto& row : w.transitions) {
    const auto& req = row.required_fields;
    if (std::find(req.begin(), req.end(), field) != req.end()) {
      return w.states[row.from].name + " --" + w.events[row.on] + "--> " + w.states[row.to].name;
    }
  }
  return {};
}

void diff_fields(const Workflow& old_w, const Workflow& new_w, WorkflowDiff& out) {
  for (const auto& a : old_w.fields) {
    const Field* b = new_w.find_field(a.name);
    if (b == nullptr) {
      out.fields.push_back({ChangeKind::removed, a.name});
      continue;
    }
    std::vector<std::string> d;
    const std::string old_type(field_type_name(a.type));
    const std::string new_type(field_type_name(b->type));
    compare(d, "type", old_type, new_type);
    if (a.type != b->type) {
      out.strands.push_back({Strand::Reason::field_type_changed, a.name,
                             "type " + old_type + " -> " + new_type +
                                 ": values stored in running cases may not be valid any more"});
    }
    if (const auto added = missing_from(a.values, b->values); !added.empty()) {
      d.push_back("enum values added: " + join(added));
    }
    if (const auto removed = missing_from(b->values, a.values); !removed.empty()) {
      d.push_back("enum values removed: " + join(removed));
      if (a.type == b->type) {
        out.strands.push_back({Strand::Reason::enum_values_removed, a.name,
                               "enum values removed (" + join(removed) +
                                   "): cases holding them would hold values no longer allowed"});
      }
    }
    compare(d, "min", number(a.min), number(b->min));
    compare(d, "max", number(a.max), number(b->max));
    compare(d, "sensitivity", std::string(sensitivity_name(a.sensitivity)),
            std::string(sensitivity_name(b->sensitivity)));
    compare(d, "visible_to", list_text(a.visible_to), list_text(b->visible_to));
    compare(d, "editable_by", list_text(a.editable_by), list_text(b->editable_by));
    if (first_requirer(old_w, a.name).empty()) {
      if (const auto by = first_requirer(new_w, a.name); !by.empty()) {
        d.push_back("now required by " + by);
      }
    }
    if (!d.empty()) {
      out.fields.push_back({ChangeKind::changed, a.name, std::nullopt, std::move(d)});
    }
  }
  for (const auto& b : new_w.fields) {
    if (old_w.find_field(b.name) == nullptr) {
      out.fields.push_back({ChangeKind::added, b.name});
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Statutory clocks

std::string triggers(const std::vector<ClockTrigger>& list) {
  std::vector<std::string> parts;
  parts.reserve(list.size());
  for (const auto& t : list) {
    parts.push_back(t.kind == ClockTrigger::Kind::on_enter ? "entering " + t.name : t.name);
  }
  return list_text(parts);
}

std::string excludes(const std::vector<std::pair<std::string, std::string>>& list) {
  std::vector<std::string> parts;
  parts.reserve(list.size());
  for (const auto& [open, close] : list) {
    parts.push_back(open + " to " + close);
  }
  return list_text(parts);
}

void diff_clocks(const Workflow& old_w, const Workflow& new_w, WorkflowDiff& out) {
  for (const auto& a : old_w.clocks) {
    const ClockDef* b = new_w.find_clock(a.name);
    if (b == nullptr) {
      out.clocks.push_back({ChangeKind::removed, a.name});
      continue;
    }
    std::vector<std::string> d;
    compare(d, "due", format_duration(a.due), format_duration(b->due));
    compare(d, "starts", triggers(a.starts), triggers(b->starts));
    compare(d, "stops", triggers(a.stops), triggers(b->stops));
    compare(d, "excludes", excludes(a.excludes), excludes(b->excludes));
    compare(d, "warn_before", a.warn_before ? format_duration(*a.warn_before) : "(none)",
            b->warn_before ? format_duration(*b->warn_before) : "(none)");
    if (!d.empty()) {
      out.clocks.push_back({ChangeKind::changed, a.name, std::nullopt, std::move(d)});
    }
  }
  for (const auto& b : new_w.clocks) {
    if (old_w.find_clock(b.name) == nullptr) {
      out.clocks.push_back({ChangeKind::added, b.name});
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

char sign(ChangeKind k) {
  switch (k) {
    case ChangeKind::added:
      return '+';
    case ChangeKind::removed:
      return '-';
    case ChangeKind::changed:
      return '~';
  }
  return '?';
}

std::string_view kind_name(ChangeKind k) {
  switch (k) {
    case ChangeKind::added:
      return "added";
    case ChangeKind::removed:
      return "removed";
    case ChangeKind::changed:
      return "changed";
  }
  return {};
}

std::string_view reason_name(Strand::Reason r) {
  switch (r) {
    case Strand::Reason::state_removed:
      return "state_removed";
    case Strand::Reason::no_way_out:
      return "no_way_out";
    case Strand::Reason::field_type_changed:
      return "field_type_changed";
    case Strand::Reason::enum_values_removed:
      return "enum_values_removed";
  }
  return {};
}

bool is_state_reason(Strand::Reason r) {
  return r == Strand::Reason::state_removed || r == Strand::Reason::no_way_out;
}

void text_lines(std::string& out, std::string_view subject, const std::vector<Change>& changes) {
  for (const auto& c : changes) {
    if (c.details.empty()) {
      out += std::string(1, sign(c.kind)) + " " + std::string(subject) + " " + c.name + "\n";
      continue;
    }
    // One line per detail keeps each line greppable on its own.
    for (const auto& d : c.details) {
      out += std::string(1, sign(c.kind)) + " " + std::string(subject) + " " + c.name + ": " + d +
             "\n";
    }
  }
}

boost::json::array json_changes(const std::vector<Change>& changes) {
  boost::json::array out;
  for (const auto& c : changes) {
    boost::json::object o;
    o["change"] = kind_name(c.kind);
    o["name"] = c.name;
    if (c.transition) {
      o["from"] = c.transition->from;
      o["event"] = c.transition->event;
      o["row"] = c.transition->row;
      o["to"] = c.transition->to;
    }
    boost::json::array details;
    for (const auto& d : c.details) {
      details.emplace_back(d);
    }
    o["details"] = std::move(details);
    out.emplace_back(std::move(o));
  }
  return out;
}

}  // namespace

WorkflowDiff diff_workflows(const Workflow& old_w, const Workflow& new_w) {
  WorkflowDiff out;
  out.workflow = old_w.name;
  out.old_version = old_w.version;
  out.new_version = new_w.version;
  diff_states(old_w, new_w, out);
  diff_transitions(old_w, new_w, out);
  diff_fields(old_w, new_w, out);
  diff_clocks(old_w, new_w, out);
  return out;
}

std::string diff_to_text(const WorkflowDiff& diff) {
  if (!diff.has_changes()) {
    return "no changes\n";
  }
  std::string out;
  text_lines(out, "state", diff.states);
  text_lines(out, "transition", diff.transitions);
  text_lines(out, "field", diff.fields);
  text_lines(out, "clock", diff.clocks);
  if (!diff.strands.empty()) {
    out += "\nWould strand running cases:\n";
    for (const auto& s : diff.strands) {
      out += "  " + std::string(is_state_reason(s.reason) ? "state " : "field ") + s.name + ": " +
             s.why + "\n";
    }
  }
  return out;
}

boost::json::object diff_to_json(const WorkflowDiff& diff) {
  boost::json::object out;
  out["workflow"] = diff.workflow;
  out["old_version"] = diff.old_version;
  out["new_version"] = diff.new_version;
  out["changed"] = diff.has_changes();
  out["states"] = json_changes(diff.states);
  out["transitions"] = json_changes(diff.transitions);
  out["fields"] = json_changes(diff.fields);
  out["clocks"] = json_changes(diff.clocks);
  boost::json::array strands;
  for (const auto& s : diff.strands) {
    strands.emplace_back(
        boost::json::object{{"reason", reason_name(s.reason)}, {"name", s.name}, {"why", s.why}});
  }
  out["strands"] = std::move(strands);
  return out;
}

}  // namespace carepath::workflow
