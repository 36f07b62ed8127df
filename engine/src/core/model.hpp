// A compiled workflow: fields, states and the transition table, read top to bottom.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/duration.hpp"
#include "core/field.hpp"
#include "core/guard.hpp"
#include "core/outcome.hpp"
#include "core/step.hpp"

namespace carepath {

using StateId = std::uint32_t;
using EventId = std::uint32_t;

// Where a thing was written in its source file; 1-based, 0 when unknown.
struct SourcePos {
  int line = 0;
  int column = 0;
};

// How an asynchronous step is retried: up to max_attempts runs in all, waiting backoff_ms, then
// twice that, and so on (capped at an hour) between them.
struct RetryPolicy {
  int max_attempts = 3;
  std::int64_t backoff_ms = 30'000;
};

// One use of a step in a workflow (`on_enter`, `on_exit` or a transition's `steps`).
struct StepCall {
  std::string type{};                        // "medical.check"
  boost::json::object config{};              // the `with:` block, valid against the type's schema
  bool async = false;                        // run after commit, from the outbox
  RetryPolicy retry{};                       // async only
  std::optional<Guard> when{};               // skipped when false
  std::optional<std::string> on_complete{};  // event fired when a pending task completes
  std::vector<std::string> reads{};          // the type's declared fields (copied at load)
  std::shared_ptr<const StepInstance> instance{};  // made at load from `config`
  SourcePos pos{};
};

struct Transition {
  StateId from = 0;
  EventId on = 0;
  StateId to = 0;
  std::vector<std::string> roles{};  // empty: only the engine may fire it (deny by default)
  std::vector<std::string> required_fields{};  // YAML `requires`
  // YAML `requires_consent`: consents that must be valid when this row is taken (core/consent.hpp)
  std::vector<std::string> required_consents{};
  std::optional<Guard> when{};
  std::vector<StepCall> steps{};  // run when this row is taken, between on_exit and on_enter
  // YAML `counts_as`: what taking this row means for the statutory reports (a child restored,
  // run away, died, ...); docs/reports.md says which report counts which.
  std::optional<Outcome> counts_as{};
  SourcePos pos{};
};

// A timer of a state (`after:` and `every:` in YAML): it fires `event` as the engine while the
// case stays in the state, and is cancelled when the case leaves it.
struct Timer {
  enum class Kind {
    after,  // `in:` a duration after the state was entered
    at,     // `at:` the date or datetime in a case field (moves when the field changes)
    every,  // every `interval`, the first `first` after entering, until `until` holds
  };
  Kind kind = Kind::after;
  std::string name{};   // "<state>/after/<i>" or "<state>/every/<i>": stable within a version
  Duration delay{};     // after: `in`; every: `interval`
  Duration first{};     // every: the first occurrence after entering (default: `interval`)
  std::string field{};  // at: the case field
  std::string event{};
  std::optional<Guard> until{};         // every: stop repeating once this holds
  std::optional<std::string> met_by{};  // the event that records it done (schedule sheet)
  SourcePos pos{};
};

struct State {
  std::string name{};
  bool initial = false;
  bool final = false;
  // YAML `outcome` (final states only): how a case that ends here ended, for the reports.
  std::optional<Outcome> outcome{};
  std::vector<StepCall> on_enter{};
  std::vector<StepCall> on_exit{};
  std::vector<Timer> timers{};  // `after:` in source order, then `every:`
  SourcePos pos{};
};

// What starts or stops a statutory clock: an event taken, or a state entered.
struct ClockTrigger {
  enum class Kind { on_event, on_enter };
  Kind kind = Kind::on_event;
  std::string name{};  // the event or the state
};

// What the engine does when a clock warns or breaches: fire `event` (when the case's state has a
// row for it) and tell the `notify` roles.
struct ClockReaction {
  std::optional<std::string> event{};
  std::vector<std::string> notify{};
};

// A consent a transition may require (`consents:` in YAML), given by the child, a guardian or a
// CWC order and recorded on the case with the consent_given event.
struct ConsentDef {
  std::string name{};
  std::string title{};
  std::string description{};
  // Who may take a transition without it, with a reason (audited); `[supervisor]` by default.
  std::vector<std::string> override_by{};
  SourcePos pos{};
};

// A statutory clock (`clocks:` in YAML): a deadline counted from `starts` to `stops`.
struct ClockDef {
  std::string name{};
  std::string title{};
  std::vector<ClockTrigger> starts{};
  std::vector<ClockTrigger> stops{};
  Duration due{};
  // Intervals that do not count (journey time), each opened and closed by an event.
  std::vector<std::pair<std::string, std::string>> excludes{};
  std::optional<Duration> warn_before{};
  ClockReaction on_warning{};
  ClockReaction on_breach{};
  std::vector<std::string> extendable_by{};  // roles that may pause, resume and extend it
  SourcePos pos{};
};

// Built by the loader (fill the members, then call finalize()); immutable and shared afterwards.
//
// Thread-safety: after finalize(), every const member function may be called concurrently.
class Workflow {
 public:
  std::string name{};
  int version = 0;
  std::string title{};
  std::string source_file{};  // for messages only
  std::string sha256;         // of the source text, hex
  std::vector<std::string> roles{};
  std::vector<Field> fields{};
  std::vector<State> states{};
  std::vector<std::string> events{};  // interned event names; EventId indexes this
  // In source order; the rows of one (from, on) must be contiguous (a YAML state lists each event
  // once). finalize() groups them by state, keeping that order.
  std::vector<Transition> transitions{};
  std::vector<ClockDef> clocks{};  // in source order
  // `consents:` in source order. Without the key (consents_declared false) a transition may
  // require any consent name; with it, only these.
  std::vector<ConsentDef> consents{};
  bool consents_declared = false;

