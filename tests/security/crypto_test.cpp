// Encryption at rest, without a database: key files, wrapped data keys and sealed values, and
// every way a ciphertext must refuse to open.
#include "security/crypto.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/temp_dir.hpp"

namespace carepath::security {
namespace {

namespace fs = std::filesystem;

TEST(KeyFile, IsCreatedOnceWithMode0400AndReadBack) {
  test::TempDir dir;
  const std::string path = (dir / "master.key").string();
  auto created = create_key_file(path);
  ASSERT_TRUE(created) << created.error().message;
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0400U);
  EXPECT_EQ(create_key_file(path).error().code, Errc::conflict) << "never overwritten";

  auto loaded = load_key_file(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->current().id, created->id);
  EXPECT_EQ(loaded->current().bytes, created->bytes);
  EXPECT_EQ(created->id.size(), 16U);
}

TEST(KeyFile, RefusesMissingLooseOrDamagedFiles) {
  test::TempDir dir;
  const std::string missing = (dir / "none.key").string();
  auto r = load_key_file(missing);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("carepath keys init"), std::string::npos) << r.error().message;

  const std::string loose = (dir / "loose.key").string();
  ASSERT_TRUE(create_key_file(loose));
  fs::permissions(loose, fs::perms::owner_read | fs::perms::group_read);
  r = load_key_file(loose);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("chmod 0400"), std::string::npos) << r.error().message;

  const std::string other = (dir / "other.key").string();
  std::ofstream(other) << "not a key file\n";
  fs::permissions(other, fs::perms::owner_read);
  r = load_key_file(other);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("is not a carepath key file"), std::string::npos);

  const std::string damaged = (dir / "damaged.key").string();
  std::ofstream(damaged) << "carepath-master-keys 1\n0011223344556677 "
                            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
  fs::permissions(damaged, fs::perms::owner_read);
  r = load_key_file(damaged);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("its id does not match"), std::string::npos);
}

TEST(KeyFile, RewritingKeepsOlderKeysAfterTheNewOne) {
  test::TempDir dir;
  const std::string path = (dir / "master.key").string();
  auto first = create_key_file(path);
  ASSERT_TRUE(first);
  const MasterKey second = new_master_key();
  ASSERT_TRUE(write_key_file(path, {second, *first}));
  auto loaded = load_key_file(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->current().id, second.id);
  EXPECT_NE(loaded->find(first->id), nullptr);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0400U);
}

TEST(DataKeys, WrapToTheirCaseAndOpenOnlyThere) {
  const Keyring keyring({new_master_key()});
  const KeyBytes key = new_data_key();
  const std::string wrapped = wrap_data_key(keyring, "case-a", key);
  EXPECT_EQ(wrapping_key_id(wrapped), keyring.current().id);
  auto opened = unwrap_data_key(keyring, "case-a", wrapped);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, key);
  // Copied to another case's row: refused.
  EXPECT_EQ(unwrap_data_key(keyring, "case-b", wrapped).error().code, Errc::unauthenticated);
  // Another key file: refused, naming the key it needs.
  const Keyring other({new_master_key()});
  auto wrong = unwrap_data_key(other, "case-a", wrapped);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find(keyring.current().id), std::string::npos);
  // A changed byte: refused.
  std::string changed = wrapped;
  changed[changed.size() - 3] = changed[changed.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(unwrap_data_key(keyring, "case-a", changed));
  // After a rotation the keyring holds both keys and opens both wrappings.
  const Keyring rotated({new_master_key(), keyring.current()});
  EXPECT_TRUE(unwrap_data_key(rotated, "case-a", wrapped));
  EXPECT_TRUE(unwrap_data_key(rotated, "case-a", wrap_data_key(rotated, "case-a", key)));
}

TEST(SealedValues, OpenOnlyWithTheirKeyAndContext) {
  const KeyBytes key = new_data_key();
  const std::string sealed = seal(key, "carepath field|c1|name|1", "\"Invented Name\"");
  EXPECT_EQ(sealed.find("Invented"), std::string::npos);
  auto opened = open(key, "carepath field|c1|name|1", sealed);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, "\"Invented Name\"");
  // Swapped into another field, another case, another key version, or opened with another key.
  EXPECT_FALSE(open(key, "carepath field|c1|address|1", sealed));
  EXPECT_FALSE(open(key, "carepath field|c2|name|1", sealed));
  EXPECT_FALSE(open(key, "carepath field|c1|name|2", sealed));
  EXPECT_FALSE(open(new_data_key(), "carepath field|c1|name|1", sealed));
  EXPECT_FALSE(open(key, "carepath field|c1|name|1", "not base64!"));
  EXPECT_FALSE(open(key, "carepath field|c1|name|1", ""));
  // Two seals of one value differ (random nonces).
  EXPECT_NE(seal(key, "x", "same"), seal(key, "x", "same"));
}

TEST(KeyedHash, DependsOnKeyAndMessage) {
  const KeyBytes a = new_data_key();
  const KeyBytes b = new_data_key();
  EXPECT_EQ(keyed_hash(a, "name:asha"), keyed_hash(a, "name:asha"));
  EXPECT_NE(keyed_hash(a, "name:asha"), keyed_hash(b, "name:asha"));
  EXPECT_NE(keyed_hash(a, "name:asha"), keyed_hash(a, "name:asha "));
  EXPECT_EQ(keyed_hash(a, "x").size(), 64U);
}

}  // namespace
}  // namespace carepath::security
