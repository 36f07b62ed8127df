#include "security/crypto.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "security/base64.hpp"
#include "security/random.hpp"
#include "security/sodium.hpp"

namespace carepath::security {
namespace {

constexpr std::string_view kFileHeader = "carepath-master-keys 1";
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

std::string key_id(const KeyBytes& key) {
  std::array<unsigned char, 8> hash{};
  constexpr std::string_view kLabel = "carepath master key id";
  crypto_generichash(hash.data(), hash.size(), key.data(), key.size(),
                     reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size());
  std::string hex(hash.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), hash.data(), hash.size());
  hex.pop_back();
  return hex;
}

std::string file_text(const std::vector<MasterKey>& keys) {
  std::string text =
      "# carepath master keys: keep this file secret, readable by the engine's user only, and\n"
      "# apart from database backups. Losing it loses every case's encrypted fields.\n";
  text += kFileHeader;
  text += '\n';
  for (const auto& key : keys) {
    text += key.id + ' ' + encode_base64(key.bytes.data(), key.bytes.size()) + '\n';
  }
  return text;
}

// Creates `path` with mode 0400 and writes `text`; Errc::conflict when it exists.
Result<void> write_new_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
  if (fd < 0) {
    const int error = errno;
    return Error{error == EEXIST ? Errc::conflict : Errc::invalid_argument,
                 "cannot create key file " + path + ": " + std::strerror(error)};
  }
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return Error{Errc::storage, "cannot write key file " + path + ": " + std::strerror(error)};
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    ::unlink(path.c_str());
    return Error{Errc::storage, "cannot write key file " + path + ": fsync failed"};
  }
  return {};
}

std::string aead_seal(const unsigned char* key, std::string_view context,
                      const unsigned char* plaintext, std::size_t size) {
  std::vector<unsigned char> out(kNonceBytes + size + kTagBytes);
  public_random(out.data(), kNonceBytes);  // unique, not secret: from the pool
  unsigned long long length = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kNonceBytes, &length, plaintext, size,
                                             reinterpret_cast<const unsigned char*>(context.data()),
                                             context.size(), nullptr, out.data(), key);
  out.resize(kNonceBytes + length);
  return encode_base64(out.data(), out.size());
}

std::optional<std::vector<unsigned char>> aead_open(const unsigned char* key,
                                                    std::string_view context,
                                                    std::string_view sealed) {
  const auto bytes = decode_public_base64(sealed);  // nonce, ciphertext and tag: all public
  if (!bytes || bytes->size() < kNonceBytes + kTagBytes) {
    return std::nullopt;
  }
  std::vector<unsigned char> out(bytes->size() - kNonceBytes - kTagBytes);
  unsigned long long length = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          out.data(), &length, nullptr, bytes->data() + kNonceBytes, bytes->size() - kNonceBytes,
          reinterpret_cast<const unsigned char*>(context.data()), context.size(), bytes->data(),
          key) != 0) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

std::string wrap_context(std::string_view case_id, std::string_view master_id) {
  return "carepath case key|" + std::string(case_id) + "|" + std::string(master_id);
}

}  // namespace

const MasterKey* Keyring::find(std::string_view id) const {
  for (const auto& key : keys_) {
    if (key.id == id) {
      return &key;
    }
  }
  return nullptr;
}

MasterKey new_master_key() {
  ensure_sodium();
  MasterKey key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.bytes.data());
  key.id = key_id(key.bytes);
  return key;
}

Result<MasterKey> create_key_file(const std::string& path) {
  MasterKey key = new_master_key();
  if (auto written = write_new_file(path, file_text({key})); !written) {
    return written.error();
  }
  return key;
}