  // Builds the lookup indexes. Requires: states, events and transitions are consistent.
  void finalize();

  const Field* find_field(std::string_view field_name) const;
  std::optional<StateId> find_state(std::string_view state_name) const;
  std::optional<EventId> find_event(std::string_view event_name) const;
  bool has_role(std::string_view role) const;
  const ClockDef* find_clock(std::string_view clock_name) const;
  const ConsentDef* find_consent(std::string_view consent_name) const;
  // True when some timer or clock is declared: only then does a change need to look at time.
  bool has_time_rules() const { return has_time_rules_; }
  StateId initial_state() const { return initial_; }
  // The field marked `placement: true`, and the one that records who holds the case (marked
  // `assignment: true`, else a field named assigned_to); nullptr when there is none.
  const Field* placement_field() const { return field_at(placement_); }
  const Field* assignment_field() const { return field_at(assignment_); }

  // The rows for (state, event), in the order they are tried; empty when there is none. O(1).
  std::span<const Transition> rows(StateId state, EventId event) const;
  // Every row leaving `state`, grouped by event, in source order.
  std::span<const Transition> rows_from(StateId state) const;

 private:
  struct Range {
    std::size_t begin = 0;
    std::size_t end = 0;
  };
  struct NameHash {
    using is_transparent = void;  // NOLINT(readability-identifier-naming): std protocol
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using NameMap = std::unordered_map<std::string, V, NameHash, std::equal_to<>>;

  NameMap<std::size_t> field_index_;
  NameMap<StateId> state_index_;
  NameMap<EventId> event_index_;
  std::unordered_map<std::uint64_t, Range> table_{};
  std::vector<Range> from_state_{};
  StateId initial_ = 0;
  bool has_time_rules_ = false;
  // Indexes into `fields`, not pointers: a Workflow is copied after finalize().
  static constexpr std::size_t kNoField = static_cast<std::size_t>(-1);
  const Field* field_at(std::size_t i) const { return i < fields.size() ? &fields[i] : nullptr; }
  std::size_t placement_ = kNoField;
  std::size_t assignment_ = kNoField;
};

}  // namespace carepath
