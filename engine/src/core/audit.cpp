#include "core/audit.hpp"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace carepath {
namespace {

boost::json::value optional_text(const std::optional<std::string>& text) {
  return text ? boost::json::value(*text) : boost::json::value(nullptr);
}

}  // namespace

boost::json::value canonical_json(const boost::json::value& value) {
  if (value.is_object()) {
    const auto& in = value.get_object();
    std::vector<std::string_view> keys;
    keys.reserve(in.size());
    for (const auto& member : in) {
      keys.push_back(member.key());
    }
    std::sort(keys.begin(), keys.end());
    boost::json::object out;
    out.reserve(in.size());
    for (const auto key : keys) {
      out.emplace(key, canonical_json(in.at(key)));
    }
    return out;
  }
  if (value.is_array()) {
    boost::json::array out;
    for (const auto& item : value.get_array()) {
      out.emplace_back(canonical_json(item));
    }
    return out;
  }
  return value;
}

namespace {

boost::json::array fields_array(const AuditRecord& record) {
  boost::json::array fields;
  fields.reserve(record.fields.size());
  for (const auto& name : record.fields) {
    fields.emplace_back(name);
  }
  return fields;
}

// The canonical array's members from `at` to `details`, without the brackets.
std::string middle_text(const AuditRecord& record, boost::json::array fields) {
  const boost::json::array middle{record.at,
                                  boost::json::value(record.actor),
                                  boost::json::value(record.action),
                                  optional_text(record.case_id),
                                  std::move(fields),
                                  optional_text(record.reason),
                                  canonical_json(record.details)};
  std::string text = boost::json::serialize(middle);
  text.erase(0, 1);
  text.pop_back();
  return text;
}

// [seq, <middle>, prev_hash]: the bytes boost::json gives the whole array, put together from its
// parts (a JSON array's members are serialized apart from each other, with commas and no spaces).
std::string canonical_from(std::int64_t seq, std::string_view middle, std::string_view prev_hash) {
  std::string out = "[";
  out += boost::json::serialize(boost::json::value(seq));
  out += ',';
  out += middle;
  out += ',';
  out += boost::json::serialize(boost::json::value(prev_hash));
  out += ']';
  return out;
}

}  // namespace

AuditText audit_text(const AuditRecord& record) {
  boost::json::array fields = fields_array(record);
  AuditText text;
  text.fields_json = boost::json::serialize(fields);
  text.details_json = boost::json::serialize(record.details);
  text.middle = middle_text(record, std::move(fields));
  return text;
}

std::vector<AuditText> audit_texts(const std::vector<AuditRecord>& records) {
  std::vector<AuditText> texts;
  texts.reserve(records.size());
  for (const AuditRecord& record : records) {
    texts.push_back(audit_text(record));
  }
  return texts;
}

std::string audit_canonical(const AuditRecord& record) {
  // Only the canonical text: verifying a long trail need not serialize the stored columns too.
  return canonical_from(record.seq, middle_text(record, fields_array(record)), record.prev_hash);
}

std::string audit_hash(AuditDigest digest, const AuditRecord& record) {
  return digest(record.prev_hash + audit_canonical(record));
}

void audit_chain(AuditDigest digest, std::int64_t last_seq, std::string_view last_hash,
                 AuditRecord& record) {
  AuditText text;  // only the canonical part: nothing here stores the row
  text.middle = middle_text(record, fields_array(record));
  audit_chain(digest, last_seq, last_hash, text, record);
}

void audit_chain(AuditDigest digest, std::int64_t last_seq, std::string_view last_hash,
                 const AuditText& text, AuditRecord& record) {
  record.seq = last_seq + 1;
  record.prev_hash = last_seq == 0 ? std::string(kAuditGenesisHash) : std::string(last_hash);
  record.hash =
      digest(record.prev_hash + canonical_from(record.seq, text.middle, record.prev_hash));
}

std::optional<AuditBreak> AuditVerifier::feed(const AuditRecord& record) {
  if (broken_) {
    return broken_;
  }
  const std::int64_t expected = last_seq_ + 1;
  if (record.seq != expected) {
    broken_ = AuditBreak{
        expected, record.seq > expected
                      ? "entry missing (the next entry found is " + std::to_string(record.seq) + ")"
                      : "entries out of order (found entry " + std::to_string(record.seq) +
                            " where entry " + std::to_string(expected) + " belongs)"};
    return broken_;
  }
  if (record.prev_hash != last_hash_) {
    broken_ = AuditBreak{record.seq, "prev_hash does not match the hash of the entry before it"};
    return broken_;
  }
  if (audit_hash(digest_, record) != record.hash) {
    broken_ = AuditBreak{record.seq, "hash does not match the entry's contents"};
    return broken_;
  }
  ++count_;
  last_seq_ = record.seq;
  last_hash_ = record.hash;
  return std::nullopt;
}

}  // namespace carepath