Result<Keyring> load_key_file(const std::string& path) {
  ensure_sodium();
  const std::string hint = "; create one with `carepath keys init FILE`";
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return Error{Errc::invalid_argument,
                 "master key file " + path + ": " + std::strerror(errno) + hint};
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Error{Errc::invalid_argument,
                 "master key file " + path +
                     " may be read by other users; make it readable by the engine's user only "
                     "(chmod 0400 " +
                     path + ")"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{Errc::invalid_argument, "master key file " + path + ": cannot read it" + hint};
  }
  std::vector<MasterKey> keys;
  std::string line;
  bool header = false;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (!header) {
      if (line != kFileHeader) {
        return Error{Errc::invalid_argument,
                     "master key file " + path + " is not a carepath key file" + hint};
      }
      header = true;
      continue;
    }
    const auto space = line.find(' ');
    const auto bytes = space == std::string::npos
                           ? std::nullopt
                           : decode_secret_base64(std::string_view(line).substr(space + 1));
    if (!bytes || bytes->size() != kKeyBytes) {
      return Error{Errc::invalid_argument, "master key file " + path + ": line " +
                                               std::to_string(number) + " is not a key"};
    }
    MasterKey key;
    std::copy(bytes->begin(), bytes->end(), key.bytes.begin());
    key.id = key_id(key.bytes);
    if (key.id != line.substr(0, space)) {
      return Error{Errc::invalid_argument, "master key file " + path + ": line " +
                                               std::to_string(number) +
                                               " has a damaged key (its id does not match)"};
    }
    keys.push_back(key);
  }
  if (keys.empty()) {
    return Error{Errc::invalid_argument, "master key file " + path + " holds no key" + hint};
  }
  return Keyring(std::move(keys));
}

Result<void> write_key_file(const std::string& path, const std::vector<MasterKey>& keys) {
  const std::string temporary = path + ".new";
  ::unlink(temporary.c_str());
  if (auto written = write_new_file(temporary, file_text(keys)); !written) {
    return written.error();
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return Error{Errc::storage, "cannot replace key file " + path + ": " + std::strerror(error)};
  }
  return {};
}

KeyBytes new_data_key() {
  ensure_sodium();
  KeyBytes key{};
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  return key;
}

std::string wrap_data_key(const Keyring& keyring, std::string_view case_id, const KeyBytes& key) {
  const MasterKey& master = keyring.current();
  return master.id + "." +
         aead_seal(master.bytes.data(), wrap_context(case_id, master.id), key.data(), key.size());
}

std::string_view wrapping_key_id(std::string_view wrapped) {
  return wrapped.substr(0, wrapped.find('.'));
}

Result<KeyBytes> unwrap_data_key(const Keyring& keyring, std::string_view case_id,
                                 std::string_view wrapped) {
  const std::string_view id = wrapping_key_id(wrapped);
  const MasterKey* master = keyring.find(id);
  if (master == nullptr || id.size() == wrapped.size()) {
    return Error{Errc::unauthenticated, "the data key of case " + std::string(case_id) +
                                            " is wrapped by master key " + std::string(id) +
                                            ", which the key file does not hold"};
  }
  const auto opened =
      aead_open(master->bytes.data(), wrap_context(case_id, id), wrapped.substr(id.size() + 1));
  if (!opened || opened->size() != kKeyBytes) {
    return Error{Errc::unauthenticated, "the data key of case " + std::string(case_id) +
                                            " does not open: it was "
                                            "changed, or belongs to another case"};
  }
  KeyBytes key{};
  std::copy(opened->begin(), opened->end(), key.begin());
  return key;
}

std::string seal(const KeyBytes& key, std::string_view context, std::string_view plaintext) {
  ensure_sodium();
  return aead_seal(key.data(), context, reinterpret_cast<const unsigned char*>(plaintext.data()),
                   plaintext.size());
}

Result<std::string> open(const KeyBytes& key, std::string_view context, std::string_view sealed) {
  const auto opened = aead_open(key.data(), context, sealed);
  if (!opened) {
    return Error{Errc::unauthenticated, "a sealed value does not open under " +
                                            std::string(context.substr(0, context.find('|'))) +
                                            ": it was changed, moved, or sealed with another key"};
  }
  return std::string(opened->begin(), opened->end());
}

std::string keyed_hash(const KeyBytes& key, std::string_view message) {
  ensure_sodium();
  std::array<unsigned char, 32> hash{};
  crypto_generichash(hash.data(), hash.size(),
                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                     key.data(), key.size());
  std::string hex(hash.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), hash.data(), hash.size());
  hex.pop_back();
  return hex;
}

}  // namespace carepath::security
