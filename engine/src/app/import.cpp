#include "app/import.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/fields.hpp"
#include "core/replay.hpp"
#include "core/schedule.hpp"
#include "core/strings.hpp"
#include "security/random.hpp"

namespace carepath::app {
namespace {

using boost::json::object;
using boost::json::value;

constexpr std::array<std::string_view, 8> kCaseMembers{
    "workflow", "workflow_version", "code", "state", "data", "created_at", "updated_at", "history"};
constexpr std::array<std::string_view, 8> kEntryMembers{"at", "actor",   "event",   "from",
                                                        "to", "changed", "payload", "comment"};
// Events the engine records itself (consents, clock adjustments, migrations, erasure,
// retention): their entries carry what only the engine knows, so they are not imported.
constexpr std::array<std::string_view, 8> kEngineEvents{
    "consent_given", "consent_withdrawn", "clock_extended",    "clock_paused",
    "clock_resumed", "migrated",          "retention_applied", "erased"};
constexpr std::size_t kMaxCodeLength = 32;

Error bad(std::string message) {
  return make_error(Errc::invalid_argument, std::move(message));
}

template <std::size_t N>
std::string listed(const std::array<std::string_view, N>& names) {
  std::string out;
  for (const auto n : names) {
    out += (out.empty() ? "" : ", ") + std::string(n);
  }
  return out;
}

template <std::size_t N>
Result<void> known_members(const object& o, const std::array<std::string_view, N>& names,
                           const std::string& where) {
  for (const auto& member : o) {
    if (std::find(names.begin(), names.end(), std::string_view(member.key())) == names.end()) {
      return bad(where + "unknown member '" + std::string(member.key()) + "'; expected " +
                 listed(names));
    }
  }
  return {};
}

// A member that must be a non-empty string when present.
Result<std::optional<std::string>> text_member(const object& o, std::string_view name,
                                               const std::string& where, bool required) {
  const auto* v = o.if_contains(name);
  if (v == nullptr || (v->is_null() && !required)) {
    if (required) {
      return bad(where + "'" + std::string(name) + "' is missing");
    }
    return std::optional<std::string>{};
  }
  if (!v->is_string() || v->get_string().empty()) {
    return bad(where + "'" + std::string(name) + "' must be a non-empty string");
  }
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::optional<Timestamp>> time_member(const object& o, std::string_view name,
                                             const std::string& where, bool required) {
  auto text = text_member(o, name, where, required);
  if (!text) {
    return text.error();
  }
  if (!*text) {
    return std::optional<Timestamp>{};
  }
  const auto at = parse_datetime(**text);
  if (!at) {
    return bad(where + "'" + std::string(name) +
               "' must be an RFC 3339 date-time such as 2025-01-31T09:30:00Z");
  }
  return std::optional<Timestamp>(*at);
}

std::string problems_text(const std::vector<FieldProblem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    out += (out.empty() ? "" : "; ") + std::string("field '") + p.field + "' " + p.reason;
  }
  return out;
}

bool valid_code(const std::string& code) {
  if (code.empty() || code.size() > kMaxCodeLength) {
    return false;
  }
  return std::all_of(code.begin(), code.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::string state_names(const Workflow& workflow) {
  std::vector<std::string> names;
  for (const auto& s : workflow.states) {
    names.push_back(s.name);
  }
  return join(names);
}

// The events that leave `state` (in source order, once each).
std::string events_from(const Workflow& workflow, StateId state) {
  std::vector<std::string> names;
  for (const auto& row : workflow.rows_from(state)) {
    const auto& name = workflow.events[row.on];
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  return names.empty() ? "none" : join(names);
}

// The case's timers and clocks, as the engine's time rules would have left them after each
// entry: cancelled timers are dropped, the rest stay pending (a deadline already past falls due
// once the server runs, as after a downtime).
struct TimeReplay {
  std::vector<TimerRecord> timers;
  std::vector<ClockRecord> clocks;

  void apply(CaseEffects& effects) {
    for (const auto& cancel : effects.timer_cancels) {
      std::erase_if(timers, [&](const TimerRecord& t) {
        return t.kind == cancel.kind && (!cancel.name || t.name == *cancel.name);
      });
    }
    for (auto& t : effects.timers) {
      timers.push_back(std::move(t));
    }
    for (auto& c : effects.clocks) {
      const auto it = std::find_if(clocks.begin(), clocks.end(),
                                   [&](const ClockRecord& k) { return k.name == c.name; });
      if (it == clocks.end()) {
        clocks.push_back(std::move(c));
      } else {
        *it = std::move(c);
      }
    }
  }
};

}  // namespace

Result<ImportedCase> parse_import_line(std::string_view line, const ImportContext& context) {
  // The parsed line lives only while it is checked and copied: a buffer on the stack, and
  // blocks from the heap only for long lines.
  std::array<unsigned char, 32768> buffer;  // NOLINT(cppcoreguidelines-pro-type-member-init)
  boost::json::monotonic_resource resource(buffer.data(), buffer.size());
  boost::system::error_code ec;
  const value parsed = boost::json::parse(line, ec, &resource);
  if (ec) {
    return bad("not valid JSON (" + ec.message() + "); expected one JSON object per line");
  }
  if (!parsed.is_object()) {
    return bad("expected a JSON object (one case per line)");
  }
  const object& o = parsed.get_object();
  if (auto known = known_members(o, kCaseMembers, ""); !known) {
    return known.error();
  }
  auto name = text_member(o, "workflow", "", true);
  if (!name) {
    return name.error();
  }
  const auto* version_value = o.if_contains("workflow_version");
  if (version_value == nullptr) {
    return bad("'workflow_version' is missing");
  }
  if (!version_value->is_int64() || version_value->get_int64() < 1 ||
      version_value->get_int64() > 1'000'000) {
    return bad("'workflow_version' must be a positive integer");
  }
  const int version = static_cast<int>(version_value->get_int64());
  const auto workflow = context.find(**name, version);
  if (!workflow) {
    return bad("workflow '" + **name + "' version " + std::to_string(version) +
               " is not loaded (the workflows directory and the database hold no such version)");
  }
  const Workflow& wf = *workflow;
  auto code = text_member(o, "code", "", false);
  if (!code) {
    return code.error();
  }
  if (*code && !valid_code(**code)) {
    return bad(
        "'code' must be 1 to 32 letters, digits, '-' or '_' (a pseudonymous case code, "
        "never a name)");
  }
  auto state = text_member(o, "state", "", true);
  if (!state) {
    return state.error();
  }
  if (!wf.find_state(**state)) {
    return bad("'state': workflow '" + wf.name + "' has no state '" + **state +
               "'; expected one of " + state_names(wf));
  }
  const object* given_data = nullptr;
  if (const auto* d = o.if_contains("data"); d != nullptr) {
    if (!d->is_object()) {
      return bad("'data' must be a JSON object of field values");
    }
    given_data = &d->get_object();
    if (auto problems = validate_payload(wf, *given_data); !problems.empty()) {
      return bad("'data': " + problems_text(problems));
    }
  }
  auto created_at = time_member(o, "created_at", "", false);
  if (!created_at) {
    return created_at.error();
  }
  auto updated_at = time_member(o, "updated_at", "", false);
  if (!updated_at) {
    return updated_at.error();
  }
  const auto* history_value = o.if_contains("history");
  if (history_value == nullptr || !history_value->is_array() ||
      history_value->get_array().empty()) {
    return bad(
        "'history' must be a non-empty array of entries, oldest first, the first one "
        "\"opened\"");
  }
  const auto& history = history_value->get_array();

  ImportedCase out;
  CaseRecord& r = out.record;
  r.id = security::new_case_id();
  r.code = *code ? **code : "CP-" + security::random_base32(4) + "-" + security::random_base32(4);
  r.workflow = wf.name;
  r.workflow_version = wf.version;
  out.history.reserve(history.size());
  TimeReplay time;
  std::string current;
  for (std::size_t i = 0; i < history.size(); ++i) {
    const std::string where = "history[" + std::to_string(i) + "]: ";
    if (!history[i].is_object()) {
      return bad(where + "expected a JSON object");
    }
    const object& e = history[i].get_object();
    if (auto known = known_members(e, kEntryMembers, where); !known) {
      return known.error();
    }
    HistoryEntry entry;
    entry.seq = static_cast<std::int64_t>(i + 1);
    entry.version = entry.seq;
    auto at = time_member(e, "at", where, true);
    if (!at) {
      return at.error();
    }
    entry.at = **at;
    if (entry.at > context.now) {
      return bad(where + "'at' is in the future");
    }
    if (i > 0 && entry.at < out.history.back().at) {
      return bad(where + "'at' is earlier than the entry before it; entries go oldest first");
    }
    auto actor = text_member(e, "actor", where, true);
    if (!actor) {
      return actor.error();
    }
    entry.actor = **actor;
    auto event = text_member(e, "event", where, true);
    if (!event) {
      return event.error();
    }
    entry.event = **event;
    auto from = text_member(e, "from", where, false);
    auto to = text_member(e, "to", where, false);
    auto comment = text_member(e, "comment", where, false);
    for (const auto* checked : {&from, &to, &comment}) {
      if (!*checked) {
        return checked->error();
      }
    }
    entry.comment = *comment;
    if (const auto* p = e.if_contains("payload"); p != nullptr && !p->is_null()) {
      if (!p->is_object()) {
        return bad(where + "'payload' must be a JSON object of field values");
      }
      entry.payload = p->get_object();
    }
    if (auto problems = validate_payload(wf, entry.payload); !problems.empty()) {
      return bad(where + "'payload': " + problems_text(problems));
    }

    if (i == 0) {
      const std::string& initial = wf.states[wf.initial_state()].name;
      if (entry.event != "opened") {
        return bad(where + "the first entry must be the event \"opened\", not '" + entry.event +
                   "'");
      }
      if (*from) {
        return bad(where + "an \"opened\" entry has no 'from'");
      }
      if (*to && **to != initial) {
        return bad(where + "a case opens in the initial state '" + initial + "', not '" + **to +
                   "'");
      }
      entry.to = initial;
    } else {
      if (*from && **from != current) {
        return bad(where + "'from' is '" + **from +
                   "' but the entries before it leave the case in '" + current + "'");
      }
      entry.from = current;
      const StateId here = *wf.find_state(current);
      if (entry.event == "opened") {
        return bad(where + "only the first entry may be \"opened\"");
      }
      if (std::find(kEngineEvents.begin(), kEngineEvents.end(), entry.event) !=
          kEngineEvents.end()) {
        return bad(where + "the event '" + entry.event +
                   "' is recorded by the engine itself and cannot be imported; expected "
                   "\"updated\" or an event of workflow '" +
                   wf.name + "'");
      }
      if (entry.event == "updated") {
        if (wf.states[here].final) {
          return bad(where + "the case is in final state '" + current +
                     "', whose record can no longer be edited");
        }
        if (*to && **to != current) {
          return bad(where + "an \"updated\" entry stays in '" + current + "', not '" + **to + "'");
        }
        entry.to = current;
      } else {
        const auto event_id = wf.find_event(entry.event);
        const auto rows = event_id ? wf.rows(here, *event_id) : std::span<const Transition>();
        if (rows.empty()) {
          return bad(where + "state '" + current + "' of workflow '" + wf.name +
                     "' has no transition on event '" + entry.event +
                     "'; expected \"updated\" or " + events_from(wf, here));
        }
        std::vector<std::string> targets;
        for (const auto& row : rows) {
          const auto& target = wf.states[row.to].name;
          if (std::find(targets.begin(), targets.end(), target) == targets.end()) {
            targets.push_back(target);
          }
        }
        if (!*to) {
          if (targets.size() != 1) {
            return bad(where + "'to' is missing; event '" + entry.event + "' from '" + current +
                       "' goes to " + join(targets, " or "));
          }
          entry.to = targets.front();
        } else if (std::find(targets.begin(), targets.end(), **to) == targets.end()) {
          return bad(where + "event '" + entry.event + "' from '" + current + "' goes to " +
                     join(targets, " or ") + ", not '" + **to + "'");
        }
        if (*to) {
          entry.to = **to;
        }
      }
    }

    entry.changed = merge_payload(r.data, entry.payload);
    if (const auto* c = e.if_contains("changed"); c != nullptr && !c->is_null()) {
      if (!c->is_array()) {
        return bad(where + "'changed' must be an array of field names");
      }
      std::set<std::string> named;
      for (const auto& item : c->get_array()) {
        if (!item.is_string()) {
          return bad(where + "'changed' must be an array of field names");
        }
        named.emplace(item.get_string());
      }
      const std::set<std::string> computed(entry.changed.begin(), entry.changed.end());
      if (named != computed) {
        return bad(where + "'changed' names [" +
                   join(std::vector<std::string>(named.begin(), named.end())) +
                   "] but the payload changes [" + join(entry.changed) +
                   "]; leave 'changed' out and it is computed");
      }
    }
    if (auto missing = missing_required(wf, r.data); !missing.empty()) {
      return bad(where +
                 "after this entry the case lacks required fields: " + problems_text(missing));
    }
    // closed_at: when the case entered a final state (runtime.cpp, prepare_transition).
    if (const auto s = wf.find_state(entry.to); s && wf.states[*s].final) {
      if (entry.to != current || !r.closed_at) {
        r.closed_at = entry.at;
      }
    } else {
      r.closed_at.reset();
    }
    if (wf.has_time_rules()) {
      CaseEffects effects;
      const bool named_event = entry.event != "opened" && entry.event != "updated";
      const TimeChange change{r.id,
                              named_event ? std::optional<std::string>(entry.event) : std::nullopt,
                              i == 0 || entry.to != current,
                              entry.to,
                              &r.data,
                              entry.changed,
                              entry.at};
      plan_time(wf, change, time.clocks, context.zone, effects);
      time.apply(effects);
    }
    current = entry.to;
    out.history.push_back(std::move(entry));
  }

  if (**state != current) {
    return bad("'state' is '" + **state + "' but the history ends in '" + current + "'");
  }
  if (given_data != nullptr) {
    std::vector<std::string> differ;
    for (const auto& member : *given_data) {
      const auto* built = r.data.if_contains(member.key());
      if (member.value().is_null() ? built != nullptr
                                   : built == nullptr || *built != member.value()) {
        differ.emplace_back(member.key());
      }
    }
    for (const auto& member : r.data) {
      if (!given_data->contains(member.key())) {
        differ.emplace_back(member.key());
      }
    }
    if (!differ.empty()) {
      return bad("'data' differs from what the history builds in fields: " + join(differ) +
                 "; the history must set every value (leave 'data' out and it is built)");
    }
  }
  r.state = current;
  r.version = static_cast<std::int64_t>(out.history.size());
  r.created_at = out.history.front().at;
  r.updated_at = out.history.back().at;
  if (*created_at && **created_at != r.created_at) {
    return bad("'created_at' is not the time of the \"opened\" entry");
  }
  if (*updated_at && **updated_at != r.updated_at) {
    return bad("'updated_at' is not the time of the last entry");
  }
  r.assignee = out.history.front().actor;  // until assigned (core/access.hpp, stamp_scope)
  // What `carepath verify` will check, checked the same way before anything is written.
  if (auto differences = compare(replay(out.history), r); !differences.empty()) {
    return bad("the history does not rebuild the case: " + join(differences));
  }
  out.effects.timers = std::move(time.timers);
  out.effects.clocks = std::move(time.clocks);
  return out;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

}  // namespace

Result<ImportReport> import_file(Store& store, const ImportContext& context,
                                 const std::string& path, const ImportOptions& options) {
  ImportReport report;
  report.dry_run = options.dry_run;
  std::error_code size_ec;
  const auto bytes = static_cast<std::int64_t>(std::filesystem::file_size(path, size_ec));
  std::ifstream file(path, std::ios::binary);
  if (!file || size_ec) {
    return make_error(Errc::not_found, "cannot read '" + path + "'");
  }
  const auto note = [&](std::size_t line, const std::string& message) {
    ++report.error_count;
    if (report.errors.size() < options.max_errors) {
      report.errors.push_back(path + ":" + std::to_string(line) + ": " + message);
    }
  };

  // Pass 1: every line checked; only the codes are kept (with their line, for messages).
  const auto check_start = std::chrono::steady_clock::now();
  std::unordered_map<std::string, std::size_t> codes;
  std::vector<std::string> pending_codes;
  const auto look_up = [&]() -> Result<void> {
    auto existing = store.existing_codes(pending_codes);
    if (!existing) {
      return existing.error();
    }
    for (const auto& code : *existing) {
      note(codes[code], "case code '" + code + "' is already in the database");
    }
    pending_codes.clear();
    return {};
  };
  std::string line;
  std::size_t number = 0;
  std::int64_t read = 0;
  while (std::getline(file, line)) {
    ++number;
    read += static_cast<std::int64_t>(line.size()) + 1;
    if (blank(line)) {
      continue;
    }
    ++report.lines;
    auto parsed = parse_import_line(line, context);
    if (!parsed) {
      note(number, parsed.error().message);
    } else {
      report.events += static_cast<std::int64_t>(parsed->history.size());
      // Generated codes are checked too: they are new, so they never clash.
      const auto [it, fresh] = codes.emplace(parsed->record.code, number);
      if (!fresh) {
        note(number, "case code '" + parsed->record.code + "' is also on line " +
                         std::to_string(it->second));
      } else {
        pending_codes.push_back(parsed->record.code);
      }
    }
    if (pending_codes.size() >= options.batch_size) {
      if (auto looked = look_up(); !looked) {
        return looked.error();
      }
    }
    if (options.progress && report.lines % 1000 == 0) {
      options.progress({"check", read, bytes});
    }
  }
  if (auto looked = look_up(); !looked) {
    return looked.error();
  }
  if (options.progress) {
    options.progress({"check", bytes, bytes});
  }
  report.check_seconds = seconds_since(check_start);
  if (report.error_count > 0 || options.dry_run) {
    if (report.error_count == 0) {
      report.cases = report.lines;
    }
    return report;
  }

  // Pass 2: the same lines, parsed again (nothing is held between the passes), written in
  // batches of whole cases. While one batch is sealed and written on another thread, this one
  // parses the next: the two cores share the work, and batches still commit one after another,
  // in file order.
  const auto write_start = std::chrono::steady_clock::now();
  file.clear();
  file.seekg(0);
  const std::int64_t total_events = report.events;
  std::int64_t written_events = 0;
  std::int64_t batch_events = 0;
  std::size_t last_line = 0;
  std::vector<ImportedCase> batch;
  batch.reserve(options.batch_size);
  // What an import that stops at a batch has done: the batches before it stay.
  const auto written_up_to = [&](std::size_t failed_line, Error e) -> Error {
    e.message = "writing the cases up to line " + std::to_string(failed_line) +
                " failed: " + e.message + ". The " + std::to_string(report.cases) +
                " cases before them (the first lines of the file) were written and stay, each "
                "whole; the rest were not. Import the rest once the problem is fixed";
    return e;
  };
  struct InFlight {
    std::shared_ptr<const ImportBatch> batch;
    std::future<Result<void>> done;
    std::int64_t cases = 0;
    std::int64_t events = 0;
    std::size_t last_line = 0;
  } writing;
  const auto finish_writing = [&]() -> Result<void> {
    if (!writing.done.valid()) {
      return {};
    }
    if (auto written = writing.done.get(); !written) {
      return written_up_to(writing.last_line, written.error());
    }
    report.cases += writing.cases;
    written_events += writing.events;
    if (options.progress) {
      options.progress({"import", written_events, total_events});
    }
    return {};
  };
  const auto flush = [&]() -> Result<void> {
    if (batch.empty()) {
      return {};
    }
    // Sealed here, on this thread, while the batch before is written on the other.
    const auto cases = static_cast<std::int64_t>(batch.size());
    auto prepared = store.prepare_import(std::move(batch));
    batch = {};
    if (auto finished = finish_writing(); !finished) {
      return finished;
    }
    if (!prepared) {
      return written_up_to(last_line, prepared.error());
    }
    writing.cases = cases;
    writing.events = batch_events;
    writing.last_line = last_line;
    // Held here, so that the batch is freed on this thread when the next one is sent.
    writing.batch = std::make_shared<const ImportBatch>(std::move(*prepared));
    writing.done =
        std::async(std::launch::async, [&store, &options, at = context.now, batch = writing.batch] {
          return store.write_import(*batch, options.importer, at);
        });
    batch.reserve(options.batch_size);
    batch_events = 0;
    return {};
  };
  number = 0;
  while (std::getline(file, line)) {
    ++number;
    if (blank(line)) {
      continue;
    }
    auto parsed = parse_import_line(line, context);
    if (!parsed) {
      // The file changed between the passes.
      const auto finished = finish_writing();
      return make_error(Errc::conflict,
                        path + ":" + std::to_string(number) + ": changed while it was imported: " +
                            parsed.error().message + ". The first " + std::to_string(report.cases) +
                            " cases were written and stay" +
                            (finished ? "" : "; then: " + finished.error().message));
    }
    last_line = number;
    batch_events += static_cast<std::int64_t>(parsed->history.size());
    batch.push_back(std::move(*parsed));
    if (batch.size() >= options.batch_size) {
      if (auto flushed = flush(); !flushed) {
        return flushed.error();
      }
    }
  }
  if (auto flushed = flush(); !flushed) {
    return flushed.error();
  }
  if (auto finished = finish_writing(); !finished) {
    return finished.error();
  }
  report.events = written_events;
  report.write_seconds = seconds_since(write_start);
  return report;
}

}  // namespace carepath::app
