// Erasure of a case and the retention job: the two ways field values leave the engine for good.
#include <algorithm>
#include <map>
#include <set>

#include "core/log.hpp"
#include "core/strings.hpp"
#include "runtime/runtime.hpp"

namespace carepath::runtime {
namespace {

constexpr int kMaxEraseAttempts = 8;
constexpr std::size_t kRetentionBatch = 100;
// Calendar durations do not subtract exactly (31 Jan + 1mo = 28 Feb), so the store is asked for
// a little more than can have expired, and each field is then checked exactly.
constexpr std::int64_t kCutoffSlackMs = 3LL * 24 * 60 * 60 * 1000;

std::string_view anchor_name(RetainAnchor anchor) {
  return anchor == RetainAnchor::opened ? "opened" : "closed";
}

std::optional<Timestamp> anchor_of(const CaseRecord& record, RetainAnchor anchor) {
  if (anchor == RetainAnchor::opened) {
    return record.created_at;
  }
  return record.closed_at;
}

bool has_value(const boost::json::object& object, const std::string& name) {
  const auto* value = object.if_contains(name);
  return value != nullptr && !value->is_null();
}

}  // namespace

Error case_erased(const CaseRecord& record) {
  return Error{Errc::conflict,
               "case " + record.id + " was erased; it takes no more changes",
               {},
               "case-erased"};
}

Result<CaseRecord> Runtime::erase_case(const Actor& actor, const std::string& id,
                                       const std::string& reason) {
  if (!actor.has_role("admin")) {
    return Error{Errc::forbidden,
                 "erasing a case is for the 'admin' role",
                 {{"required_roles", boost::json::array{"admin"}}},
                 "forbidden"};
  }
  for (int attempt = 1;; ++attempt) {
    auto record = store_.get_case(id);
    if (!record) {
      return record.error();
    }
    if (record->erased_at) {
      return case_erased(*record);
    }
    auto workflow = workflow_of(*record);
    if (!workflow) {
      return workflow.error();
    }
    // Every sealed field goes: its value here, and in the history the key that opens it.
    std::vector<std::string> erased;
    for (const Field& f : (*workflow)->fields) {
      if (f.sensitivity != Sensitivity::none) {
        erased.push_back(f.name);
      }
    }
    const Timestamp now = clock_.now();
    auto [after, entry] = change_in_place(*record, actor.user, "erased", erased, now);
    for (const auto& name : erased) {
      after.data.erase(name);
    }
    after.blind_index.clear();
    after.erased_at = now;

    CaseEffects effects;
    AuditRecord audit;
    audit.at = now;
    audit.actor = actor.user;
    audit.action = std::string(kAuditErase);
    audit.case_id = id;
    audit.fields = erased;
    audit.reason = reason;
    audit.details = boost::json::object{{"version", after.version}, {"state", after.state}};
    effects.audit.push_back(std::move(audit));

    auto done = store_.erase_case(CaseChange{after, record->version, entry}, effects);
    if (done) {
      log(LogLevel::info, "case erased", {{"case", id}, {"actor", actor.user}});
      return after;
    }
    if (done.error().code != Errc::precondition_failed || attempt == kMaxEraseAttempts) {
      return done.error();
    }
  }
}

Result<RetentionReport> Runtime::apply_retention(Timestamp now, bool dry_run) {
  // The earliest cutoff each (workflow, anchor) needs: the shortest period of any version.
  std::map<std::pair<std::string, RetainAnchor>, Timestamp> cutoffs;
  for (const auto& w : workflows_.all()) {
    for (const Field& f : w->fields) {
      if (!f.retain) {
        continue;
      }
      const Duration back{-f.retain->keep.months, -f.retain->keep.days, -f.retain->keep.ms};
      const Timestamp cutoff = add_duration(now, back, zone_) + kCutoffSlackMs;
      auto [it, added] = cutoffs.emplace(std::pair{w->name, f.retain->anchor}, cutoff);
      if (!added) {
        it->second = std::max(it->second, cutoff);
      }
    }
  }

  RetentionReport report;
  std::map<std::string, RetentionFieldCount> counts;
  std::set<std::string> cases;  // a case may be due under both anchors
  std::set<std::string> dry_seen;
  for (const auto& [key, cutoff] : cutoffs) {
    const auto& [workflow_name, anchor] = key;
    RetentionQuery query{workflow_name, std::string(anchor_name(anchor)), cutoff, kRetentionBatch,
                         std::nullopt};
    for (;;) {
      auto page = store_.list_retention_due(query);
      if (!page) {
        return page.error();
      }
      for (CaseRecord& listed : page->items) {
        std::optional<CaseRecord> record = std::move(listed);
        for (int attempt = 1;; ++attempt) {
          const auto workflow = workflows_.find(record->workflow, record->workflow_version);
          if (!workflow) {
            break;
          }
          // Every expired field of the case, whatever its anchor, so that one entry says it all
          // (the case's visit under the other anchor then finds nothing left).
          std::vector<std::string> expired;
          for (const Field& f : workflow->fields) {
            const auto at = f.retain ? anchor_of(*record, f.retain->anchor) : std::nullopt;
            if (at && add_duration(*at, f.retain->keep, zone_) <= now) {
              expired.push_back(f.name);
            }
          }
          // A dry run changes nothing, so a case due under both anchors would count twice.
          if (expired.empty() || (dry_run && !dry_seen.insert(record->id).second)) {
            break;
          }
          std::vector<std::int64_t> removed(expired.size(), 0);
          if (dry_run) {
            // Counts what a run would remove: values in the case and in its history payloads.
            for (std::size_t i = 0; i < expired.size(); ++i) {
              removed[i] += has_value(record->data, expired[i]) ? 1 : 0;
            }
            std::optional<std::string> cursor;
            do {
              auto history = store_.history(record->id, 500, cursor);
              if (!history) {
                return history.error();
              }
              for (const HistoryEntry& e : history->items) {
                for (std::size_t i = 0; i < expired.size(); ++i) {
                  removed[i] += has_value(e.payload, expired[i]) ? 1 : 0;
                }
              }
              cursor = history->next_cursor;
            } while (cursor);
          } else {
            auto [after, entry] = change_in_place(*record, std::string(kSystemUser),
                                                  "retention_applied", expired, now);
            for (const auto& name : expired) {
              after.data.erase(name);
            }
            CaseEffects effects;
            AuditRecord audit;
            audit.at = now;
            audit.actor = std::string(kSystemUser);
            audit.action = std::string(kAuditRetention);
            audit.case_id = record->id;
            audit.fields = expired;
            audit.details = boost::json::object{{"version", after.version}};
            effects.audit.push_back(std::move(audit));
            auto stripped =
                store_.strip_fields(CaseChange{after, record->version, entry}, expired, effects);
            if (!stripped) {
              if (stripped.error().code != Errc::precondition_failed ||
                  attempt == kMaxEraseAttempts) {
                return stripped.error();
              }
              // Another change of the case won the race: look again at the case as it is now.
              auto fresh = store_.get_case(record->id);
              if (!fresh) {
                return fresh.error();
              }
              record = std::move(*fresh);
              continue;
            }
            removed = std::move(*stripped);
          }
          std::int64_t total = 0;
          for (std::size_t i = 0; i < expired.size(); ++i) {
            if (removed[i] > 0) {
              auto& count = counts[expired[i]];
              count.field = expired[i];
              count.values += removed[i];
              count.cases += 1;
              total += removed[i];
            }
          }
          if (total > 0) {
            report.values += total;
            cases.insert(record->id);
            if (!dry_run) {
              log(LogLevel::info, "retention applied",
                  {{"case", record->id}, {"fields", join(expired)}});
            }
          }
          break;
        }
      }
      if (!page->next_cursor) {
        break;
      }
      query.cursor = page->next_cursor;
    }
  }
  for (auto& [name, count] : counts) {
    report.fields.push_back(std::move(count));
  }
  report.cases = static_cast<std::int64_t>(cases.size());
  return report;
}

}  // namespace carepath::runtime
