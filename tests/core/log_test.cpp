#include "core/log.hpp"

#include <string>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace carepath {
namespace {

TEST(Log, TextLineIsTimeLevelMessageAndAttributes) {
  EXPECT_EQ(render_log_line(LogFormat::text, "2026-01-02T03:04:05Z", LogLevel::warning, "hello",
                            {{"case", "c1"}, {"event", "moved"}}),
            "2026-01-02T03:04:05Z warning hello case=c1 event=moved\n");
}

TEST(Log, JsonLineIsOneEscapedObject) {
  const std::string line =
      render_log_line(LogFormat::json, "2026-01-02T03:04:05Z", LogLevel::error,
                      "said \"no\"\n\\ then left", {{"file", "a\"b.yaml"}, {"msg", "shadowed"}});
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  const auto parsed = boost::json::parse(line);
  const auto& object = parsed.as_object();
  EXPECT_EQ(object.at("time"), "2026-01-02T03:04:05Z");
  EXPECT_EQ(object.at("level"), "error");
  EXPECT_EQ(object.at("msg"), "said \"no\"\n\\ then left");
  EXPECT_EQ(object.at("file"), "a\"b.yaml");
  EXPECT_EQ(object.at("attr_msg"), "shadowed");
}

TEST(Log, TheThreadsContextAddsRequestIdAndActorUntilItEnds) {
  {
    LogContext context{"req-7", {}};
    const ScopedLogContext scoped(context);
    ASSERT_EQ(log_context(), &context);
    EXPECT_EQ(render_log_line(LogFormat::text, "t", LogLevel::info, "m", {}),
              "t info m request_id=req-7\n");
    context.actor = "asha";
    const auto parsed = boost::json::parse(
        render_log_line(LogFormat::json, "t", LogLevel::info, "m", {{"case", "c1"}}));
    EXPECT_EQ(parsed.at("request_id"), "req-7");
    EXPECT_EQ(parsed.at("actor"), "asha");
    EXPECT_EQ(parsed.at("case"), "c1");
    // A line that names its own actor (the engine acting for someone) keeps it.
    EXPECT_EQ(render_log_line(LogFormat::text, "t", LogLevel::info, "m", {{"actor", "system"}}),
              "t info m actor=system request_id=req-7\n");
  }
  EXPECT_EQ(log_context(), nullptr);
  EXPECT_EQ(render_log_line(LogFormat::text, "t", LogLevel::info, "m", {}), "t info m\n");
}

}  // namespace
}  // namespace carepath
