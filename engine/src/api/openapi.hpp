// The API's own description: docs/openapi.yaml, embedded at build time and served as JSON at
// GET /v1/openapi.json.
#pragma once

#include <string_view>

#include <boost/json/value.hpp>

namespace carepath::api {

// docs/openapi.yaml as it was when the engine was built.
std::string_view openapi_yaml();

// openapi_yaml() as JSON, converted on the first call. Thread-safe; the value lives until exit.
// Throws std::logic_error when the embedded text is not YAML (a build that no test passed).
const boost::json::value& openapi_document();

}  // namespace carepath::api
