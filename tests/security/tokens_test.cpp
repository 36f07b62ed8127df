#include "security/tokens.hpp"

#include <array>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "security/digest.hpp"
#include "security/random.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::security {
namespace {

constexpr Timestamp kT0 = 1'790'000'000'000;

bool is_lower_hex(const std::string& text) {
  return text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::unique_ptr<store::SqliteStore> memory_store() {
  auto opened = store::SqliteStore::open(":memory:");
  if (!opened) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  return std::move(*opened);
}

TEST(Digest, MatchesKnownSha256Vectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Random, HexHasTwoDigitsPerByte) {
  EXPECT_EQ(random_hex(0), "");
  for (std::size_t bytes : {1U, 6U, 32U, 100U}) {
    const std::string hex = random_hex(bytes);
    EXPECT_EQ(hex.size(), bytes * 2);
    EXPECT_TRUE(is_lower_hex(hex)) << hex;
  }
}

TEST(Random, Base32UsesCrockfordAlphabetOnly) {
  EXPECT_EQ(random_base32(0), "");
  std::set<char> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string text = random_base32(10);
    ASSERT_EQ(text.size(), 10U);
    for (char c : text) {
      EXPECT_NE(kCrockfordAlphabet.find(c), std::string_view::npos) << c;
      seen.insert(c);
    }
  }
  for (char excluded : {'I', 'L', 'O', 'U'}) {
    EXPECT_EQ(seen.count(excluded), 0U);
  }
  // 2000 draws from 32 symbols: missing any one has probability below 1e-12.
  EXPECT_EQ(seen.size(), 32U);
}

TEST(Random, IdHexHasTwoDigitsPerByte) {
  EXPECT_EQ(random_id_hex(0), "");
  for (std::size_t bytes : {1U, 8U, 16U, 600U}) {  // 600: more than one refill of the pool
    const std::string hex = random_id_hex(bytes);
    EXPECT_EQ(hex.size(), bytes * 2);
    EXPECT_TRUE(is_lower_hex(hex)) << hex;
  }
}

TEST(Random, ValuesDoNotRepeat) {
  std::set<std::string> hex;
  std::set<std::string> ids;
  std::set<std::string> base32;
  for (int i = 0; i < 1000; ++i) {
    hex.insert(random_hex(16));
    ids.insert(random_id_hex(16));
    base32.insert(random_base32(16));
  }
  EXPECT_EQ(hex.size(), 1000U);
  EXPECT_EQ(ids.size(), 1000U);
  EXPECT_EQ(base32.size(), 1000U);
}

TEST(Random, CaseIdsOfOneRunSortInTheOrderTheyWereMade) {
  std::vector<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    ids.push_back(new_case_id());
  }
  std::set<std::string> suffixes;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(ids[i].size(), 32U);
    EXPECT_TRUE(is_lower_hex(ids[i])) << ids[i];
    EXPECT_EQ(ids[i].substr(0, 6), ids[0].substr(0, 6));  // the run's prefix
    if (i > 0) {
      EXPECT_LT(ids[i - 1], ids[i]);
    }
    suffixes.insert(ids[i].substr(12));  // the 80 random bits
  }
  EXPECT_EQ(suffixes.size(), ids.size());
}

// `draw` called `per_thread` times on each of `threads` threads running at once: every value.
std::vector<std::string> drawn_on_threads(int threads, int per_thread,
                                          const std::function<std::string()>& draw) {
  std::vector<std::vector<std::string>> drawn(static_cast<std::size_t>(threads));
  std::vector<std::thread> running;
  running.reserve(drawn.size());
  for (auto& values : drawn) {
    running.emplace_back([&values, per_thread, &draw] {
      for (int i = 0; i < per_thread; ++i) {
        values.push_back(draw());
      }
    });
  }
  for (auto& thread : running) {
    thread.join();
  }
  std::vector<std::string> all;
  for (auto& values : drawn) {
    all.insert(all.end(), values.begin(), values.end());
  }
  return all;
}

