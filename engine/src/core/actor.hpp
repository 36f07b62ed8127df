// Who is acting: a user with roles (from a token), or the engine itself.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace carepath {

// The user name of the engine's own actions (timers, steps, migrations); no token may carry it.
inline constexpr std::string_view kSystemUser = "system";

struct Actor {
  std::string user;                  // "system" for the engine itself
  std::vector<std::string> roles;    // as granted by the token
  std::vector<std::string> teams{};  // the user's teams (cases assigned to "team:<team>")
  std::vector<std::string> homes{};  // when not empty, the homes whose cases it sees

  bool has_role(std::string_view role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  }
  // True when the actor holds at least one of `allowed`.
  bool has_any_role(std::span<const std::string> allowed) const {
    return std::any_of(allowed.begin(), allowed.end(),
                       [this](const std::string& r) { return has_role(r); });
  }
};

}  // namespace carepath
