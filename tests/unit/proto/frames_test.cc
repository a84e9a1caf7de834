#include "parley/proto/frames.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace parley::proto {
namespace {

MsgView sample() {
  return MsgView{"alice", Target::Kind::kUser, "bob", 12, 1732345678901000001, 1732345678901,
                 "c-001", MsgType::kText,      "hi",  ""};
}

TEST(Frames, MsgShape) {
  EXPECT_EQ(encode_msg(sample()),
            R"({"op":"msg","from":"alice","to":"bob","seq":12,"mid":"1732345678901000001",)"
            R"("ts":1732345678901,"cid":"c-001","type":"text","body":"hi"})");
  MsgView g = sample();
  g.kind = Target::Kind::kGroup;
  g.to_or_group = "team";
  g.type = MsgType::kSystem;
  g.meta = R"({"event":"add","users":["carol"],"by":"alice"})";
  g.mid = 0;
  g.ts = -5;
  EXPECT_EQ(encode_msg(g),
            R"({"op":"msg","from":"alice","group":"team","seq":12,"mid":"0","ts":-5,)"
            R"("cid":"c-001","type":"system","body":"hi",)"
            R"("meta":{"event":"add","users":["carol"],"by":"alice"}})");
}

TEST(Frames, MsgEscapesEveryString) {
  MsgView m = sample();
  std::string body = "a\"b\\c\nd\x01\t\xc3\xa9 \xe2\x80\xa8 </script>";
  std::string cid = "c\"1";
  m.body = body;
  m.cid = cid;
  m.meta = "[\"x\\\"y\"]";
  std::string frame = encode_msg(m);
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_FALSE(p.parse(frame).get(e)) << frame;
  EXPECT_EQ(std::string_view(e["body"]), body);
  EXPECT_EQ(std::string_view(e["cid"]), cid);
  EXPECT_EQ(std::string_view(e["meta"].at(0)), "x\"y");
  EXPECT_EQ(std::string_view(e["mid"]), "1732345678901000001");
  EXPECT_EQ(uint64_t(e["seq"]), 12u);
}

TEST(Frames, HistoryEntryDropsOnlyTheOp) {
  MsgView m = sample();
  m.meta = R"({"op":"msg","seq":99})";
  std::string body = R"(,"op":"msg",)";
  m.body = body;
  std::string frame = encode_msg(m);
  std::string out = "[";
  ASSERT_TRUE(msg_to_history_entry(frame, out));
  out += ",";
  ASSERT_TRUE(msg_to_history_entry(encode_msg(sample()), out));
  out += "]";
  EXPECT_EQ(out.substr(0, 16), R"([{"from":"alice")");
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_FALSE(p.parse(out).get(e)) << out;
  simdjson::dom::array entries = e;
  ASSERT_EQ(entries.size(), 2u);
  simdjson::dom::element first = entries.at(0);
  simdjson::dom::element op;
  EXPECT_TRUE(first["op"].get(op));  // no op in a history entry
  EXPECT_EQ(std::string_view(first["body"]), body);
  EXPECT_EQ(uint64_t(first["meta"]["seq"]), 99u);
  EXPECT_EQ(uint64_t(first["seq"]), 12u);
  // Byte-for-byte: the frame is the entry with "op":"msg" put back.
  std::string single;
  ASSERT_TRUE(msg_to_history_entry(frame, single));
  EXPECT_EQ(R"({"op":"msg",)" + single.substr(1), frame);
}

TEST(Frames, HistoryEntryRefusesOtherFrames) {
  std::string out = "keep";
  for (std::string_view f :
       {"", "{}", R"({"op":"msg"})", R"({"op":"msg",})", R"({"op":"typing","from":"a"})",
        R"( {"op":"msg","from":"a"})", R"({"op":"msg","from":"a")", R"({"from":"a","op":"msg"})",
        R"({"op": "msg","from":"a"})"}) {
    EXPECT_FALSE(msg_to_history_entry(f, out)) << f;
  }
  EXPECT_EQ(out, "keep");
}

TEST(Frames, ParseMsgSeq) {
  MsgView m = sample();
  m.seq = 18446744073709551615u;
  std::string tricky = R"(,"seq":5)";
  m.body = tricky;
  m.from = "seq";
  m.meta = R"({"x":1,"seq":7})";
  uint64_t seq = 0;
  ASSERT_TRUE(parse_msg_seq(encode_msg(m), seq));
  EXPECT_EQ(seq, 18446744073709551615u);
  EXPECT_FALSE(parse_msg_seq(R"({"op":"msg"})", seq));
  EXPECT_FALSE(parse_msg_seq(R"({"op":"msg","seq":"1"})", seq));
}

TEST(Frames, ReceiptTypingKicked) {
  EXPECT_EQ(encode_receipt("bob", false, "bob", false, 12),
            R"({"op":"receipt","peer":"bob","user":"bob","kind":"delivered","seq":12})");
  EXPECT_EQ(encode_receipt("team", true, "alice", true, 3),
            R"({"op":"receipt","group":"team","user":"alice","kind":"read","seq":3})");
  EXPECT_EQ(encode_typing("alice", Target::Kind::kUser, "bob"),
            R"({"op":"typing","from":"alice","to":"bob"})");
  EXPECT_EQ(encode_typing("alice", Target::Kind::kGroup, "team"),
            R"({"op":"typing","from":"alice","group":"team"})");
  EXPECT_EQ(encode_kicked("replaced"), R"({"op":"kicked","reason":"replaced"})");
  EXPECT_EQ(encode_kicked("a\"b\n"), R"({"op":"kicked","reason":"a\"b\n"})");
}

// A decoded send turned into a msg frame carries body and meta through unchanged.
TEST(Frames, SendRequestRoundTrip) {
  CommandDecoder d;
  Request req;
  DecodeError err;
  std::string in =
      R"({"op":"send","to":"bob","cid":"c\"1","type":"file","body":"line\nline \ud83d\ude00",)"
      R"("meta": {"file":"F","size":12,"tags":["a\"b",null]} })";
  ASSERT_TRUE(d.decode(in, req, err, RequestLimits{})) << err.message;
  const auto& s = std::get<SendReq>(req.body);
  MsgView m{"alice", s.target.kind, s.target.name, 1, 2, 3, s.cid, s.type, s.body, s.meta};
  std::string frame = encode_msg(m);
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_FALSE(p.parse(frame).get(e)) << frame;
  EXPECT_EQ(std::string_view(e["body"]), "line\nline \xf0\x9f\x98\x80");
  EXPECT_EQ(std::string_view(e["cid"]), "c\"1");
  EXPECT_EQ(std::string_view(e["type"]), "file");
  EXPECT_EQ(std::string_view(e["meta"]["tags"].at(0)), "a\"b");
  EXPECT_NE(frame.find(R"("meta":{"file":"F","size":12,"tags":["a\"b",null]}})"), std::string::npos)
      << frame;
}

}  // namespace
}  // namespace parley::proto
