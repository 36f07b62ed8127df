// Encryption of case data at rest (libsodium): the master key file, per-case data keys wrapped by
// it, and field values sealed with XChaCha20-Poly1305 under the case's data key. The associated
// data binds each ciphertext to where it belongs, so a value copied to another case, field or key
// does not open.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace carepath::security {

inline constexpr std::size_t kKeyBytes = 32;
using KeyBytes = std::array<unsigned char, kKeyBytes>;

// A master key and its id: 16 hex digits of a hash of the key, so that a wrapped data key names
// the master key that opens it without revealing anything about it.
struct MasterKey {
  std::string id;
  KeyBytes bytes{};
};

// The keys of a master key file, the current one first; older ones stay to open data keys wrapped
// before a rotation.
//
// Thread-safety: immutable after construction.
class Keyring {
 public:
  explicit Keyring(std::vector<MasterKey> keys) : keys_(std::move(keys)) {}

  const MasterKey& current() const { return keys_.front(); }
  const MasterKey* find(std::string_view id) const;
  const std::vector<MasterKey>& keys() const { return keys_; }

 private:
  std::vector<MasterKey> keys_;
};

// A fresh random master key.
MasterKey new_master_key();

// Writes a new key file at `path` holding one new key, created with mode 0400. Refuses (Errc::
// conflict) to overwrite an existing file: a lost master key loses every case.
Result<MasterKey> create_key_file(const std::string& path);

// Reads a key file. Errc::invalid_argument (a clear start-up error) when it is missing, readable
// by group or others, or not a key file.
Result<Keyring> load_key_file(const std::string& path);

// Rewrites the key file at `path` with `keys` (current first), atomically (a temporary file in the
// same directory, mode 0400, renamed over it).
Result<void> write_key_file(const std::string& path, const std::vector<MasterKey>& keys);

// A fresh random data key for one case.
KeyBytes new_data_key();

// The data key of `case_id` sealed under the keyring's current master key:
// "<master key id>.<base64 of nonce and ciphertext>".
std::string wrap_data_key(const Keyring& keyring, std::string_view case_id, const KeyBytes& key);
// Opens a wrapped data key. Errc::unauthenticated when no master key of the keyring opens it (a
// wrong key file, or a wrapped key copied from another case); the message says which id it needs.
Result<KeyBytes> unwrap_data_key(const Keyring& keyring, std::string_view case_id,
                                 std::string_view wrapped);
// The id of the master key that wrapped `wrapped` (the part before the dot).
std::string_view wrapping_key_id(std::string_view wrapped);

// `plaintext` sealed under `key`, bound to `context` (case, field, key version): base64 of a
// random nonce and the ciphertext.
std::string seal(const KeyBytes& key, std::string_view context, std::string_view plaintext);
// Opens what seal() made with the same key and context. Errc::unauthenticated when the key or the
// context differ, or the text was changed.
Result<std::string> open(const KeyBytes& key, std::string_view context, std::string_view sealed);

// A keyed hash (BLAKE2b-256) of `message`, as hex: blind index entries and key checks.
std::string keyed_hash(const KeyBytes& key, std::string_view message);

}  // namespace carepath::security
