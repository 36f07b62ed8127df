# cmake -DINPUT=docs/openapi.yaml -DOUTPUT=openapi_yaml.cpp -P embed_openapi.cmake
# Writes a C++ file defining carepath::api::kOpenApiYaml, the text of INPUT as a raw string.
file(READ "${INPUT}" text)
set(delimiter "cp_openapi")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains ')${delimiter}\"'; choose another delimiter")
endif()
set(content "// Generated from ${INPUT} by embed_openapi.cmake; do not edit.
namespace carepath::api {
extern const char* const kOpenApiYaml;
const char* const kOpenApiYaml = R\"${delimiter}(${text})${delimiter}\";
}  // namespace carepath::api
")
# Rewritten only when the text changed, so an unchanged document recompiles nothing.
set(old "")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUTPUT}" "${content}")
endif()
