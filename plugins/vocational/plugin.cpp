// The vocational plugin: vocational training for older children, with partners who run the
// courses. This file is its manifest: the step types, their schemas and the case fields each may
// read.
#include <carepath/plugin.hpp>

#include "assess_interest_step.hpp"
#include "place_step.hpp"

CP_PLUGIN(vocational, "0.1.0",
          carepath::sdk::step_type<vocational::AssessInterestStep>(
              "vocational.assess_interest", vocational::kAssessInterestSchema,
              {"age", "education_level", "interests"},
              "Suggests a vocational track from age, schooling and stated interests"),
          carepath::sdk::step_type<vocational::PlaceStep>(
              "vocational.place", vocational::kPlaceSchema, {"vocational_track"},
              "Places the child with a training partner that runs the course and has a free place"))
