// Runtime::migrate: a migration plan applied case by case.
#include "runtime/migrate.hpp"

#include <algorithm>
#include <map>

#include <boost/json.hpp>

#include "core/schedule.hpp"
#include "runtime/runtime.hpp"

namespace carepath::runtime {
namespace {

constexpr int kMaxAttempts = 3;  // a case changed by someone else meanwhile is planned again

boost::json::array names_to_json(const std::vector<MigrationNameCount>& items) {
  boost::json::array out;
  for (const auto& item : items) {
    out.push_back(boost::json::object{{"name", item.name}, {"cases", item.cases}});
  }
  return out;
}

void count_name(std::vector<MigrationNameCount>& items, const std::string& name) {
  const auto it = std::find_if(items.begin(), items.end(),
                               [&](const MigrationNameCount& i) { return i.name == name; });
  if (it != items.end()) {
    ++it->cases;
  } else {
    items.push_back({name, 1});
  }
}

boost::json::array strings(const std::vector<std::string>& items) {
  boost::json::array out;
  for (const auto& s : items) {
    out.emplace_back(s);
  }
  return out;
}

// One case planned for the move: its new projection, history entry and effects, or why not.
struct CasePlan {
  CaseMigration data{};
  CaseRecord after{};
  CaseEffects effects{};
  MigratedTime time{};
};

}  // namespace

boost::json::value to_json(const MigrationReport& report) {
  boost::json::array states;
  for (const auto& s : report.states) {
    states.push_back(
        boost::json::object{{"from", s.from},
                            {"to", s.to ? boost::json::value(*s.to) : boost::json::value(nullptr)},
                            {"cases", s.cases},
                            {"moved", s.moved},
                            {"failed", s.failed}});
  }
  boost::json::array failures;
  for (const auto& f : report.failures) {
    failures.push_back(boost::json::object{
        {"case_id", f.case_id}, {"state", f.state}, {"reasons", strings(f.reasons)}});
  }
  return boost::json::object{
      {"plan", report.plan},
      {"workflow", report.workflow},
      {"from_version", report.from_version},
      {"to_version", report.to_version},
      {"dry_run", report.dry_run},
      {"resumed", report.resumed},
      {"interrupted", report.interrupted},
      {"total", report.total},
      {"moved", report.moved},
      {"failed", report.failed},
      {"states", std::move(states)},
      {"failures", std::move(failures)},
      {"failures_truncated", report.failures_truncated},
      {"dropped", boost::json::object{{"timers", names_to_json(report.dropped_timers)},
                                      {"clocks", names_to_json(report.dropped_clocks)}}},
  };
}

Result<MigrationReport> Runtime::migrate(const MigrationPlan& plan,
                                         const MigrationOptions& options) {
  const auto from = workflows_.find(plan.workflow, plan.from);
  const auto to = workflows_.find(plan.workflow, plan.to);
  if (!from || !to) {
    return Error{Errc::not_found, "workflow '" + plan.workflow + "' version " +
                                      std::to_string(!from ? plan.from : plan.to) +
                                      " is not loaded"};
  }
  MigrationReport report;
  report.plan = plan.name;
  report.workflow = plan.workflow;
  report.from_version = plan.from;
  report.to_version = plan.to;
  report.dry_run = options.dry_run;
  for (const State& s : from->states) {
    const std::string target = plan.target_state(s.name);
    report.states.push_back(
        {s.name, to->find_state(target) ? std::optional<std::string>(target) : std::nullopt});
  }
  const std::size_t batch = std::clamp<std::size_t>(options.batch_size, 1, 500);

  auto total = store_.count_cases_on_version(plan.workflow, plan.from);
  if (!total) {
    return total.error();
  }
  report.total = *total;

  MigrationRun run;
  if (!options.dry_run) {
    MigrationRun start;
    start.plan = plan.name;
    start.workflow = plan.workflow;
    start.from_version = plan.from;
    start.to_version = plan.to;
    start.actor = options.actor.user;
    start.started_at = clock_.now();
    auto started = store_.start_migration(start);
    if (!started) {
      return started.error();
    }
    run = std::move(*started);
    report.resumed = run.resumed;
  }

  // Plans `record`'s move at `now`; reads its timers, clocks and unfinished work.
  const auto plan_case = [&](const CaseRecord& record, Timestamp now) -> Result<CasePlan> {
    CasePlan p;
    p.data = migrate_case_data(plan, *to, record);
    auto pending = store_.pending_work(record.id);
    if (!pending) {
      return pending.error();
    }
    if (*pending > 0) {
      p.data.reasons.push_back(std::to_string(*pending) + " step(s) or task(s) of version " +
                               std::to_string(plan.from) +
                               " are unfinished on this case; migrate it once they have finished");
    }
    if (!p.data.ok()) {
      return p;
    }
    p.after = record;
    p.after.workflow_version = plan.to;
    p.after.state = p.data.to_state;
    p.after.data = p.data.data;
    p.after.version = record.version + 1;
    p.after.updated_at = now;
    // A case mapped into a final state of the new version closes now (the retention anchor); one
    // mapped out of a final state is open again.
    if (const auto to_state = to->find_state(p.after.state);
        to_state && to->states[*to_state].final) {
      if (!p.after.closed_at) {
        p.after.closed_at = now;
      }
    } else {
      p.after.closed_at.reset();
    }
    auto timers = store_.timers(record.id);
    if (!timers) {
      return timers.error();
    }
    auto clocks = store_.clocks(record.id);
    if (!clocks) {
      return clocks.error();
    }
    p.time =
        plan_migrated_time(*to, p.after, record.state, *timers, *clocks, now, zone_, p.effects);
    return p;
  };

  const auto tally = [&](const CaseRecord& record, const CasePlan& p) {
    auto state = std::find_if(report.states.begin(), report.states.end(),
                              [&](const MigrationStateCount& s) { return s.from == record.state; });
    if (state == report.states.end()) {  // not a state of the old version: a damaged record
      report.states.push_back({record.state, std::nullopt});
      state = report.states.end() - 1;
    }
    ++state->cases;
    if (p.data.ok()) {
      ++state->moved;
      ++report.moved;
      for (const auto& name : p.time.dropped_timers) {
        count_name(report.dropped_timers, name);
      }
      for (const auto& name : p.time.dropped_clocks) {
        count_name(report.dropped_clocks, name);
      }
      return;
    }
    ++state->failed;
    ++report.failed;
    if (report.failures.size() < options.failures_listed) {
      report.failures.push_back({record.id, record.state, p.data.reasons});
    } else {
      report.failures_truncated = true;
    }
  };

  // Moves one case; a case changed meanwhile is read and planned again.
  const auto move_case = [&](CaseRecord record) -> Result<CasePlan> {
    for (int attempt = 1;; ++attempt) {
      const Timestamp now = clock_.now();
      auto p = plan_case(record, now);
      if (!p || !p->data.ok() || options.dry_run) {
        return p;
      }
      HistoryEntry entry;
      entry.at = now;
      entry.actor = options.actor.user;
      entry.event = "migrated";
      entry.from = record.state;
      entry.to = p->after.state;
      entry.version = p->after.version;
      entry.changed = p->data.changed;
      entry.payload = p->data.payload;
      entry.trigger = boost::json::object{{"migration", plan.name},
                                          {"from_version", plan.from},
                                          {"to_version", plan.to},
                                          {"carried_timers", strings(p->time.carried_timers)},
                                          {"dropped_timers", strings(p->time.dropped_timers)},
                                          {"carried_clocks", strings(p->time.carried_clocks)},
                                          {"dropped_clocks", strings(p->time.dropped_clocks)}};
      auto updated = store_.update_case(p->after, record.version, entry, std::nullopt, p->effects);
      if (updated) {
        scheduled(p->effects);
        return p;
      }
      if (updated.error().code != Errc::precondition_failed || attempt == kMaxAttempts) {
        return updated.error();
      }
      auto fresh = store_.get_case(record.id);
      if (!fresh) {
        return fresh.error();
      }
      if (fresh->workflow_version != plan.from) {
        return Error{Errc::conflict, "case '" + record.id + "' moved to version " +
                                         std::to_string(fresh->workflow_version) + " meanwhile"};
      }
      record = std::move(*fresh);
    }
  };

  const auto finish = [&](const std::string& status) -> Result<void> {
    if (options.dry_run) {
      return {};
    }
    run.status = status;
    run.finished_at = clock_.now();
    run.moved += report.moved;
    run.failed = report.failed;
    return store_.finish_migration(run);
  };

  MigrationProgress progress{report.total, 0, 0, 0};
  CaseQuery query;
  query.workflow = plan.workflow;
  query.workflow_version = plan.from;
  query.limit = batch;
  for (;;) {
    auto page = store_.list_cases(query);
    if (!page) {
      (void)finish("interrupted");
      return page.error();
    }
    for (auto& record : page->items) {
      if (options.stop != nullptr && options.stop->load()) {
        report.interrupted = true;
        if (auto r = finish("interrupted"); !r) {
          return r.error();
        }
        return report;
      }
      auto moved = move_case(record);
      if (!moved && moved.error().code == Errc::conflict) {
        continue;  // another run moved it: not this run's to count
      }
      if (!moved) {
        (void)finish("interrupted");
        return moved.error();
      }
      tally(record, *moved);
      ++progress.done;
    }
    progress.moved = report.moved;
    progress.failed = report.failed;
    if (options.progress) {
      options.progress(progress);
    }
    if (!page->next_cursor) {
      break;
    }
    query.cursor = page->next_cursor;
  }
  if (auto r = finish("finished"); !r) {
    return r.error();
  }
  return report;
}

}  // namespace carepath::runtime
