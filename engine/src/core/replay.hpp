// Rebuilding a case's projection (its row in the store) from its append-only history, to check
// that the two agree (`carepath verify`). Pure: the caller reads the entries and the row.
//
// What each entry does to the projection (see runtime/runtime.cpp, erasure.cpp, migrate.cpp):
//  - every entry: state = `to`, version = `version` (which must be the previous one + 1, and
//    equal to `seq`), updated_at = `at`; the first entry ("opened", version 1) sets created_at.
//  - "erased" and "retention_applied": the fields named in `changed` leave the data (their values
//    were crypto-shredded or stripped); "erased" also sets erased_at.
//  - "migrated": as any other entry (its payload is the delta to the new version's data), and
//    trigger.to_version is the new workflow version (trigger.from_version must be the last one
//    known).
//  - any other entry: each field named in `changed` takes its value from the payload (null:
//    removed). Members of the payload not named in `changed` did not change the data (a value
//    it already had, or the reason of a consent or clock event), so they are not applied.
//
// A field named in `changed` whose value the payload does not hold was either set by a step
// before the engine recorded step outputs in the payload, or stripped by retention from the
// payload (a "retention_applied" entry then follows and removes it). Its value is unknown to the
// history until a later entry sets or removes it: such fields are listed in `unrecorded` and not
// compared.
//
// Values sealed at rest (objects with a "$sealed" member, security/protected_store) are sealed
// afresh with a random nonce at every write, so the history's ciphertext of a value never equals
// the row's: two sealed values compare equal, a sealed value and a plain one do not.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/store.hpp"
#include "core/time.hpp"

namespace carepath {

struct Projection {
  std::int64_t entries = 0;  // entries replayed
  std::string state;
  boost::json::object data;
  std::int64_t version = 0;
  std::optional<int> workflow_version;  // known once a migration recorded it
  Timestamp created_at = 0;
  Timestamp updated_at = 0;
  std::optional<Timestamp> erased_at;
  std::set<std::string> unrecorded;  // fields whose value the history does not hold
  // What is wrong with the history itself (a gap in seq or version), in order; never values.
  std::vector<std::string> problems;
};

// Replays entries one at a time, so that a long history can be read in pages.
class Replay {
 public:
  void feed(const HistoryEntry& entry);
  const Projection& projection() const { return projection_; }

 private:
  Projection projection_;
};

// The projection `entries` (oldest first) rebuild.
Projection replay(const std::vector<HistoryEntry>& entries);

// Whether two field values agree: equal, or both sealed (see above).
bool same_value(const boost::json::value& a, const boost::json::value& b);

// What differs between a rebuilt projection and the stored row, by name only (never values):
// "state", "version", "workflow_version", "created_at", "updated_at", "erased_at",
// "field <name>" for each data field, and the history's own problems. Empty when they agree.
std::vector<std::string> compare(const Projection& rebuilt, const CaseRecord& stored);

// The payload a history entry records for a change that started from the request `request`
// and left the case data as `after`, `changed` naming every field that changed: the request,
// plus the value (or null) of every changed field the request does not hold with that value,
// such as what synchronous steps set. Replaying it rebuilds `after`.
boost::json::object applied_payload(const boost::json::object& request,
                                    const boost::json::object& after,
                                    const std::vector<std::string>& changed);

}  // namespace carepath
