#include "workflow/graph.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/duration.hpp"

namespace carepath::workflow {
namespace {

// ---------------------------------------------------------------------------------------------
// What both formats say, as plain text

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    out += out.empty() ? "" : std::string(separator);
    out += item;
  }
  return out;
}

// "produced_before_cwc [caseworker] when age < 18"; "[engine]" when no role may fire the row.
std::string edge_label(const Workflow& workflow, const Transition& row) {
  std::string label = workflow.events[row.on];
  label += " [" + (row.roles.empty() ? std::string("engine") : join(row.roles, ", ")) + "]";
  if (row.when) {
    label += " when " + row.when->text();
  }
  return label;
}

// "after 1mo: follow_up_visit_due", "on review_date: review_due",
// "every 6mo from 18mo: visit_due until years_since(date_of_birth) >= 21".
std::string timer_line(const Timer& timer) {
  switch (timer.kind) {
    case Timer::Kind::after:
      return "after " + format_duration(timer.delay) + ": " + timer.event;
    case Timer::Kind::at:
      return "on " + timer.field + ": " + timer.event;
    case Timer::Kind::every: {
      std::string line = "every " + format_duration(timer.delay);
      if (timer.first != timer.delay) {
        line += " from " + format_duration(timer.first);
      }
      line += ": " + timer.event;
      if (timer.until) {
        line += " until " + timer.until->text();
      }
      return line;
    }
  }
  return {};
}

std::string triggers(const std::vector<ClockTrigger>& list) {
  std::vector<std::string> parts;
  parts.reserve(list.size());
  for (const auto& t : list) {
    parts.push_back(t.kind == ClockTrigger::Kind::on_enter ? "entering " + t.name : t.name);
  }
  return join(parts, " or ");
}

// Two lines per clock: "name - title" and "due 24h from entering intake to produced_before_cwc,
// excluding journey_started to journey_ended".
std::array<std::string, 2> clock_lines(const ClockDef& clock) {
  std::string head = clock.name;
  if (!clock.title.empty()) {
    head += " - " + clock.title;
  }
  std::string rule = "due " + format_duration(clock.due) + " from " + triggers(clock.starts) +
                     " to " + triggers(clock.stops);
  if (!clock.excludes.empty()) {
    std::vector<std::string> spans;
    spans.reserve(clock.excludes.size());
    for (const auto& [open, close] : clock.excludes) {
      spans.push_back(open);
      spans.back() += " to ";
      spans.back() += close;
    }
    rule += ", excluding " + join(spans, " and ");
  }
  return {head, rule};
}

// For each transition row, the positions (1-based) at which the highlighted case took it.
std::vector<std::vector<std::size_t>> taken_rows(const Workflow& workflow,
                                                 const GraphHighlight* highlight) {
  std::vector<std::vector<std::size_t>> taken(workflow.transitions.size());
  if (highlight == nullptr) {
    return taken;
  }
  for (std::size_t i = 0; i < highlight->path.size(); ++i) {
    const auto& step = highlight->path[i];
    for (std::size_t r = 0; r < workflow.transitions.size(); ++r) {
      const auto& row = workflow.transitions[r];
      if (workflow.states[row.from].name == step.from && workflow.events[row.on] == step.event &&
          workflow.states[row.to].name == step.to) {
        taken[r].push_back(i + 1);
        break;
      }
    }
  }
  return taken;
}

