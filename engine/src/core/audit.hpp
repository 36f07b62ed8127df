// The audit trail's rows and its hash chain: who read or changed what, in an append-only table
// where each row's hash covers the one before it, so that an edited, deleted or reordered row
// shows. Pure: the digest (SHA-256 in the engine) is a parameter, since core has no crypto.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/time.hpp"

namespace carepath {

// The same JSON with every object's members sorted by key: one spelling for equal values, for
// hashing (audit rows, the request an Idempotency-Key stands for).
boost::json::value canonical_json(const boost::json::value& value);

// Actions the engine records. Field *names* only, never values, in every one of them.
inline constexpr std::string_view kAuditCaseOpen = "case.open";
inline constexpr std::string_view kAuditCaseWrite = "case.write";
inline constexpr std::string_view kAuditCaseRead = "case.read";
inline constexpr std::string_view kAuditLoginFailed = "login.failed";
inline constexpr std::string_view kAuditMigration = "migration";
// A supervisor read fields its roles may not see, giving a reason (X-Access-Reason).
inline constexpr std::string_view kAuditBreakGlass = "break_glass";
// A transition taken without a consent it requires, by a role in the consent's override_by,
// giving a reason; fields names the consents overridden.
inline constexpr std::string_view kAuditConsentOverride = "consent.override";
// An admin erased a case (its data key destroyed), giving a reason; fields names what went.
inline constexpr std::string_view kAuditErase = "case.erase";
// The retention job removed expired field values of a case (`retain:` in the workflow).
inline constexpr std::string_view kAuditRetention = "retention";
// A case written by `carepath import` with its whole history (one row per case, actor the
// person who ran the import); details name the workflow, its version and how many events.
inline constexpr std::string_view kAuditCaseImport = "case.import";
// A report was read or exported (GET /v1/reports/..., `carepath report`); details name the
// report, its filters and format and how many rows it had. Reports carry no field values.
inline constexpr std::string_view kAuditReport = "report";

// The prev_hash of the first row.
inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// One row of the audit trail.
struct AuditRecord {
  std::int64_t seq = 0;  // 1, 2, 3, ... without gaps; assigned by the store
  Timestamp at = 0;
  std::string actor{};   // a user, "anonymous" (no valid token) or "system" (the engine)
  std::string action{};  // "case.read", "case.write", "login.failed", ...
  std::optional<std::string> case_id{};
  std::vector<std::string> fields{};    // names of the fields read or written; never values
  std::optional<std::string> reason{};  // why, when the caller had to say (break-glass)
  boost::json::object details{};        // small, and never field values
  std::string prev_hash{};              // assigned by the store
  std::string hash{};                   // assigned by the store
};

// Hex digest of bytes: security::sha256_hex in the engine.
using AuditDigest = std::string (*)(std::string_view data);

// The row without its hash as one fixed text: a JSON array [seq, at, actor, action, case_id,
// fields, reason, details, prev_hash], details with every object's members sorted by key, so
// that the same row always gives the same bytes however its JSON was read back.
std::string audit_canonical(const AuditRecord& record);

// hex(digest(prev_hash || audit_canonical(record))), with record.prev_hash as prev_hash.
std::string audit_hash(AuditDigest digest, const AuditRecord& record);

// Fills seq, prev_hash and hash of `record` as the row after (`last_seq`, `last_hash`): the
// store calls it inside the transaction that inserts the row. `last_seq` 0 means the first row
// (and `last_hash` is then ignored).
void audit_chain(AuditDigest digest, std::int64_t last_seq, std::string_view last_hash,
                 AuditRecord& record);

// What of a row's texts does not depend on its place in the chain: the canonical text's members
// from `at` to `details` (comma-separated, without the brackets), and the fields and details as
// the store keeps them. The store computes these before it takes its write lock, so that inside
// it only seq, prev_hash and the digest are left to do (one row after another: each hash needs
// the one before).
struct AuditText {
  std::string middle{};
  std::string fields_json{};
  std::string details_json{};
};
AuditText audit_text(const AuditRecord& record);
// audit_text of each record, in order.
std::vector<AuditText> audit_texts(const std::vector<AuditRecord>& records);

// audit_chain with `text` = audit_text(record) computed beforehand; the same seq, prev_hash and
// hash.
void audit_chain(AuditDigest digest, std::int64_t last_seq, std::string_view last_hash,
                 const AuditText& text, AuditRecord& record);

// The first link that does not hold.
struct AuditBreak {
  std::int64_t seq = 0;  // the entry at which the chain breaks
  std::string reason{};
};

// Checks a chain fed in seq order, one row at a time, so that a caller can read it in pages and
// never hold it all. After the first break it reports that same break for every further row.
class AuditVerifier {
 public:
  explicit AuditVerifier(AuditDigest digest) : digest_(digest) {}

  // The break this row reveals (or an earlier one), or nullopt while the chain holds.
  std::optional<AuditBreak> feed(const AuditRecord& record);

  std::int64_t count() const { return count_; }  // rows fed before the first break
  std::int64_t last_seq() const { return last_seq_; }
  const std::string& last_hash() const { return last_hash_; }

 private:
  AuditDigest digest_;
  std::int64_t count_ = 0;
  std::int64_t last_seq_ = 0;
  std::string last_hash_{kAuditGenesisHash};
  std::optional<AuditBreak> broken_{};
};

}  // namespace carepath
