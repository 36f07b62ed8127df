// The Store interface: everything the engine keeps durably. All SQL lives behind it, so the same
// tests can run against another implementation (PostgreSQL later).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "core/time.hpp"

namespace carepath {

// The projection of one case: its current state and data.
struct CaseRecord {
  std::string id;    // opaque, unguessable
  std::string code;  // pseudonymous case code for people; never derived from identifying data
  std::string workflow;
  int workflow_version = 0;
  std::string state;
  boost::json::object data;
  std::int64_t version = 0;  // 1 at creation, +1 per change
  Timestamp created_at = 0;
  Timestamp updated_at = 0;
};

// One entry of a case's append-only history.
struct HistoryEntry {
  std::int64_t seq = 0;  // 1, 2, ... per case; assigned by the store
  Timestamp at = 0;
  std::string actor;
  std::string event;                // "opened", "updated" or a workflow event
  std::optional<std::string> from;  // nullopt on "opened"
  std::string to;
  std::int64_t version = 0;          // the case version this entry produced
  std::vector<std::string> changed;  // names of the fields that changed
  std::optional<std::string> comment;
  boost::json::object payload;  // the data the change applied; kept to rebuild the projection
};

// The remembered first answer to a request with an Idempotency-Key.
struct IdempotencyRecord {
  std::string case_id;
  std::string actor;
  std::string key;
  std::string request_hash;  // hex digest of the canonical request
  int status = 0;
  std::string response;  // JSON text of the case as the first request left it
  Timestamp created_at = 0;
};

struct WorkflowSource {
  std::string name;
  int version = 0;
  std::string sha256;
  std::string source;  // the YAML text
  Timestamp loaded_at = 0;
};

struct CaseQuery {
  std::optional<std::string> workflow;
  std::optional<std::string> state;
  std::size_t limit = 50;
  std::optional<std::string> cursor;  // from CasePage::next_cursor
};

struct CasePage {
  std::vector<CaseRecord> items;
  std::optional<std::string> next_cursor;  // opaque; nullopt on the last page
};

struct HistoryPage {
  std::vector<HistoryEntry> items;
  std::optional<std::string> next_cursor;
};

struct TokenRecord {
  std::string id;    // public handle, shown by `token list`, accepted by `token revoke`
  std::string hash;  // hex SHA-256 of the secret token; the token itself is never stored
  std::string user;
  std::vector<std::string> roles;
  Timestamp created_at = 0;
  std::optional<Timestamp> revoked_at;
};

// Thread-safety: every member function may be called from any thread; implementations
// serialise writes themselves. Every write is atomic: it happens whole or not at all.
class Store {
 public:
  virtual ~Store() = default;

  // Records a workflow source. Identical (name, version, sha256): no-op. Same (name, version)
  // with another sha256: replaced when no case uses it, else Errc::conflict.
  virtual Result<void> put_workflow(const WorkflowSource& source) = 0;
  // Every stored workflow source, ordered by name then version.
  virtual Result<std::vector<WorkflowSource>> workflows() = 0;

  // Inserts a new case and its first history entry ("opened"). `opened.seq` is ignored (1).
  // Errc::conflict when the id or code already exists.
  virtual Result<void> create_case(const CaseRecord& record, const HistoryEntry& opened) = 0;

  // Errc::not_found when there is no such case.
  virtual Result<CaseRecord> get_case(const std::string& id) = 0;

  // Replaces the case row with `after` (whose version must be expected_version + 1), appends
  // `entry` and, when given, the idempotency record, all in one transaction.
  // Errc::not_found: no such case. Errc::precondition_failed: the stored version is not
  // `expected_version` (details["current_version"] holds the stored one). Errc::conflict: an
  // idempotency record with the same (case, actor, key) exists.
  virtual Result<void> update_case(const CaseRecord& after, std::int64_t expected_version,
                                   const HistoryEntry& entry,
                                   const std::optional<IdempotencyRecord>& idempotency) = 0;

  // Cases matching the query, in creation order; limit is clamped to 1..500.
  virtual Result<CasePage> list_cases(const CaseQuery& query) = 0;

  // History of one case, oldest first, starting after the cursor. Errc::not_found: no such case.
  virtual Result<HistoryPage> history(const std::string& case_id, std::size_t limit,
                                      const std::optional<std::string>& cursor) = 0;

  virtual Result<std::optional<IdempotencyRecord>> find_idempotency(const std::string& case_id,
                                                                    const std::string& actor,
                                                                    const std::string& key) = 0;

  virtual Result<void> create_token(const TokenRecord& token) = 0;
  // The unrevoked token with this hash; nullopt when none.
  virtual Result<std::optional<TokenRecord>> find_token(const std::string& hash) = 0;
  // Revokes by id. Errc::not_found when there is no such token.
  virtual Result<void> revoke_token(const std::string& id, Timestamp at) = 0;
  virtual Result<std::vector<TokenRecord>> tokens() = 0;
};

}  // namespace carepath
