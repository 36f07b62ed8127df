// What the workflow loader knows about reading YAML, shared with the other files admins write
// (migration plans): positions as editors count them, typo suggestions, YAML values as JSON.
// Inside the workflow library only: it exposes yaml-cpp types.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/model.hpp"

namespace carepath::workflow::detail {

// The 1-based line and character (not byte) column of `mark` in `text`.
SourcePos position_in(std::string_view text, const YAML::Mark& mark);

// The documents of `text`, read as YAML::LoadAll reads them but without its endless loop:
// yaml-cpp 0.7 (Debian 12) answers a token no node can start with, such as a ',' at the top
// level, with an empty document that consumes nothing, forever, each one kept in memory
// (upstream issue 1040, fixed after 0.8). Found by fuzzing. Throws YAML::Exception like
// LoadAll, and YAML::ParserException at that token.
struct YamlDocuments {
  struct Later {
    YAML::Mark mark;    // where its root node starts
    bool null = false;  // an empty document (a trailing '---')
  };
  std::size_t count = 0;
  YAML::Node first;          // the first document; a null node when there is none
  std::vector<Later> later;  // every document after the first
};
YamlDocuments load_documents(std::string_view text);

// "expected one of: a, b, c; did you mean 'b'?" for a word that is not among `candidates`.
std::string expected_one_of(std::string_view word, std::span<const std::string> candidates);

// "a map", "a list", "a single value" or "nothing".
std::string_view kind_name(const YAML::Node& node);

// A YAML node as JSON: plain scalars under the YAML 1.2 core schema (null, booleans, integers,
// floats), quoted and block scalars as strings, an empty value as null. Errc::invalid_argument
// for a key that is not a single value or a number JSON cannot hold.
Result<boost::json::value> node_as_json(const YAML::Node& node);

}  // namespace carepath::workflow::detail
