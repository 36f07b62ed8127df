// Fuzz target: a workflow file's text through the loader (YAML -> checked Workflow), its JSON
// view (workflow_as_json), and, for what loads, the graph renderers and the diff against the
// shipped aftercare workflow.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "workflow/diff.hpp"
#include "workflow/graph.hpp"
#include "workflow/loader.hpp"

namespace {

using namespace carepath;

const fuzz::AnyStepCatalog& catalog() {
  static const fuzz::AnyStepCatalog steps;
  return steps;
}

const Workflow& shipped() {
  static const auto loaded = [] {
    auto r = workflow::load_workflow_file(fuzz::source_dir() / "workflows" / "aftercare.yaml",
                                          &catalog());
    FUZZ_CHECK(r.ok());
    return r.workflow;
  }();
  return *loaded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Workflow& reference = shipped();

  (void)workflow::workflow_as_json(text);

  const auto loaded = workflow::load_workflow_text(text, "fuzz.yaml", &catalog());
  bool any_error = false;
  for (const auto& d : loaded.diagnostics) {
    FUZZ_CHECK(d.line >= 0 && d.column >= 0);
    FUZZ_CHECK(!d.message.empty());
    any_error = any_error || d.severity == workflow::Severity::error;
    (void)workflow::to_string(d);
  }
  // A workflow is given exactly when no error was reported.
  FUZZ_CHECK(loaded.ok() == !any_error);
  if (!loaded.ok()) {
    return 0;
  }
  const Workflow& w = *loaded.workflow;
  (void)workflow::to_mermaid(w);
  (void)workflow::to_dot(w);
  (void)workflow::diff_to_text(workflow::diff_workflows(reference, w));
  (void)workflow::diff_to_json(workflow::diff_workflows(w, reference));
  (void)workflow::diff_workflows(w, w);
  return 0;
}
