#include "security/protected_store.hpp"

#include <algorithm>
#include <chrono>

#include <boost/json.hpp>
#include <sys/stat.h>

#include "core/access.hpp"
#include "core/consent.hpp"

namespace carepath::security {
namespace {

constexpr std::string_view kSealedMember = "$sealed";
constexpr std::string_view kSealedText = "$sealed:1:";
constexpr std::int64_t kDataKeyVersion = 1;
constexpr std::size_t kCacheLimit = 50'000;
constexpr std::string_view kKeyCheckSetting = "master_key_check";
constexpr std::string_view kKeyCheckCase = "$key-check";
constexpr std::string_view kIndexKeySetting = "blind_index_key";
constexpr std::string_view kIndexKeyCase = "$blind-index";

std::string field_context(const std::string& case_id, std::string_view field,
                          std::int64_t key_version) {
  return "carepath field|" + case_id + "|" + std::string(field) + "|" + std::to_string(key_version);
}

std::string comment_context(const std::string& case_id, std::int64_t version) {
  return "carepath comment|" + case_id + "|" + std::to_string(version);
}

std::string idempotency_context(const IdempotencyRecord& r) {
  return "carepath idempotency|" + r.case_id + "|" + r.actor + "|" + r.key;
}

bool is_sealed(const boost::json::value& v) {
  return v.is_object() && v.get_object().contains(kSealedMember);
}

// Seals the members of `object` named in `fields` that hold a value.
void seal_members(const KeyBytes& key, const std::string& case_id,
                  const std::vector<std::string>& fields, boost::json::object& object) {
  for (const auto& name : fields) {
    auto* value = object.if_contains(name);
    if (value == nullptr || value->is_null() || is_sealed(*value)) {
      continue;
    }
    const std::string sealed =
        seal(key, field_context(case_id, name, kDataKeyVersion), boost::json::serialize(*value));
    *value = boost::json::object{{kSealedMember, sealed}, {"key", kDataKeyVersion}};
  }
}

// Removes the members named in `fields`: what an erased case, which has no key, cannot seal.
void drop_members(const std::vector<std::string>& fields, boost::json::object& object) {
  for (const auto& name : fields) {
    object.erase(name);
  }
}

// Removes every sealed member: what can no longer be opened once a case's key is destroyed.
void drop_sealed(boost::json::object& object) {
  for (auto it = object.begin(); it != object.end();) {
    it = is_sealed(it->value()) ? object.erase(it) : std::next(it);
  }
}

// The members of a consent record, or of a consent event's payload, that may hold identifying
// words (core/consent.hpp): sealed like sensitive fields.
std::vector<std::string> names_of(std::span<const std::string_view> members) {
  return {members.begin(), members.end()};
}

void seal_consents(const KeyBytes& key, const std::string& case_id, boost::json::array& consents) {
  const auto members = names_of(kConsentRecordSensitive);
  for (auto& record : consents) {
    if (record.is_object()) {
      seal_members(key, case_id, members, record.get_object());
    }
  }
}

// Removes the free text of consent records: what an erased case, which has no key, cannot keep.
void drop_consent_text(boost::json::array& consents) {
  for (auto& record : consents) {
    if (record.is_object()) {
      for (const auto member : kConsentRecordSensitive) {
        record.get_object().erase(member);
      }
    }
  }
}

// Opens every sealed member of `object`.
Result<void> open_members(const KeyBytes& key, const std::string& case_id,
                          boost::json::object& object) {
  for (auto& member : object) {
    if (!is_sealed(member.value())) {
      continue;
    }
    const auto& sealed = member.value().get_object();
    const auto* text = sealed.if_contains(kSealedMember);
    const auto* version = sealed.if_contains("key");
    if (text == nullptr || !text->is_string() || version == nullptr || !version->is_int64()) {
      return Error{Errc::storage, "case " + case_id + ": field '" + std::string(member.key()) +
                                      "' holds a damaged sealed value"};
    }
    auto opened =
        open(key, field_context(case_id, member.key(), version->get_int64()), text->get_string());
    if (!opened) {
      return Error{Errc::storage, "case " + case_id + ": field '" + std::string(member.key()) +
                                      "' does not decrypt: " + opened.error().message};
    }
    boost::system::error_code ec;
    member.value() = boost::json::parse(*opened, ec);
    if (ec) {
      return Error{Errc::storage, "case " + case_id + ": field '" + std::string(member.key()) +
                                      "' decrypts to something that is not JSON"};
    }
  }
  return {};
}

Result<void> open_consents(const KeyBytes& key, const std::string& case_id,
                           boost::json::array& consents) {
  for (auto& record : consents) {
    if (!record.is_object()) {
      continue;
    }
    if (auto opened = open_members(key, case_id, record.get_object()); !opened) {
      return opened;
    }
  }
  return {};
}

// The form of a value the blind index compares: text trimmed, runs of spaces made one, ASCII
// letters lower-cased ("Asha  Devi " and "asha devi" match); other values as JSON.
std::string index_form(const boost::json::value& value) {
  if (!value.is_string()) {
    return boost::json::serialize(value);
  }
  std::string out;
  bool space = false;
  for (const char c : value.get_string()) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::string index_digest(const KeyBytes& key, std::string_view field,
                         const boost::json::value& value) {
  return keyed_hash(key, std::string(field) + "|" + index_form(value));
}

std::string seal_text(const KeyBytes& key, const std::string& context, std::string_view text) {
  return std::string(kSealedText) + seal(key, context, text);
}

Result<std::string> open_text(const KeyBytes& key, const std::string& context,
                              const std::string& text, const std::string& what) {
  if (!text.starts_with(kSealedText)) {
    return Error{Errc::storage, what + " is stored in plaintext; the engine writes it sealed"};
  }
  auto opened = open(key, context, std::string_view(text).substr(kSealedText.size()));
  if (!opened) {
    return Error{Errc::storage, what + " does not decrypt: " + opened.error().message};
  }
  return std::move(*opened);
}

constexpr std::int64_t kKeyFileCheckMs = 5'000;

std::int64_t mtime_ns(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return 0;
  }
  return static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// --- KeyFile ---------------------------------------------------------------------------------

KeyFile::KeyFile(std::string path, Keyring keyring)
    : path_(std::move(path)),
      keyring_(std::make_shared<const Keyring>(std::move(keyring))),
      checked_at_ms_(steady_ms()),
      file_mtime_ns_(mtime_ns(path_)) {
}

Result<std::shared_ptr<KeyFile>> KeyFile::open(const std::string& path) {
  auto keyring = load_key_file(path);
  if (!keyring) {
    return keyring.error();
  }
  return std::shared_ptr<KeyFile>(new KeyFile(path, std::move(*keyring)));
}

std::shared_ptr<const Keyring> KeyFile::keyring() const {
  std::lock_guard lock(mutex_);
  const std::int64_t now = steady_ms();
  if (now - checked_at_ms_ >= kKeyFileCheckMs) {
    checked_at_ms_ = now;
    const std::int64_t mtime = mtime_ns(path_);
    if (mtime != 0 && mtime != file_mtime_ns_) {
      file_mtime_ns_ = mtime;
      // A file that cannot be read now keeps the keys read before.
      if (auto reread = load_key_file(path_)) {
        keyring_ = std::make_shared<const Keyring>(std::move(*reread));
      }
    }
  }
  return keyring_;
}

Result<void> KeyFile::reload() {
  auto keyring = load_key_file(path_);
  if (!keyring) {
    return keyring.error();
  }
  std::lock_guard lock(mutex_);
  keyring_ = std::make_shared<const Keyring>(std::move(*keyring));
  file_mtime_ns_ = mtime_ns(path_);
  return {};
}

Result<void> check_database_key(Store& store, const KeyFile& keys) {
  const auto keyring = keys.keyring();
  auto check = store.setting(std::string(kKeyCheckSetting));
  if (!check) {
    return check.error();
  }
  if (!*check) {
    const KeyBytes nothing{};
    if (auto put = store.put_setting(std::string(kKeyCheckSetting),
                                     wrap_data_key(*keyring, kKeyCheckCase, nothing));
        !put) {
      return put.error();
    }
  } else if (auto opened = unwrap_data_key(*keyring, kKeyCheckCase, **check); !opened) {
    std::string ids;
    for (const auto& key : keyring->keys()) {
      ids += (ids.empty() ? "" : ", ") + key.id;
    }
    return Error{Errc::unauthenticated,
                 "the master key file " + keys.path() +
                     " does not open this database: it was sealed with master key " +
                     std::string(wrapping_key_id(**check)) + ", and the file holds " + ids};
  }
  auto index = store.setting(std::string(kIndexKeySetting));
  if (!index) {
    return index.error();
  }
  if (!*index) {
    if (auto put = store.put_setting(std::string(kIndexKeySetting),
                                     wrap_data_key(*keyring, kIndexKeyCase, new_data_key()));
        !put) {
      return put.error();
    }
  }
  auto plain = store.count_cases_without_key();
  if (!plain) {
    return plain.error();
  }
  if (*plain > 0) {
    return Error{Errc::conflict,
                 "the database holds " + std::to_string(*plain) +
                     " cases written before encryption at rest; the engine does not serve case "
                     "data in plaintext. Start from a new database"};
  }
  return {};
}

Result<Rotation> rotate_master_key(Store& store, KeyFile& keys) {
  // A wrong key file must not be extended and applied to this database.
  if (auto checked = check_database_key(store, keys); !checked) {
    return checked.error();
  }
  // The new key goes into the file first, so that an engine meeting a re-wrapped key finds it.
  std::vector<MasterKey> updated{new_master_key()};
  const auto old = keys.keyring();
  updated.insert(updated.end(), old->keys().begin(), old->keys().end());
  if (auto written = write_key_file(keys.path(), updated); !written) {
    return written.error();
  }
  if (auto reread = keys.reload(); !reread) {
    return reread.error();
  }
  const Keyring rotated(updated);
  Rotation out{rotated.current().id, 0};
  for (;;) {
    auto batch = store.data_keys_not_wrapped_by(out.key_id, 500);
    if (!batch) {
      return Error{batch.error().code, batch.error().message + " (" +
                                           std::to_string(out.rewrapped) +
                                           " re-wrapped so far; run it again to go on)"};
    }
    if (batch->empty()) {
      break;
    }
    for (const auto& [case_id, wrapped] : *batch) {
      auto key = unwrap_data_key(rotated, case_id, wrapped);
      if (!key) {
        return key.error();
      }
      auto replaced =
          store.replace_data_key(case_id, wrapped, wrap_data_key(rotated, case_id, *key));
      if (!replaced && replaced.error().code != Errc::precondition_failed) {
        return replaced.error();
      }
      out.rewrapped += replaced ? 1 : 0;  // a case changed meanwhile comes in the next batch
    }
  }
  // The database's own keys, each wrapped under its own name.
  for (const auto& [setting, holder] :
       {std::pair{kKeyCheckSetting, kKeyCheckCase}, std::pair{kIndexKeySetting, kIndexKeyCase}}) {
    auto wrapped = store.setting(std::string(setting));
    if (!wrapped) {
      return wrapped.error();
    }
    if (!*wrapped) {
      return Error{Errc::storage, "the database has no " + std::string(setting)};
    }
    auto key = unwrap_data_key(rotated, holder, **wrapped);
    if (!key) {
      return key.error();
    }
    if (auto put = store.put_setting(std::string(setting), wrap_data_key(rotated, holder, *key));
        !put) {
      return put.error();
    }
  }
  return out;
}

// --- ProtectedStore --------------------------------------------------------------------------

ProtectedStore::ProtectedStore(Store& inner, std::shared_ptr<KeyFile> keys,
                               WorkflowLookup workflows)
    : inner_(inner), keys_(std::move(keys)), workflows_(std::move(workflows)) {
}

Result<KeyBytes> ProtectedStore::data_key(const std::string& case_id, const std::string& wrapped) {
  {
    std::lock_guard lock(cache_mutex_);
    if (const auto it = cache_.find(case_id); it != cache_.end()) {
      return it->second;
    }
  }
  if (wrapped.empty()) {
    return Error{Errc::storage, "case " + case_id + " has no data key"};
  }
  auto keyring = keys_->keyring();
  if (keyring->find(wrapping_key_id(wrapped)) == nullptr) {
    // A rotation added a master key since the file was read.
    (void)keys_->reload();
    keyring = keys_->keyring();
  }
  auto key = unwrap_data_key(*keyring, case_id, wrapped);
  if (!key) {
    return Error{Errc::storage, key.error().message};
  }
  std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= kCacheLimit) {
    cache_.clear();
  }
  cache_.emplace(case_id, *key);
  return *key;
}

Result<KeyBytes> ProtectedStore::index_key() {
  std::lock_guard lock(cache_mutex_);
  if (index_key_) {
    return *index_key_;
  }
  auto wrapped = inner_.setting(std::string(kIndexKeySetting));
  if (!wrapped) {
    return wrapped.error();
  }
  if (!*wrapped) {
    return Error{Errc::storage, "the database has no blind index key"};
  }
  auto key = unwrap_data_key(*keys_->keyring(), kIndexKeyCase, **wrapped);
  if (!key) {
    return Error{Errc::storage, "the blind index key does not open: " + key.error().message};
  }
  index_key_ = *key;
  return *key;
}

std::vector<std::string> ProtectedStore::sealed_fields(const std::string& workflow,
                                                       int version) const {
  std::vector<std::string> out;
  if (const auto w = workflows_(workflow, version)) {
    for (const Field& f : w->fields) {
      if (f.sensitivity != Sensitivity::none) {
        out.push_back(f.name);
      }
    }
  }
  return out;
}

Result<void> ProtectedStore::seal_case(CaseRecord& record, HistoryEntry* entry) {
  if (record.erased_at) {
    // An erased case has no key: what would be sealed is dropped instead, comments too.
    const auto fields = sealed_fields(record.workflow, record.workflow_version);
    drop_members(fields, record.data);
    drop_consent_text(record.consents);
    record.blind_index.clear();
    record.data_key.clear();
    if (entry != nullptr) {
      drop_members(fields, entry->payload);
      if (consent_action(entry->event)) {
        drop_members(names_of(kConsentPayloadSensitive), entry->payload);
      }
      entry->comment.reset();
    }
    return {};
  }
  auto key = data_key(record.id, record.data_key);
  if (!key) {
    return key.error();
  }
  const auto workflow = workflows_(record.workflow, record.workflow_version);
  record.blind_index.clear();
  if (workflow) {
    // The holder and placement columns, read by object-level authorisation, follow the fields.
    stamp_scope(*workflow, record);
    for (const Field& f : workflow->fields) {
      const auto* value = record.data.if_contains(f.name);
      if (f.sensitivity == Sensitivity::identifying && value != nullptr && !value->is_null()) {
        auto index = index_key();
        if (!index) {
          return index.error();
        }
        record.blind_index.emplace_back(f.name, index_digest(*index, f.name, *value));
      }
    }
  }
  const auto fields = sealed_fields(record.workflow, record.workflow_version);
  seal_members(*key, record.id, fields, record.data);
  seal_consents(*key, record.id, record.consents);
  if (entry != nullptr) {
    seal_members(*key, record.id, fields, entry->payload);
    if (consent_action(entry->event)) {
      seal_members(*key, record.id, names_of(kConsentPayloadSensitive), entry->payload);
    }
    if (entry->comment) {
      entry->comment = seal_text(*key, comment_context(record.id, entry->version), *entry->comment);
    }
  }
  return {};
}

Result<void> ProtectedStore::seal_change(CaseChange& change) {
  change.entry.version = change.after.version;
  return seal_case(change.after, &change.entry);
}

Result<void> ProtectedStore::open_case(CaseRecord& record) {
  if (record.erased_at) {
    drop_sealed(record.data);  // none are left after an erasure; a damaged row shows none
    drop_consent_text(record.consents);
    return {};
  }
  auto key = data_key(record.id, record.data_key);
  if (!key) {
    return key.error();
  }
  if (auto opened = open_consents(*key, record.id, record.consents); !opened) {
    return opened;
  }
  return open_members(*key, record.id, record.data);
}

Result<void> ProtectedStore::open_entry(const std::string& case_id, const KeyBytes& key,
                                        HistoryEntry& entry) {
  if (auto opened = open_members(key, case_id, entry.payload); !opened) {
    return opened;
  }
  if (entry.comment) {
    auto comment = open_text(key, comment_context(case_id, entry.version), *entry.comment,
                             "a comment of case " + case_id);
    if (!comment) {
      return comment.error();
    }
    entry.comment = std::move(*comment);
  }
  return {};
}

Result<void> ProtectedStore::create_case(const CaseRecord& record, const HistoryEntry& opened,
                                         const CaseEffects& effects) {
  CaseRecord sealed = record;
  const KeyBytes key = new_data_key();
  sealed.data_key = wrap_data_key(*keys_->keyring(), record.id, key);
  {
    std::lock_guard lock(cache_mutex_);
    cache_[record.id] = key;
  }
  HistoryEntry entry = opened;
  entry.version = record.version;
  if (auto r = seal_case(sealed, &entry); !r) {
    return r;
  }
  return inner_.create_case(sealed, entry, effects);
}

Result<std::vector<std::string>> ProtectedStore::existing_codes(
    const std::vector<std::string>& codes) {
  return inner_.existing_codes(codes);  // codes are pseudonymous and stored in plaintext
}

Result<ImportBatch> ProtectedStore::prepare_import(std::vector<ImportedCase> cases) {
  std::optional<KeyBytes> index;
  for (ImportedCase& s : cases) {  // sealed in place
    CaseRecord& r = s.record;
    const auto workflow = workflows_(r.workflow, r.workflow_version);
    if (!workflow) {
      return Error{Errc::invalid_argument, "import: workflow '" + r.workflow + "' version " +
                                               std::to_string(r.workflow_version) +
                                               " is not loaded"};
    }
    const KeyBytes key = new_data_key();
    r.data_key = wrap_data_key(*keys_->keyring(), r.id, key);
    stamp_scope(*workflow, r);
    r.blind_index.clear();
    for (const Field& f : workflow->fields) {
      const auto* value = r.data.if_contains(f.name);
      if (f.sensitivity == Sensitivity::identifying && value != nullptr && !value->is_null()) {
        if (!index) {
          auto loaded = index_key();
          if (!loaded) {
            return loaded.error();
          }
          index = *loaded;
        }
        r.blind_index.emplace_back(f.name, index_digest(*index, f.name, *value));
      }
    }
    const auto fields = sealed_fields(r.workflow, r.workflow_version);
    seal_members(key, r.id, fields, r.data);
    seal_consents(key, r.id, r.consents);
    for (HistoryEntry& entry : s.history) {
      seal_members(key, r.id, fields, entry.payload);
      if (consent_action(entry.event)) {
        seal_members(key, r.id, names_of(kConsentPayloadSensitive), entry.payload);
      }
      if (entry.comment) {
        entry.comment = seal_text(key, comment_context(r.id, entry.version), *entry.comment);
      }
    }
  }
  auto inner = inner_.prepare_import(std::move(cases));
  if (!inner) {
    return inner.error();
  }
  return prepared_batch(std::move(*inner));
}

Result<void> ProtectedStore::write_import(const ImportBatch& batch, const std::string& importer,
                                          Timestamp at) {
  // Only a batch this store sealed: one prepared by the inner store alone holds plaintext.
  if (!batch.prepared_by(*this)) {
    return Error{Errc::invalid_argument,
                 "import: the batch was not sealed by this store (prepare_import)"};
  }
  return inner_.write_import(batch, importer, at);
}

Result<CaseRecord> ProtectedStore::get_case(const std::string& id) {
  auto record = inner_.get_case(id);
  if (!record) {
    return record;
  }
  if (auto r = open_case(*record); !r) {
    return r.error();
  }
  return record;
}

Result<void> ProtectedStore::update_case(const CaseRecord& after, std::int64_t expected_version,
                                         const HistoryEntry& entry,
                                         const std::optional<IdempotencyRecord>& idempotency,
                                         const CaseEffects& effects) {
  CaseChange change{after, expected_version, entry};
  if (change.after.data_key.empty()) {
    // The runtime builds `after` from a record it read; one made up elsewhere gets the stored key.
    auto stored = inner_.get_case(after.id);
    if (!stored) {
      return stored.error();
    }
    change.after.data_key = stored->data_key;
  }
  if (auto r = seal_change(change); !r) {
    return r;
  }
  std::optional<IdempotencyRecord> remembered = idempotency;
  if (remembered) {
    auto key = data_key(after.id, change.after.data_key);
    if (!key) {
      return key.error();
    }
    remembered->response = seal_text(*key, idempotency_context(*remembered), remembered->response);
  }
  return inner_.update_case(change.after, expected_version, change.entry, remembered, effects);
}

Result<CasePage> ProtectedStore::list_cases(const CaseQuery& query) {
  CaseQuery hashed = query;
  if (hashed.match) {
    auto index = index_key();
    if (!index) {
      return index.error();
    }
    hashed.match->value =
        index_digest(*index, hashed.match->field, boost::json::value(hashed.match->value));
  }
  auto page = inner_.list_cases(hashed);
  if (!page) {
    return page;
  }
  for (auto& record : page->items) {
    if (auto r = open_case(record); !r) {
      return r.error();
    }
  }
  return page;
}

Result<HistoryPage> ProtectedStore::history(const std::string& case_id, std::size_t limit,
                                            const std::optional<std::string>& cursor) {
  auto page = inner_.history(case_id, limit, cursor);
  if (!page || page->items.empty()) {
    return page;
  }
  auto record = inner_.get_case(case_id);
  if (!record) {
    return record.error();
  }
  if (record->erased_at) {
    // The key is destroyed: sealed values and comments are gone; names, states and times stay.
    for (auto& entry : page->items) {
      drop_sealed(entry.payload);
      if (entry.comment && entry.comment->starts_with(kSealedText)) {
        entry.comment.reset();
      }
    }
    return page;
  }
  auto key = data_key(case_id, record->data_key);
  if (!key) {
    return key.error();
  }
  for (auto& entry : page->items) {
    if (auto r = open_entry(case_id, *key, entry); !r) {
      return r.error();
    }
  }
  return page;
}

Result<std::optional<IdempotencyRecord>> ProtectedStore::find_idempotency(
    const std::string& case_id, const std::string& actor, const std::string& key_name) {
  auto found = inner_.find_idempotency(case_id, actor, key_name);
  if (!found || !*found) {
    return found;
  }
  auto record = inner_.get_case(case_id);
  if (!record) {
    return record.error();
  }
  if (record->erased_at) {
    return std::optional<IdempotencyRecord>{};  // erasure deletes them; this one cannot open
  }
  auto key = data_key(case_id, record->data_key);
  if (!key) {
    return key.error();
  }
  IdempotencyRecord& r = **found;
  auto response =
      open_text(*key, idempotency_context(r), r.response, "a remembered answer of case " + case_id);
  if (!response) {
    return response.error();
  }
  r.response = std::move(*response);
  return found;
}

Result<void> ProtectedStore::finish_job(std::int64_t job_id, const JobResult& result) {
  JobResult sealed = result;
  if (sealed.change) {
    if (auto r = seal_change(*sealed.change); !r) {
      return r;
    }
  }
  return inner_.finish_job(job_id, sealed);
}

Result<void> ProtectedStore::close_task(const std::string& task_id, const std::string& status,
                                        Timestamp now, const std::optional<CaseChange>& change,
                                        const CaseEffects& effects,
                                        const std::optional<IncidentRecord>& incident) {
  std::optional<CaseChange> sealed = change;
  if (sealed) {
    if (auto r = seal_change(*sealed); !r) {
      return r;
    }
  }
  return inner_.close_task(task_id, status, now, sealed, effects, incident);
}

Result<void> ProtectedStore::finish_timer(const TimerFinish& finish) {
  TimerFinish sealed = finish;
  if (sealed.change) {
    if (auto r = seal_change(*sealed.change); !r) {
      return r;
    }
  }
  return inner_.finish_timer(sealed);
}

Result<void> ProtectedStore::erase_case(const CaseChange& change, const CaseEffects& effects) {
  CaseChange erased = change;
  if (!erased.after.erased_at) {
    return Error{Errc::invalid_argument, "case " + change.after.id + ": an erasure sets erased_at"};
  }
  erased.entry.version = erased.after.version;
  if (auto r = seal_case(erased.after, &erased.entry); !r) {
    return r;
  }
  auto done = inner_.erase_case(erased, effects);
  if (done) {
    std::lock_guard lock(cache_mutex_);
    cache_.erase(change.after.id);
  }
  return done;
}

Result<CasePage> ProtectedStore::list_retention_due(const RetentionQuery& query) {
  auto page = inner_.list_retention_due(query);
  if (!page) {
    return page;
  }
  for (auto& record : page->items) {
    if (auto r = open_case(record); !r) {
      return r.error();
    }
  }
  return page;
}

Result<std::vector<std::int64_t>> ProtectedStore::strip_fields(
    const CaseChange& change, const std::vector<std::string>& fields, const CaseEffects& effects) {
  CaseChange sealed = change;
  if (auto r = seal_change(sealed); !r) {
    return r.error();
  }
  return inner_.strip_fields(sealed, fields, effects);
}

// --- the rest holds no case field values -----------------------------------------------------

Result<void> ProtectedStore::put_workflow(const WorkflowSource& source) {
  return inner_.put_workflow(source);
}
Result<std::vector<WorkflowSource>> ProtectedStore::workflows() {
  return inner_.workflows();
}
Result<std::vector<OutboxJob>> ProtectedStore::claim_jobs(Timestamp now, std::int64_t lease_ms,
                                                          std::size_t limit) {
  return inner_.claim_jobs(now, lease_ms, limit);
}
Result<std::optional<Timestamp>> ProtectedStore::next_job_at() {
  return inner_.next_job_at();
}
Result<std::vector<IncidentRecord>> ProtectedStore::incidents(const std::string& case_id) {
  return inner_.incidents(case_id);
}
Result<void> ProtectedStore::retry_incident(const std::string& case_id,
                                            const std::string& incident_id, Timestamp now) {
  return inner_.retry_incident(case_id, incident_id, now);
}
Result<std::optional<TaskRecord>> ProtectedStore::find_task(const std::string& token) {
  return inner_.find_task(token);
}
Result<std::vector<TaskRecord>> ProtectedStore::tasks(const std::string& case_id) {
  return inner_.tasks(case_id);
}
Result<std::vector<TimerRecord>> ProtectedStore::claim_timers(Timestamp now, std::int64_t lease_ms,
                                                              std::size_t limit,
                                                              const std::string& owner) {
  return inner_.claim_timers(now, lease_ms, limit, owner);
}
Result<std::optional<Timestamp>> ProtectedStore::next_timer_at() {
  return inner_.next_timer_at();
}
Result<std::vector<TimerRecord>> ProtectedStore::timers(const std::string& case_id) {
  return inner_.timers(case_id);
}
Result<std::vector<ClockRecord>> ProtectedStore::clocks(const std::string& case_id) {
  return inner_.clocks(case_id);
}
Result<ClockPage> ProtectedStore::list_clocks(const ClockQuery& query) {
  return inner_.list_clocks(query);
}
Result<NotificationPage> ProtectedStore::list_notifications(const NotificationQuery& query) {
  return inner_.list_notifications(query);
}
Result<NotificationRecord> ProtectedStore::acknowledge_notification(
    const std::string& id, const std::vector<std::string>& roles, const std::string& user,
    Timestamp at) {
  return inner_.acknowledge_notification(id, roles, user, at);
}
Result<std::int64_t> ProtectedStore::pending_work(const std::string& case_id) {
  return inner_.pending_work(case_id);
}
Result<std::int64_t> ProtectedStore::count_cases_on_version(const std::string& workflow,
                                                            int version) {
  return inner_.count_cases_on_version(workflow, version);
}
Result<MigrationRun> ProtectedStore::start_migration(const MigrationRun& run) {
  return inner_.start_migration(run);
}
Result<void> ProtectedStore::finish_migration(const MigrationRun& run) {
  return inner_.finish_migration(run);
}
Result<std::optional<std::string>> ProtectedStore::setting(const std::string& name) {
  return inner_.setting(name);
}
Result<void> ProtectedStore::put_setting(const std::string& name, const std::string& value) {
  return inner_.put_setting(name, value);
}
Result<std::int64_t> ProtectedStore::count_cases_without_key() {
  return inner_.count_cases_without_key();
}
Result<StoreGauges> ProtectedStore::gauges() {
  return inner_.gauges();
}
Result<void> ProtectedStore::ping() {
  return inner_.ping();
}
Result<std::vector<std::pair<std::string, std::string>>> ProtectedStore::data_keys_not_wrapped_by(
    const std::string& master_id, std::size_t limit) {
  return inner_.data_keys_not_wrapped_by(master_id, limit);
}
Result<void> ProtectedStore::replace_data_key(const std::string& case_id,
                                              const std::string& old_key,
                                              const std::string& new_key) {
  return inner_.replace_data_key(case_id, old_key, new_key);
}
Result<void> ProtectedStore::append_audit(const std::vector<AuditRecord>& records) {
  return inner_.append_audit(records);
}
Result<AuditPage> ProtectedStore::audit_page(const AuditQuery& query) {
  return inner_.audit_page(query);
}

Result<std::vector<CaseloadCount>> ProtectedStore::report_caseload(
    const std::optional<std::string>& workflow) {
  return inner_.report_caseload(workflow);
}

Result<std::vector<EventCount>> ProtectedStore::report_event_counts(
    Timestamp from, Timestamp to, const std::optional<std::string>& workflow,
    const std::vector<std::string>& events) {
  return inner_.report_event_counts(from, to, workflow, events);
}

Result<std::vector<MoveCount>> ProtectedStore::report_moves(
    Timestamp from, Timestamp to, const std::optional<std::string>& workflow) {
  return inner_.report_moves(from, to, workflow);
}

Result<std::vector<StateStays>> ProtectedStore::report_stays(
    Timestamp from, Timestamp to, const std::optional<std::string>& workflow) {
  return inner_.report_stays(from, to, workflow);
}

Result<std::vector<ClosedCount>> ProtectedStore::report_closed(
    const std::optional<Timestamp>& from, const std::optional<Timestamp>& to,
    const std::optional<std::string>& workflow) {
  return inner_.report_closed(from, to, workflow);
}

Result<std::vector<LeftCareRecord>> ProtectedStore::report_left_care(const LeftCareQuery& query) {
  return inner_.report_left_care(query);
}

Result<void> ProtectedStore::create_token(const TokenRecord& token) {
  return inner_.create_token(token);
}
Result<std::optional<TokenRecord>> ProtectedStore::find_token(const std::string& hash) {
  return inner_.find_token(hash);
}
Result<void> ProtectedStore::revoke_token(const std::string& id, Timestamp at) {
  return inner_.revoke_token(id, at);
}
Result<std::vector<TokenRecord>> ProtectedStore::tokens() {
  return inner_.tokens();
}

}  // namespace carepath::security
