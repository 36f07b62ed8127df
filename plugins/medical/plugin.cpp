// The medical plugin: health checks at intake and after. This file is its manifest: the step
// types, their schemas and the case fields each may read.
#include <carepath/plugin.hpp>

#include "check_step.hpp"

CP_PLUGIN(medical, "0.1.0",
          carepath::sdk::step_type<medical::CheckStep>(
              "medical.check", medical::kCheckSchema, {"medical_checks_done", "medical_flags"},
              "Says which examinations are due, whether the child is medically cleared and "
              "whether anything needs follow-up"))
