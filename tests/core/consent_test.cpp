#include "core/consent.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace carepath {
namespace {

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

constexpr Timestamp kNow = 1'795'000'000'000;  // November 2026
const std::int64_t kToday = day_number(kNow);
constexpr Timestamp kDay = 86'400'000;

// A workflow that declares two consents; override_by as the loader fills it in.
Workflow declaring() {
  Workflow w;
  w.name = "aftercare";
  w.roles = {"caseworker", "medical_officer", "supervisor"};
  w.consents_declared = true;
  w.consents = {ConsentDef{"medical_examination", "Medical examination", "", {"medical_officer"}},
                ConsentDef{"data_sharing", "Sharing with a receiving agency", "", {"supervisor"}}};
  return w;
}

std::string text(const Error& e) {
  return e.type + ": " + e.message + " " + boost::json::serialize(e.details);
}

TEST(Consent, RecognisesItsTwoEvents) {
  EXPECT_EQ(consent_action("consent_given"), ConsentAction::given);
  EXPECT_EQ(consent_action("consent_withdrawn"), ConsentAction::withdrawn);
  EXPECT_FALSE(consent_action("consent_changed"));
  EXPECT_FALSE(consent_action("produced_before_cwc"));
}

TEST(Consent, ParsesGivenData) {
  const Workflow w = declaring();
  auto given = parse_consent_given(
      w,
      obj(R"({"consent": "data_sharing", "given_by": "guardian", "scope": "the receiving home only",
                 "evidence": "form 17", "valid_until": "2027-01-31"})"));
  ASSERT_TRUE(given) << text(given.error());
  EXPECT_EQ(given->consent, "data_sharing");
  EXPECT_EQ(given->given_by, "guardian");
  EXPECT_EQ(given->evidence, "form 17");
  EXPECT_EQ(given->valid_until, "2027-01-31");
  auto minimal =
      parse_consent_given(w, obj(R"({"consent": "medical_examination", "given_by": "cwc_order"})"));
  ASSERT_TRUE(minimal) << text(minimal.error());
  EXPECT_FALSE(minimal->scope);
  EXPECT_FALSE(minimal->valid_until);
}

TEST(Consent, NamesMissingMembersOnly) {
  auto missing = parse_consent_given(declaring(), obj("{}"));
  ASSERT_FALSE(missing);
  const Error e = missing.error();
  EXPECT_EQ(e.code, Errc::unprocessable);
  EXPECT_EQ(e.type, "missing-fields");
  EXPECT_EQ(boost::json::serialize(e.details.at("missing_fields")), R"(["consent","given_by"])");
}

TEST(Consent, ListsEveryInvalidMemberWithoutItsValue) {
  const std::string long_text(501, 'x');
  const std::string body = R"({"consent": "data_shring", "given_by": "neighbour", "scope": ")" +
                           long_text + R"(", "valid_until": "next week", "signed": true})";
  auto invalid = parse_consent_given(declaring(), boost::json::parse(body).as_object());
  ASSERT_FALSE(invalid);
  const Error e = invalid.error();
  EXPECT_EQ(e.code, Errc::unprocessable);
  EXPECT_EQ(e.type, "invalid-fields");
  std::vector<std::string> fields;
  for (const auto& p : e.details.at("invalid_fields").as_array()) {
    fields.emplace_back(p.at("field").as_string());
  }
  EXPECT_EQ(fields,
            (std::vector<std::string>{"signed", "consent", "given_by", "scope", "valid_until"}));
  EXPECT_EQ(boost::json::serialize(e.details.at("unknown_fields")), R"(["signed"])");
  const std::string all = text(e);
  EXPECT_NE(all.find("must be one of: medical_examination, data_sharing"), std::string::npos);
  for (const char* value : {"data_shring", "neighbour", "next week", "xxxxxxxxxx"}) {
    EXPECT_EQ(all.find(value), std::string::npos) << value;
  }
}

