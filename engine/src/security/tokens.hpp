// API bearer tokens: issued once to a user with roles, stored only as a hash, checked per request.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/actor.hpp"
#include "core/error.hpp"
#include "core/store.hpp"
#include "core/time.hpp"

namespace carepath::security {

struct IssuedToken {
  std::string token;   // shown to the user once; never stored or logged
  TokenRecord record;  // what the store keeps
};

// Which cases a token's holder works on (see core/access.hpp): the user's teams, for cases
// assigned to "team:<team>", and the homes whose cases it sees.
struct TokenScope {
  std::vector<std::string> teams{};
  std::vector<std::string> homes{};
};

// A new token "cp_<id>_<secret>" for `user` with `roles` and `scope`: id is 12 hex digits (the
// public handle for `token list` and `token revoke`), secret 64 hex digits (256 bits). The caller
// stores `record` with Store::create_token and hands `token` to the user.
// Errc::invalid_argument when `user` is not 1-64 of [A-Za-z0-9._@-] or a role is not
// [a-z][a-z0-9_]{0,63}, or a team or home is not.
Result<IssuedToken> issue_token(std::string user, std::vector<std::string> roles, Timestamp now,
                                TokenScope scope = {});

// The actor holding `token`. Errc::unauthenticated when the text is not a token or the token
// is unknown or revoked; store failures are passed on unchanged.
Result<Actor> authenticate(Store& store, std::string_view token);

}  // namespace carepath::security