// "(1) ", "(2, 5) ", or "" for a row not taken.
std::string order_prefix(const std::vector<std::size_t>& positions) {
  if (positions.empty()) {
    return {};
  }
  std::string out = "(";
  for (std::size_t i = 0; i < positions.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(positions[i]);
  }
  return out + ") ";
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  for (const auto& x : list) {
    if (x == item) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Mermaid

// Text from the workflow inside a label or note. Mermaid replaces "#name;" and "#123;" with
// HTML entities before it parses, so every character that its state-diagram lexer or the HTML
// of the label would take as syntax becomes one: ':' and ';' end a transition label, '%%' starts
// a comment, '#' would start an entity, and '<', '>', '&' and '"' are HTML. Line breaks become
// spaces (a label is one line).
std::string mermaid_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '#':
        out += "#35;";
        break;
      case '%':
        out += "#37;";
        break;
      case ':':
        out += "#58;";
        break;
      case ';':
        out += "#59;";
        break;
      case '<':
        out += "#lt;";
        break;
      case '>':
        out += "#gt;";
        break;
      case '&':
        out += "#amp;";
        break;
      case '"':
        out += "#quot;";
        break;
      case '\n':
      case '\r':
      case '\t':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A timer or clock line: our own "head: rest" colon stays readable, the workflow's text is
// escaped. Splits at the first ": " this file wrote.
std::string mermaid_line(const std::string& line) {
  const auto colon = line.find(": ");
  if (colon == std::string::npos) {
    return mermaid_text(line);
  }
  return mermaid_text(line.substr(0, colon)) + ": " + mermaid_text(line.substr(colon + 2));
}

// State names are lower_snake_case, which Mermaid takes as ids, except where a name starts like
// one of its keywords (its lexer matches "default" even as a prefix, and "note", "state", ...
// before a space). Those are written as an alias "S_<name>": upper case, so no state has it.
bool needs_alias(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kKeywords{
      "note", "state", "class", "classdef", "scale", "hide", "direction", "end", "style"};
  if (name.starts_with("default") || name.starts_with("statediagram")) {
    return true;
  }
  for (const auto k : kKeywords) {
    if (name == k) {
      return true;
    }
  }
  return false;
}

std::string mermaid_id(std::string_view name) {
  return needs_alias(name) ? "S_" + std::string(name) : std::string(name);
}

// ---------------------------------------------------------------------------------------------
// DOT

// Text inside a double-quoted DOT string: '"' and '\' escaped (a backslash would otherwise start
// one of Graphviz's label escapes such as \N or \l), line breaks as spaces.
std::string dot_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
      case '\r':
      case '\t':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string dot_id(std::string_view name) {
  return "\"" + dot_text(name) + "\"";
}

constexpr std::string_view kCurrentFill = "#ffd54f";
constexpr std::string_view kVisitedFill = "#e3f2fd";
constexpr std::string_view kPathColor = "#1565c0";

}  // namespace

GraphHighlight highlight_from_history(const Workflow& workflow, std::string current,
                                      std::span<const HistoryEntry> history) {
  GraphHighlight out;
  out.current = std::move(current);
  for (const auto& entry : history) {
    if (!contains(out.visited, entry.to)) {
      out.visited.push_back(entry.to);
    }
    if (!entry.from) {
      continue;
    }
    const auto from = workflow.find_state(*entry.from);
    const auto event = workflow.find_event(entry.event);
    if (!from || !event) {
      continue;
    }
    for (const auto& row : workflow.rows(*from, *event)) {
      if (workflow.states[row.to].name == entry.to) {
        out.path.push_back({*entry.from, entry.event, entry.to});
        break;
      }
    }
  }
  return out;
}

std::string to_mermaid(const Workflow& workflow, const GraphHighlight* highlight) {
  const auto taken = taken_rows(workflow, highlight);
  std::string out;
  std::string title = workflow.title.empty() ? workflow.name : workflow.title;
  for (char& c : title) {
    c = c == '"' ? '\'' : c == '\\' ? '/' : c;
  }
  out += "---\ntitle: \"" + title + " (" + workflow.name + " v" + std::to_string(workflow.version) +
         ")\"\n---\n";
  out += "stateDiagram-v2\n";
  for (const auto& state : workflow.states) {
    if (needs_alias(state.name)) {
      out += "  state \"" + state.name + "\" as " + mermaid_id(state.name) + "\n";
    }
  }
  const State& initial = workflow.states[workflow.initial_state()];
  out += "  [*] --> " + mermaid_id(initial.name) + "\n";
  for (std::size_t r = 0; r < workflow.transitions.size(); ++r) {
    const auto& row = workflow.transitions[r];
    out += "  " + mermaid_id(workflow.states[row.from].name) + " --> " +
           mermaid_id(workflow.states[row.to].name) + " : " + order_prefix(taken[r]) +
           mermaid_text(edge_label(workflow, row)) + "\n";
  }
  for (const auto& state : workflow.states) {
    if (state.final) {
      out += "  " + mermaid_id(state.name) + " --> [*]\n";
    }
  }
  for (const auto& state : workflow.states) {
    if (state.timers.empty()) {
      continue;
    }
    out += "  note right of " + mermaid_id(state.name) + "\n";
    for (const auto& timer : state.timers) {
      out += "    " + mermaid_line(timer_line(timer)) + "\n";
    }
    out += "  end note\n";
  }
  if (!workflow.clocks.empty()) {
    out += "  note left of " + mermaid_id(initial.name) + "\n    Statutory clocks\n";
    for (const auto& clock : workflow.clocks) {
      const auto lines = clock_lines(clock);
      out += "    " + mermaid_text(lines[0]) + "\n    " + mermaid_text(lines[1]) + "\n";
    }
    out += "  end note\n";
  }
  if (highlight != nullptr) {
    out += "  classDef current fill:" + std::string(kCurrentFill) +
           ",stroke:#e65100,stroke-width:3px,font-weight:bold\n";
    out += "  classDef visited fill:" + std::string(kVisitedFill) +
           ",stroke:" + std::string(kPathColor) + "\n";
    // Source order, so the output does not depend on the order of the history.
    for (const auto& state : workflow.states) {
      if (state.name == highlight->current) {
        out += "  class " + mermaid_id(state.name) + " current\n";
      } else if (contains(highlight->visited, state.name)) {
        out += "  class " + mermaid_id(state.name) + " visited\n";
      }
    }
  }
  return out;
}

std::string to_dot(const Workflow& workflow, const GraphHighlight* highlight) {
  const auto taken = taken_rows(workflow, highlight);
  const std::string title = (workflow.title.empty() ? workflow.name : workflow.title) + " (" +
                            workflow.name + " v" + std::to_string(workflow.version) + ")";
  std::string out = "digraph " + dot_id(workflow.name) + " {\n";
  out += "  graph [label=\"" + dot_text(title) +
         "\", labelloc=t, fontname=\"Helvetica\", fontsize=14];\n";
  out += "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=11];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  // "[*]" and "[clocks]" cannot be state names (those are lower_snake_case).
  out += "  \"[*]\" [shape=point, width=0.2, label=\"\"];\n";

  for (const auto& state : workflow.states) {
    std::string label = dot_text(state.name);
    if (!state.timers.empty()) {
      label += "\\n";
      for (const auto& timer : state.timers) {
        label += dot_text(timer_line(timer)) + "\\l";
      }
    }
    out += "  " + dot_id(state.name) + " [label=\"" + label + "\"";
    if (state.final) {
      out += ", peripheries=2";
    }
    if (highlight != nullptr && state.name == highlight->current) {
      out += R"(, style="rounded,filled,bold", fillcolor=")" + std::string(kCurrentFill) + "\"";
    } else if (highlight != nullptr && contains(highlight->visited, state.name)) {
      out += R"(, style="rounded,filled", fillcolor=")" + std::string(kVisitedFill) + "\"";
    }
    out += "];\n";
  }

  out += "  \"[*]\" -> " + dot_id(workflow.states[workflow.initial_state()].name) + ";\n";
  // Graphviz draws several loops on one state with their labels on top of one another, so a
  // state's loops are one edge with a label line per row, written where its first row is.
  std::vector<bool> looped(workflow.states.size(), false);
  for (std::size_t r = 0; r < workflow.transitions.size(); ++r) {
    const auto& row = workflow.transitions[r];
    if (row.from == row.to && looped[row.from]) {
      continue;
    }
    std::vector<std::size_t> rows{r};
    if (row.from == row.to) {
      looped[row.from] = true;
      for (std::size_t other = r + 1; other < workflow.transitions.size(); ++other) {
        const auto& o = workflow.transitions[other];
        if (o.from == row.from && o.to == row.to) {
          rows.push_back(other);
        }
      }
    }
    std::string label;
    bool engine_only = true;
    bool was_taken = false;
    for (const auto i : rows) {
      const auto& line = workflow.transitions[i];
      label += order_prefix(taken[i]) + dot_text(edge_label(workflow, line));
      label += rows.size() > 1 ? "\\l" : "";
      engine_only = engine_only && line.roles.empty();
      was_taken = was_taken || !taken[i].empty();
    }
    out += "  " + dot_id(workflow.states[row.from].name) + " -> " +
           dot_id(workflow.states[row.to].name) + " [label=\"" + label + "\"";
    if (engine_only) {
      out += ", style=dashed";
    }
    if (was_taken) {
      out += ", color=\"" + std::string(kPathColor) + "\", fontcolor=\"" + std::string(kPathColor) +
             "\", penwidth=2.5";
    }
    out += "];\n";
  }

  if (!workflow.clocks.empty()) {
    out += "  subgraph \"cluster_clocks\" {\n";
    out += "    label=\"Statutory clocks\"; style=dashed; fontsize=11;\n";
    std::string legend;
    for (const auto& clock : workflow.clocks) {
      const auto lines = clock_lines(clock);
      legend += dot_text(lines[0]) + "\\l    " + dot_text(lines[1]) + "\\l";
    }
    out += R"(    "[clocks]" [shape=note, style="", fontsize=9, label=")" + legend + "\"];\n";
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

}  // namespace carepath::workflow
