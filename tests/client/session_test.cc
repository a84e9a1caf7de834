// parse_message: the shape of pushed messages, as the protocol documents it.
#include <gtest/gtest.h>

#include "parley/client/session.h"

namespace parley::client {
namespace {

TEST(ParseMessageTest, OneToOneFromEitherSide) {
  const char* json =
      R"({"op":"msg","from":"alice","to":"bob","seq":12,"mid":"1893021","ts":1718000000123,)"
      R"("cid":"c-001","type":"text","body":"hi \"there\"\n"})";
  auto m = parse_message(json, "bob");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->conversation, "alice");
  EXPECT_EQ(m->from, "alice");
  EXPECT_EQ(m->seq, 12u);
  EXPECT_EQ(m->mid, "1893021");
  EXPECT_EQ(m->ts, 1718000000123);
  EXPECT_EQ(m->body, "hi \"there\"\n");
  EXPECT_EQ(m->raw, json);
  // Our own message from another device belongs to the peer's conversation.
  m = parse_message(json, "alice");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->conversation, "bob");
}

TEST(ParseMessageTest, GroupAndSystemWithMeta) {
  auto m = parse_message(
      R"({"op":"msg","from":"alice","group":"team","seq":5,"mid":"1","ts":1,"cid":"",)"
      R"("type":"system","body":"alice added 1 member",)"
      R"("meta":{"event":"add","users":["carol"],"by":"alice"}})",
      "carol");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->conversation, "#team");
  EXPECT_EQ(m->type, "system");
  EXPECT_EQ(m->meta, R"({"event":"add","users":["carol"],"by":"alice"})");
}

TEST(ParseMessageTest, Broadcast) {
  auto m = parse_message(R"({"op":"msg","broadcast":true,"type":"text","body":"maintenance",)"
                         R"("ts":5})",
                         "bob");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->broadcast);
  EXPECT_EQ(m->body, "maintenance");
}

TEST(ParseMessageTest, Malformed) {
  EXPECT_FALSE(parse_message("not json", "bob"));
  EXPECT_FALSE(parse_message("[1]", "bob"));
  EXPECT_FALSE(parse_message(R"({"op":"msg","from":"a","to":"bob","seq":1})", "bob"));  // body
  EXPECT_FALSE(parse_message(R"({"op":"msg","from":"a","to":"bob","body":"x"})", "bob"));  // seq
  EXPECT_FALSE(parse_message(R"({"op":"msg","to":"bob","seq":1,"body":"x"})", "bob"));  // from
}

TEST(TargetFieldTest, PeerOrGroup) {
  EXPECT_EQ(Session::target_field("bob", "to"), R"("to":"bob")");
  EXPECT_EQ(Session::target_field("#team", "to"), R"("group":"team")");
  EXPECT_EQ(Session::target_field("bob", "peer"), R"("peer":"bob")");
}

}  // namespace
}  // namespace parley::client
