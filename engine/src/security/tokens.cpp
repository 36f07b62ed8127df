#include "security/tokens.hpp"

#include <algorithm>
#include <utility>

#include "security/digest.hpp"
#include "security/random.hpp"

namespace carepath::security {
namespace {

constexpr std::string_view kPrefix = "cp_";
constexpr std::size_t kIdBytes = 6;
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kTokenSize = kPrefix.size() + kIdBytes * 2 + 1 + kSecretBytes * 2;
constexpr std::size_t kMaxNameSize = 64;

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_valid_user(std::string_view user) {
  if (user.empty() || user.size() > kMaxNameSize) {
    return false;
  }
  return std::all_of(user.begin(), user.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '@' || c == '-';
  });
}

bool is_valid_role(std::string_view role) {
  if (role.empty() || role.size() > kMaxNameSize || role[0] < 'a' || role[0] > 'z') {
    return false;
  }
  return std::all_of(role.begin(), role.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Checks the shape only, so that garbage never reaches the store.
bool is_well_formed(std::string_view token) {
  if (token.size() != kTokenSize || token.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  const std::string_view rest = token.substr(kPrefix.size());
  return rest[kIdBytes * 2] == '_' && is_lower_hex(rest.substr(0, kIdBytes * 2)) &&
         is_lower_hex(rest.substr(kIdBytes * 2 + 1));
}

}  // namespace

Result<IssuedToken> issue_token(std::string user, std::vector<std::string> roles, Timestamp now,
                                TokenScope scope) {
  // The offending text is left out of messages: it may be anything, of any length.
  if (!is_valid_user(user)) {
    return make_error(Errc::invalid_argument,
                      "invalid user name: use 1-64 characters from A-Z a-z 0-9 . _ @ -");
  }
  // The engine acts as "system" (it passes every role check) and the audit trail names callers
  // without a valid token "anonymous": no person may be either.
  if (user == kSystemUser || user == "anonymous") {
    return make_error(Errc::invalid_argument,
                      "the user names 'system' and 'anonymous' are reserved for the engine");
  }
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (!is_valid_role(roles[i])) {
      return make_error(Errc::invalid_argument,
                        "role " + std::to_string(i + 1) +
                            ": invalid role name: use a lower-case letter, then up to 63 of "
                            "a-z 0-9 _");
    }
  }

  for (const auto& [what, names] :
       {std::pair{"team", &scope.teams}, std::pair{"home", &scope.homes}}) {
    for (std::size_t i = 0; i < names->size(); ++i) {
      if (!is_valid_role((*names)[i])) {
        return make_error(Errc::invalid_argument,
                          std::string(what) + " " + std::to_string(i + 1) + ": invalid " + what +
                              " name: use a lower-case letter, then up to 63 of a-z 0-9 _");
      }
    }
  }

  IssuedToken issued;
  issued.record.id = random_id_hex(kIdBytes);
  issued.token = std::string(kPrefix) + issued.record.id + "_" + random_hex(kSecretBytes);
  issued.record.hash = sha256_hex(issued.token);
  issued.record.user = std::move(user);
  issued.record.roles = std::move(roles);
  issued.record.teams = std::move(scope.teams);
  issued.record.homes = std::move(scope.homes);
  issued.record.created_at = now;
  return issued;
}

Result<Actor> authenticate(Store& store, std::string_view token) {
  if (!is_well_formed(token)) {
    return make_error(Errc::unauthenticated, "malformed token");
  }
  auto found = store.find_token(sha256_hex(token));
  if (!found) {
    return found.error();
  }
  // The id check is belt and braces: the hash already covers the id.
  const std::string_view id = token.substr(kPrefix.size(), kIdBytes * 2);
  if (!*found || (*found)->revoked_at || (*found)->id != id) {
    return make_error(Errc::unauthenticated, "unknown or revoked token");
  }
  return Actor{std::move((*found)->user), std::move((*found)->roles), std::move((*found)->teams),
               std::move((*found)->homes)};
}

}  // namespace carepath::security
