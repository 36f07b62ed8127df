#include "core/replay.hpp"

#include <algorithm>

namespace carepath {
namespace {

constexpr std::string_view kSealedMember = "$sealed";

bool is_sealed(const boost::json::value& v) {
  return v.is_object() && v.get_object().contains(kSealedMember);
}

std::optional<std::int64_t> int_member(const boost::json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  if (value == nullptr || !value->is_int64()) {
    return std::nullopt;
  }
  return value->get_int64();
}

}  // namespace

void Replay::feed(const HistoryEntry& entry) {
  Projection& p = projection_;
  const std::int64_t expected = p.version + 1;
  const std::string where = "history entry " + std::to_string(entry.seq);
  if (entry.seq != p.entries + 1) {
    p.problems.push_back(where + " follows entry " + std::to_string(p.entries) +
                         " (entries are missing)");
  }
  if (entry.version != expected) {
    p.problems.push_back(where + " makes version " + std::to_string(entry.version) +
                         " after version " + std::to_string(p.version));
  }
  if (p.entries == 0) {
    p.created_at = entry.at;
    if (entry.event != "opened") {
      p.problems.push_back(where + " is the first but is not 'opened'");
    }
  } else if (entry.event == "opened") {
    p.problems.push_back(where + " opens the case again");
  }
  ++p.entries;
  p.state = entry.to;
  p.version = entry.version;
  p.updated_at = entry.at;

  const bool removes = entry.event == "erased" || entry.event == "retention_applied";
  for (const auto& name : entry.changed) {
    const auto* value = removes ? nullptr : entry.payload.if_contains(name);
    if (removes || (value != nullptr && value->is_null())) {
      p.data.erase(name);
      p.unrecorded.erase(name);
    } else if (value == nullptr) {
      p.data.erase(name);
      p.unrecorded.insert(name);
    } else {
      p.data[name] = *value;
      p.unrecorded.erase(name);
    }
  }
  if (entry.event == "erased") {
    p.erased_at = entry.at;
  }
  if (entry.event == "migrated") {
    const auto from = int_member(entry.trigger, "from_version");
    const auto to = int_member(entry.trigger, "to_version");
    if (!to) {
      p.problems.push_back(where + " is a migration that does not name the version it moved to");
    } else {
      if (p.workflow_version && from && *from != *p.workflow_version) {
        p.problems.push_back(where + " migrates from version " + std::to_string(*from) +
                             ", but the case was on version " +
                             std::to_string(*p.workflow_version));
      }
      p.workflow_version = static_cast<int>(*to);
    }
  }
}

Projection replay(const std::vector<HistoryEntry>& entries) {
  Replay r;
  for (const auto& e : entries) {
    r.feed(e);
  }
  return r.projection();
}

bool same_value(const boost::json::value& a, const boost::json::value& b) {
  if (is_sealed(a) || is_sealed(b)) {
    return is_sealed(a) && is_sealed(b);
  }
  return a == b;
}

std::vector<std::string> compare(const Projection& rebuilt, const CaseRecord& stored) {
  std::vector<std::string> out = rebuilt.problems;
  if (rebuilt.entries == 0) {
    out.emplace_back("history is empty");
    return out;
  }
  if (rebuilt.state != stored.state) {
    out.emplace_back("state");
  }
  if (rebuilt.version != stored.version) {
    out.emplace_back("version");
  }
  if (rebuilt.workflow_version && *rebuilt.workflow_version != stored.workflow_version) {
    out.emplace_back("workflow_version");
  }
  if (rebuilt.created_at != stored.created_at) {
    out.emplace_back("created_at");
  }
  if (rebuilt.updated_at != stored.updated_at) {
    out.emplace_back("updated_at");
  }
  if (rebuilt.erased_at != stored.erased_at) {
    out.emplace_back("erased_at");
  }
  // Every field either side holds, in a stable order: the row's, then those only replay has.
  std::vector<std::string> names;
  for (const auto& [key, value] : stored.data) {
    names.emplace_back(key);
  }
  for (const auto& [key, value] : rebuilt.data) {
    if (!stored.data.contains(key)) {
      names.emplace_back(key);
    }
  }
  for (const auto& name : names) {
    if (rebuilt.unrecorded.contains(name)) {
      continue;
    }
    const auto* mine = rebuilt.data.if_contains(name);
    const auto* theirs = stored.data.if_contains(name);
    // A null member and a missing one both mean "no value".
    const bool mine_set = mine != nullptr && !mine->is_null();
    const bool theirs_set = theirs != nullptr && !theirs->is_null();
    if (mine_set != theirs_set || (mine_set && !same_value(*mine, *theirs))) {
      out.push_back("field " + name);
    }
  }
  return out;
}

boost::json::object applied_payload(const boost::json::object& request,
                                    const boost::json::object& after,
                                    const std::vector<std::string>& changed) {
  boost::json::object payload = request;
  for (const auto& name : changed) {
    const auto* value = after.if_contains(name);
    const auto* asked = payload.if_contains(name);
    if (value == nullptr) {
      if (asked == nullptr || !asked->is_null()) {
        payload[name] = nullptr;
      }
    } else if (asked == nullptr || *asked != *value) {
      payload[name] = *value;
    }
  }
  return payload;
}

}  // namespace carepath