TEST(Consent, AcceptsAnyNameWhenTheWorkflowDeclaresNone) {
  Workflow w;
  auto given = parse_consent_given(w, obj(R"({"consent": "photo_use", "given_by": "child"})"));
  ASSERT_TRUE(given) << text(given.error());
  auto bad = parse_consent_given(w, obj(R"({"consent": "Photo Use", "given_by": "child"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().type, "invalid-fields");
}

TEST(Consent, ScopeOfFiveHundredCharactersIsAccepted) {
  // Characters, not bytes: 500 Devanagari letters are 1500 bytes.
  std::string scope;
  for (int i = 0; i < 500; ++i) {
    scope += "\xE0\xA4\x95";  // क
  }
  boost::json::object data{{"consent", "data_sharing"}, {"given_by", "child"}, {"scope", scope}};
  EXPECT_TRUE(parse_consent_given(declaring(), data));
  data["scope"] = scope + "\xE0\xA4\x95";
  EXPECT_FALSE(parse_consent_given(declaring(), data));
}

TEST(Consent, GivenIsValidUntilWithdrawn) {
  boost::json::array consents;
  const std::vector<std::string> required{"medical_examination", "data_sharing"};
  EXPECT_EQ(missing_consents(required, consents, kNow, kToday), required);

  auto given = parse_consent_given(
      declaring(), obj(R"({"consent": "medical_examination", "given_by": "child"})"));
  ASSERT_TRUE(given);
  give_consent(consents, *given, "asha", kNow);
  ASSERT_EQ(consents.size(), 1u);
  const auto& record = consents[0].as_object();
  EXPECT_EQ(record.at("given_by"), "child");
  EXPECT_EQ(record.at("recorded_by"), "asha");
  EXPECT_EQ(record.at("given_at"), format_timestamp(kNow).c_str());
  EXPECT_FALSE(record.contains("withdrawn_at"));
  EXPECT_EQ(missing_consents(required, consents, kNow, kToday),
            (std::vector<std::string>{"data_sharing"}));
  EXPECT_EQ(valid_consents(consents, kNow, kToday),
            (std::vector<std::string>{"medical_examination"}));

  auto withdrawal = parse_consent_withdrawal(
      declaring(), obj(R"({"consent": "medical_examination", "reason": "changed her mind"})"));
  ASSERT_TRUE(withdrawal);
  ASSERT_TRUE(withdraw_consent(consents, *withdrawal, "meera", kNow + 1000, kToday));
  EXPECT_EQ(consents[0].at("withdrawn_by"), "meera");
  EXPECT_EQ(consents[0].at("withdrawal_reason"), "changed her mind");
  EXPECT_EQ(missing_consents(required, consents, kNow + 2000, kToday), required);
  EXPECT_TRUE(valid_consents(consents, kNow + 2000, kToday).empty());
  EXPECT_EQ(consent_statuses(consents, kNow + 2000, kToday),
            (std::vector<ConsentStatus>{ConsentStatus::withdrawn}));
}

TEST(Consent, TheNewestRecordCounts) {
  boost::json::array consents;
  const Workflow w = declaring();
  const auto child = *parse_consent_given(
      w, obj(R"({"consent": "data_sharing", "given_by": "child", "valid_until": "2020-01-01"})"));
  const auto guardian =
      *parse_consent_given(w, obj(R"({"consent": "data_sharing", "given_by": "guardian"})"));
  give_consent(consents, child, "asha", kNow);  // already lapsed
  const std::vector<std::string> required{"data_sharing"};
  EXPECT_EQ(missing_consents(required, consents, kNow, kToday), required);
  give_consent(consents, guardian, "asha", kNow + 1);
  EXPECT_TRUE(missing_consents(required, consents, kNow + 2, kToday).empty());
  EXPECT_EQ(consent_statuses(consents, kNow + 2, kToday),
            (std::vector<ConsentStatus>{ConsentStatus::superseded, ConsentStatus::valid}));
  // Withdrawing marks the newest record; the older one stays as it was.
  ASSERT_TRUE(withdraw_consent(consents, ConsentWithdrawal{"data_sharing", std::nullopt}, "ravi",
                               kNow + 3, kToday));
  EXPECT_FALSE(consents[0].as_object().contains("withdrawn_at"));
  EXPECT_TRUE(consents[1].as_object().contains("withdrawn_at"));
  EXPECT_FALSE(consents[1].as_object().contains("withdrawal_reason"));
  // Given again after the withdrawal: in force again.
  give_consent(consents, guardian, "asha", kNow + 4);
  EXPECT_TRUE(missing_consents(required, consents, kNow + 5, kToday).empty());
}

TEST(Consent, ExpiresAfterValidUntil) {
  boost::json::array consents;
  const Workflow w = declaring();
  const std::string until_instant = format_timestamp(kNow + kDay);
  boost::json::object data{
      {"consent", "data_sharing"}, {"given_by", "cwc_order"}, {"valid_until", until_instant}};
  give_consent(consents, *parse_consent_given(w, data), "asha", kNow);
  const std::vector<std::string> required{"data_sharing"};
  EXPECT_TRUE(missing_consents(required, consents, kNow + kDay - 1, kToday + 1).empty());
  EXPECT_EQ(missing_consents(required, consents, kNow + kDay, kToday + 1), required);
  EXPECT_EQ(consent_statuses(consents, kNow + kDay, kToday + 1),
            (std::vector<ConsentStatus>{ConsentStatus::expired}));

  // A date holds through that whole (local) day.
  boost::json::array dated;
  const std::string until_date = format_timestamp(kNow).substr(0, 10);
  data["valid_until"] = until_date;
  give_consent(dated, *parse_consent_given(w, data), "asha", kNow);
  EXPECT_TRUE(missing_consents(required, dated, kNow, kToday).empty());
  EXPECT_EQ(missing_consents(required, dated, kNow + kDay, kToday + 1), required);
}

TEST(Consent, WithdrawingAConsentNotInForceConflicts) {
  boost::json::array consents;
  auto never = withdraw_consent(consents, ConsentWithdrawal{"data_sharing", std::nullopt}, "ravi",
                                kNow, kToday);
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().code, Errc::conflict);
  EXPECT_EQ(never.error().type, "consent-not-given");
  EXPECT_EQ(never.error().details.at("consent"), "data_sharing");

  give_consent(consents, ConsentGiven{"data_sharing", "guardian"}, "asha", kNow);
  ASSERT_TRUE(withdraw_consent(consents, ConsentWithdrawal{"data_sharing", std::nullopt}, "ravi",
                               kNow, kToday));
  auto twice = withdraw_consent(consents, ConsentWithdrawal{"data_sharing", std::nullopt}, "ravi",
                                kNow, kToday);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().type, "consent-not-given");
  EXPECT_NE(twice.error().message.find("already withdrawn"), std::string::npos);
}

