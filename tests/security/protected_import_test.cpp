// The sealing store's import: a batch is written only through the store that sealed it, so cases
// that skipped the sealing can never reach the database in plaintext.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "security/crypto.hpp"
#include "security/protected_store.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::security {
namespace {

constexpr Timestamp kT0 = 1'790'000'000'000;

// One case of one "opened" entry; every value is obviously fake.
ImportedCase fake_case() {
  ImportedCase c;
  c.record.id = "id-1";
  c.record.code = "TEST-1";
  c.record.workflow = "shelter";
  c.record.workflow_version = 1;
  c.record.state = "intake";
  c.record.data = {{"name", "Fakename Alpha"}};
  c.record.version = 1;
  c.record.created_at = kT0;
  c.record.updated_at = kT0;
  HistoryEntry opened;
  opened.seq = 1;
  opened.version = 1;
  opened.at = kT0;
  opened.actor = "test-worker";
  opened.event = "opened";
  opened.to = "intake";
  opened.payload = {{"name", "Fakename Alpha"}};
  c.history.push_back(opened);
  return c;
}

TEST(ProtectedImport, WritesOnlyABatchItSealedItself) {
  test::TempDir dir;
  const auto key_path = (dir / "master.key").string();
  ASSERT_TRUE(create_key_file(key_path));
  auto keys = KeyFile::open(key_path);
  ASSERT_TRUE(keys) << keys.error().message;
  auto inner = store::SqliteStore::open(":memory:");
  ASSERT_TRUE(inner) << inner.error().message;
  ASSERT_TRUE(check_database_key(**inner, **keys));
  ProtectedStore sealing(**inner, std::move(*keys),
                         [](const std::string&, int) { return nullptr; });

  // Prepared by the database store alone: its values are plaintext.
  auto plaintext = (*inner)->prepare_import({fake_case()});
  ASSERT_TRUE(plaintext) << plaintext.error().message;
  auto refused = sealing.write_import(*plaintext, "cli:tester", kT0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  EXPECT_NE(refused.error().message.find("prepare_import"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("Fakename"), std::string::npos);
  EXPECT_EQ((*inner)->get_case("id-1").error().code, Errc::not_found);

  // The sealing store's own preparation needs the case's workflow (here: none is loaded).
  auto unknown = sealing.prepare_import({fake_case()});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::invalid_argument);
  EXPECT_EQ(unknown.error().message.find("Fakename"), std::string::npos);
}

}  // namespace
}  // namespace carepath::security
