#include "core/model.hpp"

#include <algorithm>
#include <cassert>

namespace carepath {
namespace {

std::uint64_t table_key(StateId state, EventId event) {
  return (static_cast<std::uint64_t>(state) << 32) | event;
}

}  // namespace

void Workflow::finalize() {
  field_index_.clear();
  state_index_.clear();
  event_index_.clear();
  table_.clear();
  placement_ = kNoField;
  assignment_ = kNoField;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    field_index_.emplace(fields[i].name, i);
    if (fields[i].placement && placement_ == kNoField) {
      placement_ = i;
    }
    if (fields[i].assignment && assignment_ == kNoField) {
      assignment_ = i;
    }
  }
  if (assignment_ == kNoField) {
    if (const auto it = field_index_.find(std::string_view("assigned_to"));
        it != field_index_.end()) {
      assignment_ = it->second;
    }
  }
  for (StateId i = 0; i < states.size(); ++i) {
    state_index_.emplace(states[i].name, i);
    if (states[i].initial) {
      initial_ = i;
    }
  }
  has_time_rules_ =
      !clocks.empty() ||
      std::any_of(states.begin(), states.end(), [](const State& s) { return !s.timers.empty(); });
  for (EventId i = 0; i < events.size(); ++i) {
    event_index_.emplace(events[i], i);
  }
  // Rows are grouped by state so that rows_from(s) is one contiguous range. The sort is stable and
  // looks only at the state: within a state, events keep the order the admin wrote them in, and
  // the rows of one event (already contiguous, see model.hpp) keep the order guards are tried in.
  std::stable_sort(transitions.begin(), transitions.end(),
                   [](const Transition& a, const Transition& b) { return a.from < b.from; });
  from_state_.assign(states.size(), Range{});
  for (std::size_t i = 0; i < transitions.size();) {
    const Transition& first = transitions[i];
    assert(first.from < states.size() && first.to < states.size() && first.on < events.size());
    std::size_t end = i;
    while (end < transitions.size() && transitions[end].from == first.from &&
           transitions[end].on == first.on) {
      ++end;
    }
    const bool inserted = table_.emplace(table_key(first.from, first.on), Range{i, end}).second;
    assert(inserted && "rows of one (state, event) must be contiguous");
    (void)inserted;
    Range& from = from_state_[first.from];
    if (from.begin == from.end) {
      from = Range{i, end};
    } else {
      from.end = end;
    }
    i = end;
  }
}

const Field* Workflow::find_field(std::string_view field_name) const {
  const auto it = field_index_.find(field_name);
  return it == field_index_.end() ? nullptr : &fields[it->second];
}

std::optional<StateId> Workflow::find_state(std::string_view state_name) const {
  const auto it = state_index_.find(state_name);
  if (it == state_index_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<EventId> Workflow::find_event(std::string_view event_name) const {
  const auto it = event_index_.find(event_name);
  if (it == event_index_.end()) {
    return std::nullopt;
  }
  return it->second;
}

bool Workflow::has_role(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

const ClockDef* Workflow::find_clock(std::string_view clock_name) const {
  const auto it = std::find_if(clocks.begin(), clocks.end(),
                               [&](const ClockDef& c) { return c.name == clock_name; });
  return it == clocks.end() ? nullptr : &*it;
}

const ConsentDef* Workflow::find_consent(std::string_view consent_name) const {
  const auto it = std::find_if(consents.begin(), consents.end(),
                               [&](const ConsentDef& c) { return c.name == consent_name; });
  return it == consents.end() ? nullptr : &*it;
}

std::span<const Transition> Workflow::rows(StateId state, EventId event) const {
  const auto it = table_.find(table_key(state, event));
  if (it == table_.end()) {
    return {};
  }
  return std::span<const Transition>(transitions)
      .subspan(it->second.begin, it->second.end - it->second.begin);
}

std::span<const Transition> Workflow::rows_from(StateId state) const {
  if (state >= from_state_.size()) {
    return {};
  }
  const Range r = from_state_[state];
  return std::span<const Transition>(transitions).subspan(r.begin, r.end - r.begin);
}

}  // namespace carepath
