// Running a migration plan over every case on the plan's old version: a dry run that counts and
// explains, or the real thing, in batches, each case in its own transaction.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/actor.hpp"

namespace carepath::runtime {

// How far a run has got; reported after every batch.
struct MigrationProgress {
  std::int64_t total = 0;  // cases on the old version when the run started
  std::int64_t done = 0;   // of those, looked at so far
  std::int64_t moved = 0;
  std::int64_t failed = 0;
};

struct MigrationOptions {
  bool dry_run = false;
  std::size_t batch_size = 200;
  std::size_t failures_listed = 1000;  // the report names at most this many failing cases
  Actor actor{"system", {}};           // recorded on each `migrated` history entry
  std::function<void(const MigrationProgress&)> progress{};
  // When it becomes true the run stops after the case in hand, recorded as interrupted; running
  // the plan again takes it up where it stopped.
  const std::atomic<bool>* stop = nullptr;
};

struct MigrationStateCount {
  std::string from{};
  std::optional<std::string> to{};  // nullopt: the state has no counterpart
  std::int64_t cases = 0;
  std::int64_t moved = 0;   // or, in a dry run, would move
  std::int64_t failed = 0;  // cannot move
};

struct MigrationFailure {
  std::string case_id{};
  std::string state{};
  std::vector<std::string> reasons{};  // names states and fields, never values
};

struct MigrationNameCount {
  std::string name{};
  std::int64_t cases = 0;
};

struct MigrationReport {
  std::string plan{};
  std::string workflow{};
  int from_version = 0;
  int to_version = 0;
  bool dry_run = false;
  bool resumed = false;      // an earlier, unfinished run of this plan was taken up
  bool interrupted = false;  // stopped before every case was looked at
  std::int64_t total = 0;
  std::int64_t moved = 0;
  std::int64_t failed = 0;
  std::vector<MigrationStateCount> states{};  // by old state, in the old version's order
  std::vector<MigrationFailure> failures{};
  bool failures_truncated = false;
  // Timers and clocks of cases that move (or would) which the new version does not declare.
  std::vector<MigrationNameCount> dropped_timers{};
  std::vector<MigrationNameCount> dropped_clocks{};
};

// The answer of POST /v1/admin/migrations and `carepath migrate --format json`.
boost::json::value to_json(const MigrationReport& report);

}  // namespace carepath::runtime
