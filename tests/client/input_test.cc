// The console's pure helpers: input lines, conversation names, time stamps, exit codes.
#include <gtest/gtest.h>

#include "common.h"

namespace parley::cli {
namespace {

TEST(InputTest, PlainLineGoesToTheCurrentConversationAsTyped) {
  Input in = parse_input("hello there  ");
  EXPECT_EQ(in.kind, Input::Kind::kText);
  EXPECT_TRUE(in.target.empty());
  EXPECT_EQ(in.text, "hello there  ");
  in = parse_input(" @bob is sent as is");
  EXPECT_EQ(in.kind, Input::Kind::kText);
  EXPECT_TRUE(in.target.empty());
  EXPECT_EQ(in.text, " @bob is sent as is");
}

TEST(InputTest, Targets) {
  Input in = parse_input("@bob hi there");
  EXPECT_EQ(in.kind, Input::Kind::kText);
  EXPECT_EQ(in.target, "bob");
  EXPECT_EQ(in.text, "hi there");
  in = parse_input("#team  hello\n");
  EXPECT_EQ(in.kind, Input::Kind::kText);
  EXPECT_EQ(in.target, "#team");
  EXPECT_EQ(in.text, "hello");
  in = parse_input("@bob");
  EXPECT_EQ(in.kind, Input::Kind::kSwitch);
  EXPECT_EQ(in.target, "bob");
  in = parse_input("#team   ");
  EXPECT_EQ(in.kind, Input::Kind::kSwitch);
  EXPECT_EQ(in.target, "#team");
  EXPECT_EQ(parse_input("@ hi").kind, Input::Kind::kInvalid);
  EXPECT_EQ(parse_input("@bad*name hi").kind, Input::Kind::kInvalid);
  EXPECT_EQ(parse_input("#").kind, Input::Kind::kInvalid);
}

TEST(InputTest, Commands) {
  Input in = parse_input(":create team bob  carol");
  EXPECT_EQ(in.kind, Input::Kind::kCommand);
  EXPECT_EQ(in.command, "create");
  EXPECT_EQ(in.args, (std::vector<std::string>{"team", "bob", "carol"}));
  EXPECT_EQ(in.rest, "team bob  carol");
  in = parse_input(":q");
  EXPECT_EQ(in.kind, Input::Kind::kCommand);
  EXPECT_EQ(in.command, "q");
  EXPECT_TRUE(in.args.empty());
  EXPECT_EQ(parse_input(":").kind, Input::Kind::kInvalid);
  EXPECT_EQ(parse_input(": q").kind, Input::Kind::kInvalid);
  in = parse_input("::) smile");
  EXPECT_EQ(in.kind, Input::Kind::kText);
  EXPECT_EQ(in.text, ":) smile");
}

TEST(InputTest, Blank) {
  EXPECT_EQ(parse_input("").kind, Input::Kind::kEmpty);
  EXPECT_EQ(parse_input("   \t").kind, Input::Kind::kEmpty);
  EXPECT_EQ(parse_input("\r\n").kind, Input::Kind::kEmpty);
}

TEST(ConversationTest, ParseAndLabel) {
  EXPECT_EQ(parse_conversation("@bob"), "bob");
  EXPECT_EQ(parse_conversation("bob"), "bob");
  EXPECT_EQ(parse_conversation("#team"), "#team");
  EXPECT_FALSE(parse_conversation("#"));
  EXPECT_FALSE(parse_conversation("@"));
  EXPECT_FALSE(parse_conversation("a b"));
  EXPECT_EQ(conversation_label("bob"), "@bob");
  EXPECT_EQ(conversation_label("#team"), "#team");
}

TEST(TimeTest, TodayShowsTimeOtherDaysShowDate) {
  int64_t now = wall_ms();
  std::string today = format_time(now, now);
  EXPECT_EQ(today.size(), 8u) << today;  // HH:MM:SS
  EXPECT_EQ(today[2], ':');
  std::string old = format_time(now - 400LL * 24 * 3600 * 1000, now);
  EXPECT_EQ(old.size(), 16u) << old;  // YYYY-MM-DD HH:MM
  EXPECT_EQ(old[4], '-');
}

TEST(ExitCodeTest, ProtocolCodesMapToDocumentedExitCodes) {
  EXPECT_EQ(exit_code_for("unauthorized"), kExitAuth);
  EXPECT_EQ(exit_code_for("not_found"), kExitNotFound);
  EXPECT_EQ(exit_code_for("forbidden"), kExitForbidden);
  EXPECT_EQ(exit_code_for("conflict"), kExitConflict);
  EXPECT_EQ(exit_code_for("too_large"), kExitTooLarge);
  EXPECT_EQ(exit_code_for("unavailable"), kExitUnavailable);
  EXPECT_EQ(exit_code_for("disconnected"), kExitUnavailable);
  EXPECT_EQ(exit_code_for("rate_limited"), kExitUnavailable);
  EXPECT_EQ(exit_code_for("bad_request"), kExitError);
  EXPECT_EQ(exit_code_for("internal"), kExitError);
}

TEST(SnippetTest, FirstLineCutAtACharacterBoundary) {
  EXPECT_EQ(snippet("hello"), "hello");
  EXPECT_EQ(snippet("first\nsecond"), "first…");
  EXPECT_EQ(snippet(std::string(50, 'a')), std::string(40, 'a') + "…");
  // "é" is two bytes: 39 ASCII bytes and an é fit exactly in 41 bytes, so the é is left out
  // whole rather than cut in half; a complete é ending at byte 40 is kept.
  EXPECT_EQ(snippet(std::string(39, 'a') + "éz"), std::string(39, 'a') + "…");
  EXPECT_EQ(snippet(std::string(38, 'a') + "éz"), std::string(38, 'a') + "é…");
  EXPECT_EQ(snippet(std::string(38, 'a') + "日本"), std::string(38, 'a') + "…");
}

}  // namespace
}  // namespace parley::cli