TEST(Consent, RequiredErrorNamesTheConsentsAndHowToFix) {
  const Workflow w = declaring();
  const Error e = consent_required_error(w, "workflow 'aftercare': state 'in_care'",
                                         "transferred_out", {"data_sharing", "photo_use"});
  EXPECT_EQ(e.code, Errc::conflict);
  EXPECT_EQ(e.type, "consent-required");
  EXPECT_NE(e.message.find("requires consent: data_sharing, photo_use"), std::string::npos);
  EXPECT_NE(e.message.find("consent_given"), std::string::npos);
  EXPECT_EQ(boost::json::serialize(e.details.at("missing_consents")),
            R"(["data_sharing","photo_use"])");
  // photo_use is not declared: the default override role.
  EXPECT_EQ(boost::json::serialize(e.details.at("override_roles")), R"(["supervisor"])");
  EXPECT_NE(std::string(e.details.at("hint").as_string()).find("consent_override"),
            std::string::npos);
}

TEST(Consent, OverrideNeedsARoleOfEveryMissingConsent) {
  const Workflow w = declaring();
  const Actor officer{"dr.sen", {"medical_officer"}};
  const Actor supervisor{"ravi", {"supervisor"}};
  EXPECT_TRUE(check_consent_override(w, officer, {"medical_examination"}));
  EXPECT_FALSE(check_consent_override(w, supervisor, {"medical_examination"}));
  auto refused = check_consent_override(w, officer, {"medical_examination", "data_sharing"});
  ASSERT_FALSE(refused);
  const Error e = refused.error();
  EXPECT_EQ(e.code, Errc::forbidden);
  EXPECT_EQ(boost::json::serialize(e.details.at("required_roles")), R"(["supervisor"])");
  EXPECT_EQ(boost::json::serialize(e.details.at("missing_consents")), R"(["data_sharing"])");
  // An empty override_by: nobody may override.
  Workflow strict = declaring();
  strict.consents[1].override_by.clear();
  EXPECT_FALSE(check_consent_override(strict, supervisor, {"data_sharing"}));
  EXPECT_EQ(consent_override_roles(w, "undeclared"), (std::vector<std::string>{"supervisor"}));
}

}  // namespace
}  // namespace carepath
