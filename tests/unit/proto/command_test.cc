#include "parley/proto/command.h"

#include <gtest/gtest.h>

namespace parley::proto {
namespace {

class CommandDecoderTest : public ::testing::Test {
 protected:
  bool decode(std::string_view in) { return d_.decode(in, env_, err_); }
  CommandDecoder d_;
  Envelope env_;
  DecodeError err_;
};

TEST_F(CommandDecoderTest, ReadsOpAndBothIdForms) {
  ASSERT_TRUE(decode(R"({"op":"ping","id":7})"));
  EXPECT_EQ(env_.op, Op::kPing);
  EXPECT_EQ(env_.id.kind, RequestId::Kind::kNumber);
  EXPECT_EQ(env_.id.number, 7u);
  ASSERT_TRUE(decode(R"(  {"id":"a\"b","op":"send","body":"x"}  )"));
  EXPECT_EQ(env_.op, Op::kSend);
  EXPECT_EQ(env_.id.kind, RequestId::Kind::kString);
  EXPECT_EQ(env_.id.text, "a\"b");
  ASSERT_TRUE(decode(R"({"op":"ping","id":9007199254740992})"));
  EXPECT_EQ(env_.id.number, kMaxIdNumber);
  ASSERT_TRUE(decode(R"({"op":"ping"})"));
  EXPECT_EQ(env_.id.kind, RequestId::Kind::kNone);
}

TEST_F(CommandDecoderTest, EveryOpNameRoundTrips) {
  for (int i = 1; i <= static_cast<int>(Op::kFriends); ++i) {
    auto op = static_cast<Op>(i);
    std::string in = R"({"op":")" + std::string(op_name(op)) + "\"}";
    ASSERT_TRUE(decode(in)) << in;
    EXPECT_EQ(env_.op, op);
  }
  EXPECT_TRUE(allowed_before_login(Op::kPing));
  EXPECT_TRUE(allowed_before_login(Op::kLogin));
  EXPECT_TRUE(allowed_before_login(Op::kRegister));
  EXPECT_FALSE(allowed_before_login(Op::kSend));
}

TEST_F(CommandDecoderTest, RejectsWithOrWithoutId) {
  struct Case {
    std::string in;
    bool id_echoed;
  } cases[] = {
      {"", false},
      {"{", false},
      {"[]", false},
      {"null", false},
      {"\"op\"", false},
      {R"({"op":"ping"}{"op":"ping"})", false},
      {R"({"op":"ping"} x)", false},
      {R"({"op":"ping","id":-1})", false},
      {R"({"op":"ping","id":1e3})", false},
      {R"({"op":"ping","id":9007199254740993})", false},
      {R"({"op":"ping","id":{}})", false},
      {R"({"op":"ping","id":")" + std::string(65, 'x') + "\"}", false},
      {"{\"op\":\"ping\",\"id\":\"\xff\"}", false},
      {R"({"id":1})", true},
      {R"({"op":null,"id":1})", true},
      {R"({"op":"PING","id":1})", true},
      {R"({"op":"nope","id":"x"})", true},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(decode(c.in)) << c.in;
    EXPECT_EQ(err_.id.kind != RequestId::Kind::kNone, c.id_echoed) << c.in;
    EXPECT_FALSE(err_.message.empty()) << c.in;
  }
}

TEST_F(CommandDecoderTest, DeepAndLargeInputsAreHandled) {
  std::string deep = R"({"op":"ping","x":)" + std::string(5000, '[') + std::string(5000, ']') + "}";
  decode(deep);  // either answer is fine; it must not crash
  std::string wide = R"({"op":"ping","pad":")" + std::string(1 << 20, 'a') + "\"}";
  EXPECT_TRUE(decode(wide));
}

TEST_F(CommandDecoderTest, ErrorsAreBadRequest) {
  EXPECT_FALSE(decode(R"({"op":"nope","id":2})"));
  EXPECT_EQ(err_.code, ErrorCode::kBadRequest);
  EXPECT_EQ(err_.id.number, 2u);
  // The envelope decoder does not look at bodies: a send without any of its fields is fine here.
  EXPECT_TRUE(decode(R"({"op":"send","body":{"x":[1,2]},"meta":true})"));
  EXPECT_FALSE(decode(R"({"op":"ping","x":{"a":]}})"));
  EXPECT_FALSE(decode(R"({"op":"ping","id":],"x":1})"));
}

// Every value is read to its end: simdjson's skip counts only brackets, so junk inside an unread
// value used to pass, and a stray token inside a nested one could make the rest misread.
TEST_F(CommandDecoderTest, JunkInsideAnyValueIsRefused) {
  for (std::string_view junk : {"tru", "nul", "[1 2]", "[1,]", R"({"a" 1})", R"({"a":1,})",
                                R"({"":"":})", R"([{"a":[1}]])", R"({"a":[01]})", "[1e400]"}) {
    EXPECT_FALSE(decode(R"({"op":"ping","x":)" + std::string(junk) + "}")) << junk;
    EXPECT_FALSE(decode(R"({"x":)" + std::string(junk) + R"(,"op":"ping"})")) << junk;
    EXPECT_EQ(err_.message, "not valid JSON") << junk;
    EXPECT_FALSE(decode(R"({"op":)" + std::string(junk) + "}")) << junk;
    EXPECT_FALSE(decode(R"({"op":"ping","id":)" + std::string(junk) + "}")) << junk;
  }
  // Values of the wrong type for op and id are still read in full; big integers are valid JSON.
  EXPECT_FALSE(decode(R"({"op":["ping"],"id":[1,{"a":null}]})"));
  EXPECT_EQ(err_.message, "id must be a string of at most 64 bytes or an integer in 0..2^53");
  EXPECT_TRUE(decode(R"({"op":"ping","x":[123456789012345678901234567890,-1.5e300,"\u00e9"]})"));
  // Nesting is bounded (the reader recurses): kMaxJsonDepth levels pass, one more is refused.
  std::string ok_deep = std::string(128, '[') + std::string(128, ']');
  EXPECT_TRUE(decode(R"({"op":"ping","x":)" + ok_deep + "}"));
  std::string too_deep = std::string(129, '[') + std::string(129, ']');
  EXPECT_FALSE(decode(R"({"op":"ping","x":)" + too_deep + "}"));
  EXPECT_EQ(err_.message, "JSON nested too deeply");
}

TEST(Replies, Shapes) {
  RequestId none, num{RequestId::Kind::kNumber, "", 3}, str{RequestId::Kind::kString, "q\"", 0};
  EXPECT_EQ(reply_pong(none), R"({"op":"pong"})");
  EXPECT_EQ(reply_pong(num), R"({"op":"pong","id":3})");
  EXPECT_EQ(reply_ok(str, R"(,"uid":5)"), R"({"op":"ok","id":"q\"","uid":5})");
  EXPECT_EQ(reply_error(num, ErrorCode::kTooLarge, "big"),
            R"({"op":"error","id":3,"code":"too_large","message":"big"})");
  EXPECT_EQ(http_status(ErrorCode::kRateLimited), 429);
  EXPECT_EQ(to_string(ErrorCode::kUnavailable), "unavailable");
}

}  // namespace
}  // namespace parley::proto
