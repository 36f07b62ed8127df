#include "api/openapi.hpp"

#include <stdexcept>
#include <string>

#include "workflow/loader.hpp"

namespace carepath::api {

// Defined in the file CMake generates from docs/openapi.yaml (embed_openapi.cmake).
extern const char* const kOpenApiYaml;

std::string_view openapi_yaml() {
  return kOpenApiYaml;
}

const boost::json::value& openapi_document() {
  static const boost::json::value document = [] {
    // The loader's reading of YAML as JSON: the YAML 1.2 core schema, quoted scalars as strings,
    // keys in order.
    auto converted = workflow::workflow_as_json(openapi_yaml());
    if (!converted) {
      throw std::logic_error("embedded docs/openapi.yaml: " + converted.error().message);
    }
    return std::move(*converted);
  }();
  return document;
}

}  // namespace carepath::api
