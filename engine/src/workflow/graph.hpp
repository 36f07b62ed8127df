// Diagrams of a workflow: Mermaid (`stateDiagram-v2`, rendered by GitHub and mermaid.live) and
// Graphviz DOT, optionally with one case's position and path drawn on top.
//
// Both show every state (final states marked), every transition row labelled
// "event [roles] when guard" ("[engine]" for rows no role may fire), each state's timers, and the
// workflow's statutory clocks as a legend. Output follows source order and depends on nothing
// else, so the same workflow always gives the same bytes (golden-tested).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/model.hpp"
#include "core/store.hpp"

namespace carepath::workflow {

// Where one case is and how it got there.
struct GraphHighlight {
  struct Step {
    std::string from;
    std::string event;
    std::string to;
  };
  std::string current;               // the case's state: filled
  std::vector<std::string> visited;  // states the case has been in, first entry first
  std::vector<Step> path;            // transitions taken, oldest first; numbered (1), (2), ...
};

// The highlight for a case in `current` with `history` (oldest first, as Store::history pages
// it). Only entries that match a transition row of `workflow` become path steps, so "opened",
// "updated" and clock_* entries are left out; every entry's target state counts as visited.
GraphHighlight highlight_from_history(const Workflow& workflow, std::string current,
                                      std::span<const HistoryEntry> history);

// Mermaid `stateDiagram-v2`. Timers are `note right of` the state, clocks one `note left of` the
// initial state. With a highlight, the current state gets classDef `current`, the other visited
// states `visited`; Mermaid cannot style single transitions, so taken ones have their order
// prefixed to their label: "(1) produced_before_cwc [caseworker]". Text from the workflow is
// written with Mermaid's entity codes (#lt; #quot; ...) where its syntax or HTML would bite.
std::string to_mermaid(const Workflow& workflow, const GraphHighlight* highlight = nullptr);

// Graphviz `digraph`: final states have a double border, engine-only rows are dashed, timers are
// listed in their state's box, clocks in a "Statutory clocks" cluster. A state's loops (rows back
// to itself) are drawn as one loop with a line per row, since Graphviz stacks loop labels on top
// of one another; that loop is dashed when every row on it is the engine's. With a highlight the
// current state is filled, visited states tinted, and taken rows bold and blue with their order
// prefixed as in to_mermaid. Pipe it to `dot -Tsvg`.
std::string to_dot(const Workflow& workflow, const GraphHighlight* highlight = nullptr);

}  // namespace carepath::workflow
