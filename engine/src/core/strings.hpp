// Small helpers for the lists of names that messages and problem details carry.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>

namespace carepath {

// "a, b, c".
inline std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

// ["a", "b", "c"].
inline boost::json::array to_json_array(const std::vector<std::string>& items) {
  boost::json::array out;
  out.reserve(items.size());
  for (const auto& item : items) {
    out.emplace_back(item);
  }
  return out;
}

}  // namespace carepath
