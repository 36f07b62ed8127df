// `carepath verify`: every case's row checked against the projection its history rebuilds
// (core/replay.hpp), reading cases and histories in pages, never all of them at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/store.hpp"

namespace carepath::runtime {

// A case whose row and history disagree: what differs, by name (never values).
struct CaseMismatch {
  std::string case_id;
  std::vector<std::string> differences;
};

struct VerifyReport {
  std::int64_t cases = 0;
  std::int64_t events = 0;
  std::int64_t mismatched = 0;
  // Cases with a field whose value the history does not record (set by a step before step
  // outputs were recorded): those fields were not compared.
  std::int64_t unrecorded = 0;
};

// Replays every case of `store`. Each mismatch is handed to `on_mismatch` as it is found; a case
// that disagrees is read again (a few times) before it counts, because a running engine may
// change it between the read of its row and of its history.
Result<VerifyReport> verify_cases(Store& store,
                                  const std::function<void(const CaseMismatch&)>& on_mismatch);

}  // namespace carepath::runtime
