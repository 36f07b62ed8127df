// The legal_aid plugin: referrals to legal-aid providers and the hearings that follow. This file
// is its manifest: the step types, their schemas and the case fields each may read.
#include <carepath/plugin.hpp>

#include "record_hearing_step.hpp"
#include "refer_step.hpp"

CP_PLUGIN(legal_aid, "0.1.0",
          carepath::sdk::step_type<legal_aid::ReferStep>(
              "legal_aid.refer", legal_aid::kReferSchema, {},
              "Refers the case to a legal-aid provider (DLSA, SLSA or an NGO panel lawyer)"),
          carepath::sdk::step_type<legal_aid::RecordHearingStep>(
              "legal_aid.record_hearing", legal_aid::kRecordHearingSchema,
              {"hearing_count", "next_hearing_date"},
              "Counts a hearing before a court or committee and notes the forum"))