TEST(Random, CaseIdsMadeOnManyThreadsAreUnique) {
  constexpr int kThreads = 4;
  constexpr int kIds = 3000;
  const auto counters = drawn_on_threads(kThreads, kIds, [] {
    return new_case_id().substr(0, 12);  // prefix and counter
  });
  EXPECT_EQ(std::set<std::string>(counters.begin(), counters.end()).size(),
            static_cast<std::size_t>(kThreads * kIds));  // no counter twice
}

// Each thread has its own pool, refilled many times over here (512 bytes hold 32 draws): no
// draw may repeat another, within a thread or across threads.
TEST(Random, PoolsOfDifferentThreadsNeverServeTheSameBytes) {
  constexpr int kThreads = 4;
  constexpr int kDraws = 5000;
  const auto drawn = drawn_on_threads(kThreads, kDraws, [] {
    std::array<unsigned char, 16> bytes{};
    public_random(bytes.data(), bytes.size());
    return std::string(bytes.begin(), bytes.end());
  });
  EXPECT_EQ(std::set<std::string>(drawn.begin(), drawn.end()).size(),
            static_cast<std::size_t>(kThreads * kDraws));
}

// A child made by fork() inherits its parent's pool; if it served those bytes the parent's next
// nonce would be the child's too. The child must refill instead.
TEST(Random, ForkedChildDoesNotServeItsParentsPool) {
  std::array<unsigned char, 16> before{};
  public_random(before.data(), before.size());  // the pool is full now, 496 bytes left
  std::array<int, 2> pipe_fds{};
  ASSERT_EQ(::pipe(pipe_fds.data()), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::array<unsigned char, 16> in_child{};
    public_random(in_child.data(), in_child.size());
    const bool sent = ::write(pipe_fds[1], in_child.data(), in_child.size()) ==
                      static_cast<ssize_t>(in_child.size());
    ::_exit(sent ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::array<unsigned char, 16> in_child{};
  const auto got = ::read(pipe_fds[0], in_child.data(), in_child.size());
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, static_cast<ssize_t>(in_child.size()));
  std::array<unsigned char, 16> in_parent{};
  public_random(in_parent.data(), in_parent.size());
  EXPECT_NE(in_child, in_parent);
  EXPECT_NE(in_child, before);
}

TEST(Tokens, IssuesTokenWhoseHashIsStoredNotTheToken) {
  auto issued = issue_token("caseworker.one", {"caseworker", "supervisor"}, kT0);
  ASSERT_TRUE(issued) << issued.error().message;
  const std::string& token = issued->token;
  ASSERT_EQ(token.size(), 3U + 12U + 1U + 64U);
  EXPECT_EQ(token.substr(0, 3), "cp_");
  EXPECT_EQ(token.substr(3, 12), issued->record.id);
  EXPECT_EQ(token[15], '_');
  EXPECT_TRUE(is_lower_hex(issued->record.id));
  EXPECT_TRUE(is_lower_hex(token.substr(16)));
  EXPECT_EQ(issued->record.hash, sha256_hex(token));
  EXPECT_EQ(issued->record.user, "caseworker.one");
  EXPECT_EQ(issued->record.roles, (std::vector<std::string>{"caseworker", "supervisor"}));
  EXPECT_EQ(issued->record.created_at, kT0);
  EXPECT_FALSE(issued->record.revoked_at);

  auto other = issue_token("caseworker.one", {"caseworker"}, kT0);
  ASSERT_TRUE(other);
  EXPECT_NE(other->token, token);
  EXPECT_NE(other->record.id, issued->record.id);
}

TEST(Tokens, RejectsInvalidUserAndRoleNames) {
  for (const std::string& user : {std::string(), std::string(65, 'a'), std::string("has space"),
                                  std::string("a/b"), std::string("naïve")}) {
    auto issued = issue_token(user, {"caseworker"}, kT0);
    ASSERT_FALSE(issued) << user;
    EXPECT_EQ(issued.error().code, Errc::invalid_argument);
  }
  EXPECT_TRUE(issue_token(std::string(64, 'a'), {}, kT0));
  EXPECT_TRUE(issue_token("Admin-2@ngo.example", {"admin"}, kT0));

  for (const std::string& role :
       {std::string(), std::string("Admin"), std::string("1role"), std::string("_role"),
        std::string("case-worker"), "a" + std::string(64, 'b')}) {
    auto issued = issue_token("caseworker.one", {"caseworker", role}, kT0);
    ASSERT_FALSE(issued) << role;
    EXPECT_EQ(issued.error().code, Errc::invalid_argument);
    EXPECT_EQ(issued.error().message.find(role.empty() ? "\x01" : role), std::string::npos);
  }
  EXPECT_TRUE(issue_token("caseworker.one", {"a" + std::string(63, 'b'), "case_worker2"}, kT0));
}

TEST(Tokens, AuthenticatesIssuedTokenThroughSqliteStore) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  auto issued = issue_token("caseworker.one", {"caseworker"}, kT0);
  ASSERT_TRUE(issued);
  ASSERT_TRUE(store->create_token(issued->record));

  auto actor = authenticate(*store, issued->token);
  ASSERT_TRUE(actor) << actor.error().message;
  EXPECT_EQ(actor->user, "caseworker.one");
  EXPECT_EQ(actor->roles, std::vector<std::string>{"caseworker"});
  EXPECT_TRUE(actor->has_role("caseworker"));

  // Only the hash was stored.
  auto listed = store->tokens();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_NE((*listed)[0].hash, issued->token);
  EXPECT_EQ((*listed)[0].hash.find(issued->token.substr(16)), std::string::npos);
}

