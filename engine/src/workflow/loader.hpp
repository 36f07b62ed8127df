// Workflow files (YAML, format 1) to a compiled core Workflow, with file:line:col diagnostics.
//
// The format is described for admins in docs/workflow-format.md; this loader is its reference.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/error.hpp"
#include "core/model.hpp"

namespace carepath::workflow {

enum class Severity { error = 1, warning };

// One finding about a workflow file. Lines and columns are 1-based; columns count characters
// (UTF-8 code points), not bytes. Line 0 means "the file as a whole" (it could not be read).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  Severity severity = Severity::error;
  std::string message;
};

// "FILE:LINE:COL: error: MESSAGE" (or "warning:"), the shape compilers use, so editors and CI
// logs turn it into a link.
std::string to_string(const Diagnostic& d);

struct LoadResult {
  std::shared_ptr<const Workflow> workflow;  // null when any error
  std::vector<Diagnostic> diagnostics;       // errors and warnings in file order
  bool ok() const { return workflow != nullptr; }
  std::string source;  // the text that was loaded
};

// Parses and validates `text` in one pass, collecting every error it can rather than stopping
// at the first. `file_name` is used in diagnostics and as Workflow::source_file. Never throws
// (except std::bad_alloc). Workflow::sha256 is left empty for the caller to fill.
//
// Step calls (`on_enter`, `on_exit`, a transition's `steps`) name types in `steps`; each call's
// `with:` block is validated against its type's schema and the type's create() is called, so a
// loaded workflow holds ready StepInstances. With no catalog, any step call is an error.
// `steps` is used only during the call.
LoadResult load_workflow_text(std::string_view text, std::string file_name,
                              const StepCatalog* steps = nullptr);

// Reads `path` and loads it as above. A file that cannot be read gives one error at line 0.
LoadResult load_workflow_file(const std::filesystem::path& path,
                              const StepCatalog* steps = nullptr);

// The keys format 1 allows in one kind of map, in the order the docs list them; any other key
// there is an error. `where` is one of: workflow (the top level), field, state, transition,
// step_call, retry, after, every, clock, trigger, clock_action, exclude. Empty for anything
// else. docs/workflow.schema.json describes the same maps; tests/workflow/schema_test.cpp keeps
// the two in step.
std::span<const std::string_view> known_keys(std::string_view where);

// A workflow file's text as JSON, the way a JSON Schema tool (docs/workflow.schema.json in an
// editor, ajv) reads it and as the loader reads `with:` settings: plain scalars under the YAML
// 1.2 core schema (null, true/false, integers, floats; anything else a string), quoted and block
// scalars as strings, an empty value as null. Only the first document. Errc::invalid_argument
// for invalid YAML, a key that is not a single value, or a number JSON cannot hold (.inf, .nan).
// Checks nothing about the format: that is load_workflow_text()'s job.
Result<boost::json::value> workflow_as_json(std::string_view text);

}  // namespace carepath::workflow
