// `carepath import`: cases with their whole history from a JSON lines file (docs/operations.md,
// "Importing cases"), checked line by line against the loaded workflows and then written in
// batches (Store::prepare_import seals one on the calling thread while Store::write_import writes
// the one before on another), sealed as the engine seals what it writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/model.hpp"
#include "core/store.hpp"
#include "core/time.hpp"
#include "core/timezone.hpp"

namespace carepath::app {

// What a line is checked against.
struct ImportContext {
  // The compiled version `version` of workflow `name` (as the server loads them), or null.
  std::function<std::shared_ptr<const Workflow>(const std::string& name, int version)> find{};
  TimeZone zone = TimeZone::utc();  // the organisation's: timers and clocks count in it
  Timestamp now = 0;                // no entry may be later
};

// Parses and checks one line (one case with its whole history) and builds what
// Store::import_cases writes: a new id (security::new_case_id), the code (a new one when the line
// has none), the projection the history rebuilds (core/replay.hpp), its history with seq and
// version 1, 2, ..., and the timers and clocks its history leaves pending (the time rules replayed
// over it). Errc::invalid_argument with a message that says what is wrong and what was expected,
// naming members and fields, never a field value.
Result<ImportedCase> parse_import_line(std::string_view line, const ImportContext& context);

// How far an import got, for a progress bar: `phase` is "check" (lines read, counted in bytes)
// or "import" (events written).
struct ImportProgress {
  std::string_view phase{};
  std::int64_t done = 0;
  std::int64_t total = 0;
};

struct ImportOptions {
  bool dry_run = false;           // check everything, write nothing
  std::string importer{};         // the audit rows' actor ("cli:<user>")
  std::size_t batch_size = 1000;  // cases per transaction
  std::size_t max_errors = 50;    // problems listed; the rest are counted
  std::function<void(const ImportProgress&)> progress{};
};

struct ImportReport {
  std::int64_t lines = 0;  // non-blank lines (cases) in the file
  std::int64_t cases = 0;  // written (or, on a dry run, that would be)
  std::int64_t events = 0;
  double check_seconds = 0;
  double write_seconds = 0;
  bool dry_run = false;
  // "FILE:LINE: message" for each bad line (up to max_errors), and how many there were in all.
  // When there is any, nothing was written.
  std::vector<std::string> errors{};
  std::int64_t error_count = 0;
};

// Reads `path` twice: first every line is parsed and checked, and every code checked against the
// other lines and the store; when any line is wrong nothing is written and the report lists the
// problems. Then the cases are written, `batch_size` per transaction. Errors: Errc::not_found (no
// file); a store error while writing, whose message says how many cases (the first lines) were
// written before it: those stay, whole, and the rest are not written.
Result<ImportReport> import_file(Store& store, const ImportContext& context,
                                 const std::string& path, const ImportOptions& options);

}  // namespace carepath::app