TEST(Tokens, RefusesRevokedToken) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  auto issued = issue_token("caseworker.one", {"caseworker"}, kT0);
  ASSERT_TRUE(issued);
  ASSERT_TRUE(store->create_token(issued->record));
  ASSERT_TRUE(authenticate(*store, issued->token));

  ASSERT_TRUE(store->revoke_token(issued->record.id, kT0 + 1));
  auto actor = authenticate(*store, issued->token);
  ASSERT_FALSE(actor);
  EXPECT_EQ(actor.error().code, Errc::unauthenticated);
  EXPECT_EQ(actor.error().message, "unknown or revoked token");
}

TEST(Tokens, RefusesTamperedUnknownAndMalformedTokens) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  auto issued = issue_token("caseworker.one", {"caseworker"}, kT0);
  ASSERT_TRUE(issued);
  ASSERT_TRUE(store->create_token(issued->record));
  const std::string& token = issued->token;

  std::string tampered_secret = token;
  tampered_secret.back() = tampered_secret.back() == '0' ? '1' : '0';
  std::string tampered_id = token;
  tampered_id[3] = tampered_id[3] == '0' ? '1' : '0';
  const auto unknown = issue_token("caseworker.one", {"caseworker"}, kT0);
  ASSERT_TRUE(unknown);

  for (const std::string& bad : {tampered_secret, tampered_id, unknown->token}) {
    auto actor = authenticate(*store, bad);
    ASSERT_FALSE(actor);
    EXPECT_EQ(actor.error().code, Errc::unauthenticated);
    EXPECT_EQ(actor.error().message, "unknown or revoked token");
  }

  std::string upper = token;
  for (auto& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (const std::string& bad :
       {std::string(), std::string("cp_"), token.substr(0, token.size() - 1), token + "0",
        "xx" + token.substr(2), std::string(token).replace(15, 1, "-"), upper,
        std::string("Bearer ") + token}) {
    auto actor = authenticate(*store, bad);
    ASSERT_FALSE(actor) << bad;
    EXPECT_EQ(actor.error().code, Errc::unauthenticated);
  }
}

}  // namespace
}  // namespace carepath::security
