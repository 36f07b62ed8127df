// replay and compare: a case's projection rebuilt from its history, and what differs from its row.
#include "core/replay.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace carepath {
namespace {

constexpr Timestamp kAt = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

// Entries are numbered in the order they are made, as the store numbers them.
class History {
 public:
  HistoryEntry& add(std::string event, std::string to, std::vector<std::string> changed,
                    const char* payload = "{}") {
    HistoryEntry e;
    e.seq = static_cast<std::int64_t>(entries.size()) + 1;
    e.version = e.seq;
    e.at = kAt + e.seq * 1000;
    e.actor = "asha";
    e.event = std::move(event);
    if (!entries.empty()) {
      e.from = entries.back().to;
    }
    e.to = std::move(to);
    e.changed = std::move(changed);
    e.payload = obj(payload);
    entries.push_back(std::move(e));
    return entries.back();
  }
  std::vector<HistoryEntry> entries;
};

CaseRecord row_of(const Projection& p) {
  CaseRecord r;
  r.id = "c1";
  r.state = p.state;
  r.data = p.data;
  r.version = p.version;
  r.workflow_version = p.workflow_version.value_or(1);
  r.created_at = p.created_at;
  r.updated_at = p.updated_at;
  r.erased_at = p.erased_at;
  return r;
}

TEST(Replay, TransitionsAndUpdatesRebuildStateDataAndVersion) {
  History h;
  h.add("opened", "intake", {"name", "age"}, R"({"name": "Test Child", "age": 12, "x": null})");
  h.add("updated", "intake", {"age", "school"},
        R"({"age": 13, "school": "GHS", "name": "Test Child"})");
  h.add("admit", "care", {"assigned_to"}, R"({"assigned_to": "role:counsellor"})");
  h.add("updated", "care", {"school"}, R"({"school": null})");
  const Projection p = replay(h.entries);
  EXPECT_EQ(p.entries, 4);
  EXPECT_EQ(p.state, "care");
  EXPECT_EQ(p.version, 4);
  EXPECT_EQ(p.data, obj(R"({"name": "Test Child", "age": 13, "assigned_to": "role:counsellor"})"));
  EXPECT_EQ(p.created_at, kAt + 1000);
  EXPECT_EQ(p.updated_at, kAt + 4000);
  EXPECT_TRUE(p.problems.empty());
  EXPECT_TRUE(p.unrecorded.empty());
  EXPECT_TRUE(compare(p, row_of(p)).empty());
}

TEST(Replay, PayloadMembersNotChangedAreNotApplied) {
  // A consent or clock event carries a reason in its payload, and changes no field.
  History h;
  h.add("opened", "intake", {"age"}, R"({"age": 12})");
  h.add("consent_given", "intake", {}, R"({"consent": "medical", "evidence": "form"})");
  h.add("clock_paused", "intake", {}, R"({"clock": "cwc", "reason": "holiday"})");
  const Projection p = replay(h.entries);
  EXPECT_EQ(p.data, obj(R"({"age": 12})"));
  EXPECT_EQ(p.version, 3);
}

TEST(Replay, ErasureRemovesTheNamedFieldsAndSetsErasedAt) {
  History h;
  h.add("opened", "intake", {"name", "age"},
        R"({"name": {"$sealed": "AAA", "key": 1}, "age": 12})");
  h.add("erased", "intake", {"name", "notes"});
  const Projection p = replay(h.entries);
  EXPECT_EQ(p.data, obj(R"({"age": 12})"));
  EXPECT_EQ(p.erased_at, kAt + 2000);
  CaseRecord row = row_of(p);
  EXPECT_TRUE(compare(p, row).empty());
  row.erased_at.reset();
  EXPECT_EQ(compare(p, row), std::vector<std::string>{"erased_at"});
}

TEST(Replay, RetentionStrippedPayloadsStillRebuildTheCase) {
  // strip_fields removed `notes` from the old payloads; the retention entry removes it from data.
  History h;
  h.add("opened", "intake", {"notes", "age"}, R"({"age": 12})");
  h.add("updated", "intake", {"notes"}, R"({})");
  Projection before = replay(h.entries);
  EXPECT_EQ(before.unrecorded, std::set<std::string>{"notes"});
  h.add("retention_applied", "intake", {"notes"});
  const Projection p = replay(h.entries);
  EXPECT_TRUE(p.unrecorded.empty());
  EXPECT_EQ(p.data, obj(R"({"age": 12})"));
  CaseRecord row = row_of(p);
  EXPECT_TRUE(compare(p, row).empty());
  row.data["notes"] = "left behind";
  EXPECT_EQ(compare(p, row), std::vector<std::string>{"field notes"});
}

TEST(Replay, MigrationRecordsTheWorkflowVersion) {
  History h;
  h.add("opened", "intake", {"home"}, R"({"home": "Umang"})");
  h.add("migrated", "care", {"home", "placement_home"},
        R"({"home": null, "placement_home": "Umang"})")
      .trigger = obj(R"({"migration": "p", "from_version": 1, "to_version": 2})");
  const Projection p = replay(h.entries);
  ASSERT_TRUE(p.workflow_version.has_value());
  EXPECT_EQ(*p.workflow_version, 2);
  EXPECT_EQ(p.data, obj(R"({"placement_home": "Umang"})"));
  CaseRecord row = row_of(p);
  EXPECT_TRUE(compare(p, row).empty());
  row.workflow_version = 1;
  EXPECT_EQ(compare(p, row), std::vector<std::string>{"workflow_version"});
}

TEST(Replay, AMigrationFromAnotherVersionThanTheLastIsAProblem) {
  History h;
  h.add("opened", "intake", {});
  h.add("migrated", "intake", {}).trigger = obj(R"({"from_version": 1, "to_version": 2})");
  h.add("migrated", "intake", {}).trigger = obj(R"({"from_version": 1, "to_version": 3})");
  h.add("migrated", "intake", {}).trigger = obj(R"({"from_version": 3})");
  const Projection p = replay(h.entries);
  ASSERT_EQ(p.problems.size(), 2U);
  EXPECT_NE(p.problems[0].find("entry 3 migrates from version 1"), std::string::npos);
  EXPECT_NE(p.problems[1].find("entry 4 is a migration that does not name"), std::string::npos);
}

TEST(Replay, SealedValuesCompareAsSealedWhateverTheirCiphertext) {
  History h;
  h.add("opened", "intake", {"name"}, R"({"name": {"$sealed": "nonce-1", "key": 1}})");
  const Projection p = replay(h.entries);
  CaseRecord row = row_of(p);
  row.data["name"] = obj(R"({"$sealed": "nonce-2", "key": 1})");
  EXPECT_TRUE(compare(p, row).empty());
  row.data["name"] = "plain text";
  EXPECT_EQ(compare(p, row), std::vector<std::string>{"field name"});
  EXPECT_TRUE(same_value(boost::json::value(1), boost::json::value(1)));
  EXPECT_FALSE(same_value(boost::json::value(1), boost::json::value(2)));
}

TEST(Replay, CompareNamesEveryDifferenceWithoutValues) {
  History h;
  h.add("opened", "intake", {"age", "name"}, R"({"age": 12, "name": "Test Child"})");
  h.add("admit", "care", {});
  const Projection p = replay(h.entries);
  CaseRecord row = row_of(p);
  row.state = "intake";
  row.version = 7;
  row.updated_at += 1;
  row.data["age"] = 99;
  row.data.erase("name");
  row.data["extra"] = true;
  const auto differences = compare(p, row);
  EXPECT_EQ(differences, (std::vector<std::string>{"state", "version", "updated_at", "field age",
                                                   "field extra", "field name"}));
  for (const auto& d : differences) {
    EXPECT_EQ(d.find("Test Child"), std::string::npos);
    EXPECT_EQ(d.find("99"), std::string::npos);
  }
}

TEST(Replay, GapsAndABadFirstEntryAreProblems) {
  History h;
  h.add("updated", "intake", {});
  h.add("updated", "intake", {});
  h.entries[1].seq = 3;
  h.entries[1].version = 3;
  const Projection p = replay(h.entries);
  ASSERT_EQ(p.problems.size(), 3U);
  EXPECT_NE(p.problems[0].find("is not 'opened'"), std::string::npos);
  EXPECT_NE(p.problems[1].find("entries are missing"), std::string::npos);
  EXPECT_NE(p.problems[2].find("makes version 3 after version 1"), std::string::npos);
  EXPECT_EQ(compare(p, row_of(p)), p.problems);
  EXPECT_EQ(compare(Projection{}, CaseRecord{}), std::vector<std::string>{"history is empty"});
}

TEST(Replay, AppliedPayloadAddsWhatStepsSet) {
  // The request set age and school; a step then set assigned_to and changed school.
  const auto request = obj(R"({"age": 13, "school": "GHS", "same": 1, "gone": null})");
  const auto after = obj(R"({"age": 13, "school": "GMS", "same": 1, "assigned_to": "role:x"})");
  const auto payload = applied_payload(request, after, {"age", "school", "assigned_to", "old"});
  EXPECT_EQ(payload, obj(R"({"age": 13, "school": "GMS", "same": 1, "gone": null,
                              "assigned_to": "role:x", "old": null})"));
  // Without steps the request is the payload.
  EXPECT_EQ(applied_payload(request, obj(R"({"age": 13, "school": "GHS", "same": 1})"),
                            {"age", "school", "gone"}),
            request);
}

}  // namespace
}  // namespace carepath
