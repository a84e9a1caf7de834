#include "parley/proto/request.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace parley::proto {
namespace {

class RequestDecoderTest : public ::testing::Test {
 protected:
  bool decode(std::string_view in) { return d_.decode(in, req_, err_, limits_); }

  // Decodes `in`, which must succeed with a body of type T.
  template <typename T>
  const T& ok(std::string_view in) {
    bool decoded = decode(in);
    EXPECT_TRUE(decoded) << in << " -> " << err_.message;
    static const T kEmpty{};
    if (!decoded) return kEmpty;
    const T* body = std::get_if<T>(&req_.body);
    EXPECT_NE(body, nullptr) << in;
    return body ? *body : kEmpty;
  }

  // Decodes `in`, which must fail with `code`; the message is checked to name `field`.
  void bad(std::string_view in, std::string_view field, ErrorCode code = ErrorCode::kBadRequest) {
    EXPECT_FALSE(decode(in)) << in;
    EXPECT_EQ(err_.code, code) << in << " -> " << err_.message;
    EXPECT_NE(err_.message.find(field), std::string_view::npos)
        << in << " -> " << err_.message << " (expected to mention " << field << ")";
  }

  CommandDecoder d_;
  Request req_;
  DecodeError err_;
  RequestLimits limits_;
};

TEST(RequestNames, ValidName) {
  EXPECT_TRUE(valid_name("a"));
  EXPECT_TRUE(valid_name("Alice_01.b-c"));
  EXPECT_TRUE(valid_name(std::string(32, 'x')));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name(std::string(33, 'x')));
  for (std::string_view s : {"a b", "a/b", "#team", "é", "a\n", "a@b", "a+b", "a:b"}) {
    EXPECT_FALSE(valid_name(s)) << s;
  }
  EXPECT_FALSE(valid_name(std::string_view("a\0b", 3)));
}

TEST(RequestNames, MsgTypes) {
  MsgType t = MsgType::kText;
  for (auto want : {MsgType::kText, MsgType::kImage, MsgType::kFile, MsgType::kCustom}) {
    ASSERT_TRUE(parse_client_msg_type(to_string(want), t));
    EXPECT_EQ(t, want);
  }
  EXPECT_EQ(to_string(MsgType::kSystem), "system");
  EXPECT_FALSE(parse_client_msg_type("system", t));
  EXPECT_FALSE(parse_client_msg_type("TEXT", t));
  EXPECT_FALSE(parse_client_msg_type("", t));
}

TEST_F(RequestDecoderTest, Register) {
  const auto& r = ok<RegisterReq>(R"({"op":"register","user":"alice","password":"secret"})");
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "secret");
  EXPECT_EQ(req_.env.op, Op::kRegister);
  ok<RegisterReq>(R"({"password":")" + std::string(256, 'p') + R"(","user":"b","op":"register"})");
  bad(R"({"op":"register","password":"secret"})", "user");
  bad(R"({"op":"register","user":"a b","password":"secret"})", "user");
  bad(R"({"op":"register","user":7,"password":"secret"})", "user");
  bad(R"({"op":"register","user":"alice"})", "password");
  bad(R"({"op":"register","user":"alice","password":"12345"})", "password");
  bad(R"({"op":"register","user":"alice","password":")" + std::string(257, 'p') + "\"}",
      "password");
  bad(R"({"op":"register","user":"alice","password":123456})", "password");
}

TEST_F(RequestDecoderTest, LoginByPassword) {
  const auto& l = ok<LoginReq>(R"({"op":"login","user":"alice","password":"x","device":"phone"})");
  EXPECT_EQ(l.user, "alice");
  EXPECT_EQ(l.password, "x");  // login only needs a non-empty password
  EXPECT_EQ(l.token, "");
  EXPECT_EQ(l.device, "phone");
  EXPECT_TRUE(l.after.empty());
  EXPECT_EQ(ok<LoginReq>(R"({"op":"login","user":"alice","password":"x"})").device, "default");
  bad(R"({"op":"login","password":"secret"})", "user");
  bad(R"({"op":"login","user":"alice","password":""})", "password");
  bad(R"({"op":"login","user":"alice","password":null})", "password");
  bad(R"({"op":"login","user":"al ice","password":"secret"})", "user");
  bad(R"({"op":"login","user":"alice","password":"secret","device":""})", "device");
  bad(R"({"op":"login","user":"alice","password":"secret","device":")" + std::string(65, 'd') +
          "\"}",
      "device");
  ok<LoginReq>(R"({"op":"login","user":"alice","password":"secret","device":")" +
               std::string(64, 'd') + "\"}");
  bad(R"({"op":"login","user":"alice","password":"secret","device":1})", "device");
}

TEST_F(RequestDecoderTest, LoginByToken) {
  const auto& l = ok<LoginReq>(R"({"op":"login","token":"a.b.c"})");
  EXPECT_EQ(l.token, "a.b.c");
  EXPECT_EQ(l.user, "");
  EXPECT_EQ(l.password, "");
  EXPECT_EQ(ok<LoginReq>(R"({"op":"login","token":"t","user":"bob"})").user, "bob");
  bad(R"({"op":"login","token":"t","user":"b b"})", "user");
  bad(R"({"op":"login","token":""})", "token");
  bad(R"({"op":"login","token":{}})", "token");
  bad(R"({"op":"login","user":"alice","password":"secret","token":"t"})", "not both");
  bad(R"({"op":"login","user":"alice"})", "password or a token");
  bad(R"({"op":"login"})", "password or a token");
  // A null or mistyped password still counts as given.
  bad(R"({"op":"login","token":"t","password":null})", "not both");
}

TEST_F(RequestDecoderTest, LoginAfter) {
  const auto& l = ok<LoginReq>(
      R"({"op":"login","token":"t","after":{"bob":5,"#team":40,"bad name":1,"#":2,"":3,)"
      R"("#bad name":"x","carol":0,"bob":7}})");
  using K = Target::Kind;
  ASSERT_EQ(l.after.size(), 3u);
  // Sorted by (kind, name), one entry per target, the last occurrence winning.
  EXPECT_EQ(l.after[0], (std::pair<Target, uint64_t>{{K::kUser, "bob"}, 7}));
  EXPECT_EQ(l.after[1], (std::pair<Target, uint64_t>{{K::kUser, "carol"}, 0}));
  EXPECT_EQ(l.after[2], (std::pair<Target, uint64_t>{{K::kGroup, "team"}, 40}));
  EXPECT_TRUE(ok<LoginReq>(R"({"op":"login","token":"t","after":{}})").after.empty());
  bad(R"({"op":"login","token":"t","after":{"bob":-1}})", "after");
  bad(R"({"op":"login","token":"t","after":{"bob":1.5}})", "after");
  bad(R"({"op":"login","token":"t","after":{"bob":"5"}})", "after");
  bad(R"({"op":"login","token":"t","after":{"bob":18446744073709551616}})", "after");
  bad(R"({"op":"login","token":"t","after":[1]})", "after");
  bad(R"({"op":"login","token":"t","after":"bob"})", "after");
  // A later valid `after` replaces an earlier bad one.
  EXPECT_EQ(ok<LoginReq>(R"({"op":"login","token":"t","after":1,"after":{"x":1}})").after.size(),
            1u);
}

TEST_F(RequestDecoderTest, SendText) {
  const auto& s = ok<SendReq>(
      R"({"op":"send","id":7,"to":"bob","cid":"c-001","type":"text","body":"hi \"you\" \u00e9"})");
  EXPECT_EQ(req_.env.id.number, 7u);
  EXPECT_EQ(s.target, (Target{Target::Kind::kUser, "bob"}));
  EXPECT_EQ(s.cid, "c-001");
  EXPECT_EQ(s.type, MsgType::kText);
  EXPECT_EQ(s.body, "hi \"you\" \xc3\xa9");
  EXPECT_EQ(s.meta, "");
  const auto& g = ok<SendReq>(R"({"body":"x","cid":"c","group":"team","op":"send"})");
  EXPECT_EQ(g.target, (Target{Target::Kind::kGroup, "team"}));
  EXPECT_EQ(g.type, MsgType::kText);  // the default
  EXPECT_EQ(ok<SendReq>(R"({"op":"send","peer":"bob","cid":"c","body":"x"})").target.name, "bob");
}

TEST_F(RequestDecoderTest, SendTypesAndBodies) {
  EXPECT_EQ(ok<SendReq>(R"({"op":"send","to":"b","cid":"c","type":"image","body":""})").type,
            MsgType::kImage);
  EXPECT_EQ(ok<SendReq>(R"({"op":"send","to":"b","cid":"c","type":"file"})").body, "");
  EXPECT_EQ(ok<SendReq>(R"({"op":"send","to":"b","cid":"c","type":"custom","body":"{}"})").type,
            MsgType::kCustom);
  bad(R"({"op":"send","to":"b","cid":"c","type":"system","body":"x"})", "system");
  bad(R"({"op":"send","to":"b","cid":"c","type":"video","body":"x"})", "type");
  bad(R"({"op":"send","to":"b","cid":"c","type":1,"body":"x"})", "type");
  bad(R"({"op":"send","to":"b","cid":"c","type":null,"body":"x"})", "type");
  bad(R"({"op":"send","to":"b","cid":"c","body":""})", "body");
  bad(R"({"op":"send","to":"b","cid":"c"})", "body");
  bad(R"({"op":"send","to":"b","cid":"c","type":"custom","body":""})", "body");
  bad(R"({"op":"send","to":"b","cid":"c","body":5})", "body");
  bad(R"({"op":"send","to":"b","cid":"c","type":"image","body":null})", "body");
}

TEST_F(RequestDecoderTest, SendCidAndTarget) {
  ok<SendReq>(R"({"op":"send","to":"b","cid":")" + std::string(64, 'c') + R"(","body":"x"})");
  bad(R"({"op":"send","to":"b","cid":")" + std::string(65, 'c') + R"(","body":"x"})", "cid");
  bad(R"({"op":"send","to":"b","cid":"","body":"x"})", "cid");
  bad(R"({"op":"send","to":"b","body":"x"})", "cid");
  bad(R"({"op":"send","to":"b","cid":42,"body":"x"})", "cid");
  bad(R"({"op":"send","cid":"c","body":"x"})", "target");
  bad(R"({"op":"send","to":"b","group":"g","cid":"c","body":"x"})", "only one");
  bad(R"({"op":"send","to":"b","peer":"b","cid":"c","body":"x"})", "only one");
  bad(R"({"op":"send","to":"b c","cid":"c","body":"x"})", "to must");
  bad(R"({"op":"send","peer":"","cid":"c","body":"x"})", "peer must");
  bad(R"({"op":"send","group":"#team","cid":"c","body":"x"})", "group must");
  bad(R"({"op":"send","to":null,"cid":"c","body":"x"})", "to must");
  bad(R"({"op":"send","to":["b"],"cid":"c","body":"x"})", "to must");
}

TEST_F(RequestDecoderTest, SendLimitsCountUtf8Bytes) {
  std::string max_body(limits_.max_body, 'a');
  EXPECT_EQ(
      ok<SendReq>(R"({"op":"send","to":"b","cid":"c","body":")" + max_body + "\"}").body.size(),
      limits_.max_body);
  bad(R"({"op":"send","to":"b","cid":"c","body":")" + max_body + "a\"}", "body",
      ErrorCode::kTooLarge);
  // Escapes count as what they decode to: 16384 bytes written as \u00e9 (2 bytes each) fits.
  std::string escaped;
  for (size_t i = 0; i < limits_.max_body / 2; ++i) escaped += "\\u00e9";
  EXPECT_EQ(
      ok<SendReq>(R"({"op":"send","to":"b","cid":"c","body":")" + escaped + "\"}").body.size(),
      limits_.max_body);
  bad(R"({"op":"send","to":"b","cid":"c","body":")" + escaped + "\\u00e9\"}", "body",
      ErrorCode::kTooLarge);
  limits_.max_body = 3;
  bad("{\"op\":\"send\",\"to\":\"b\",\"cid\":\"c\",\"body\":\"\xc3\xa9\xc3\xa9\"}", "body",
      ErrorCode::kTooLarge);
  // The id is echoed with too_large.
  EXPECT_EQ(err_.id.kind, RequestId::Kind::kNone);
  bad(R"({"op":"send","id":"q","to":"b","cid":"c","body":"abcd"})", "body", ErrorCode::kTooLarge);
  EXPECT_EQ(err_.id.text, "q");
}

TEST_F(RequestDecoderTest, SendMetaIsKeptVerbatim) {
  const auto& s = ok<SendReq>(
      R"({"op":"send","to":"b","cid":"c","type":"file","meta":  {"file":"F1", "size" : 12,)"
      R"( "n":[1,2.5e3,-0,true,null,"\u00e9\n"]}  ,"body":""})");
  EXPECT_EQ(s.meta, R"({"file":"F1", "size" : 12, "n":[1,2.5e3,-0,true,null,"\u00e9\n"]})");
  for (std::string_view meta : {R"("text")", "12", "-1.5e-3", "true", "false", "null", "[]", "{}",
                                "123456789012345678901234567890"}) {
    std::string in =
        R"({"op":"send","to":"b","cid":"c","body":"x","meta":)" + std::string(meta) + " \n}";
    EXPECT_EQ(ok<SendReq>(in).meta, meta) << in;
  }
  std::string at_end = R"({"op":"send","to":"b","cid":"c","body":"x","meta":[1,{"a":[]}]})";
  EXPECT_EQ(ok<SendReq>(at_end).meta, R"([1,{"a":[]}])");
}

TEST_F(RequestDecoderTest, SendMetaIsCheckedAndLimited) {
  std::string head = R"({"op":"send","to":"b","cid":"c","body":"x","meta":)";
  for (std::string_view meta : {"tru", "nul", "[1,]", "{\"a\":}", "[01]", "1.", "-", "[1e400]",
                                "{\"a\":tru}", "[\"\\x\"]", "{\"a\" 1}", "[1 2]"}) {
    bad(head + std::string(meta) + "}", "JSON");
    bad(head + std::string(meta) + R"(,"seq":1})", "JSON");
  }
  // The size limit counts meta's JSON text (escapes and inner spaces included).
  std::string pad(limits_.max_meta - 8, 'a');
  std::string at_limit = R"({"p":")" + pad + "\"}";
  ASSERT_EQ(at_limit.size(), limits_.max_meta);
  EXPECT_EQ(ok<SendReq>(head + at_limit + "}").meta, at_limit);
  bad(head + R"({"p":")" + pad + "a\"}}", "meta", ErrorCode::kTooLarge);
  // Nesting: kMaxMetaDepth levels are fine, one more is refused; far deeper must not crash.
  std::string deep_ok = std::string(kMaxMetaDepth, '[') + std::string(kMaxMetaDepth, ']');
  EXPECT_EQ(ok<SendReq>(head + deep_ok + "}").meta, deep_ok);
  std::string too_deep = std::string(kMaxMetaDepth + 1, '[') + std::string(kMaxMetaDepth + 1, ']');
  bad(head + too_deep + "}", "deep");
  bad(head + too_deep + R"(,"seq":1,"x":[[]]})", "deep");  // the rest of the frame is skipped
  std::string objects;
  for (int i = 0; i <= kMaxMetaDepth; ++i) objects += R"({"a":)";
  objects += "1" + std::string(kMaxMetaDepth + 1, '}');
  bad(head + objects + "}", "deep");
  std::string abyss = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(decode(head + abyss + "}"));
  std::string unclosed = std::string(3000, '[');
  EXPECT_FALSE(decode(head + unclosed + "}"));
}

TEST_F(RequestDecoderTest, TypingAckRead) {
  EXPECT_EQ(ok<TypingReq>(R"({"op":"typing","to":"bob"})").target.name, "bob");
  EXPECT_EQ(ok<TypingReq>(R"({"op":"typing","group":"g"})").target.kind, Target::Kind::kGroup);
  bad(R"({"op":"typing"})", "target");
  const auto& a = ok<CursorReq>(R"({"op":"ack","peer":"alice","seq":12})");
  EXPECT_EQ(a.target, (Target{Target::Kind::kUser, "alice"}));
  EXPECT_EQ(a.seq, 12u);
  EXPECT_EQ(req_.env.op, Op::kAck);
  const auto& r = ok<CursorReq>(R"({"op":"read","group":"team","seq":18446744073709551615})");
  EXPECT_EQ(r.seq, UINT64_MAX);
  EXPECT_EQ(req_.env.op, Op::kRead);
  EXPECT_EQ(ok<CursorReq>(R"({"op":"read","to":"bob","seq":0})").seq, 0u);
  for (std::string_view seq : {"-1", "1.0", "1e2", "\"5\"", "null", "18446744073709551616",
                               "99999999999999999999999", "[]", "true"}) {
    bad(R"({"op":"ack","peer":"alice","seq":)" + std::string(seq) + "}", "seq");
  }
  bad(R"({"op":"ack","peer":"alice"})", "seq");
  bad(R"({"op":"read","seq":1})", "target");
}

TEST_F(RequestDecoderTest, History) {
  const auto& h = ok<HistoryReq>(R"({"op":"history","peer":"bob"})");
  EXPECT_EQ(h.target.name, "bob");
  EXPECT_EQ(h.before, 0u);
  EXPECT_EQ(h.limit, kDefaultHistoryLimit);
  const auto& g = ok<HistoryReq>(R"({"op":"history","group":"team","before":41,"limit":10})");
  EXPECT_EQ(g.before, 41u);
  EXPECT_EQ(g.limit, 10u);
  EXPECT_EQ(ok<HistoryReq>(R"({"op":"history","to":"b","limit":0})").limit, 1u);
  EXPECT_EQ(ok<HistoryReq>(R"({"op":"history","to":"b","limit":201})").limit, 200u);
  EXPECT_EQ(ok<HistoryReq>(R"({"op":"history","to":"b","limit":18446744073709551615})").limit,
            200u);
  bad(R"({"op":"history","to":"b","limit":-1})", "limit");
  bad(R"({"op":"history","to":"b","limit":"10"})", "limit");
  bad(R"({"op":"history","to":"b","before":2.5})", "before");
  bad(R"({"op":"history","to":"b","before":1e30})", "before");
  bad(R"({"op":"history"})", "target");
}

TEST_F(RequestDecoderTest, OpsWithoutFields) {
  for (std::string_view in :
       {R"({"op":"ping","seq":"x","to":5})", R"({"op":"logout"})",
        R"({"op":"groups","group":7,"members":1})", R"({"op":"friends","user":["x"]})"}) {
    ASSERT_TRUE(decode(in)) << in << " -> " << err_.message;
    EXPECT_TRUE(std::holds_alternative<std::monostate>(req_.body)) << in;
  }
}

using Names = std::vector<std::string>;

TEST_F(RequestDecoderTest, GroupCreate) {
  const auto& g = ok<GroupReq>(R"({"op":"group_create","group":"team","members":["bob","c.d"]})");
  EXPECT_EQ(req_.env.op, Op::kGroupCreate);
  EXPECT_EQ(g.group, "team");
  EXPECT_EQ(g.members, (Names{"bob", "c.d"}));
  // members is optional for create, and may be empty.
  EXPECT_TRUE(ok<GroupReq>(R"({"op":"group_create","group":"t"})").members.empty());
  EXPECT_TRUE(ok<GroupReq>(R"({"op":"group_create","group":"t","members":[]})").members.empty());
  EXPECT_EQ(ok<GroupReq>(R"({"members":["\u0062ob"],"op":"group_create","group":"t"})").members,
            Names{"bob"});
  bad(R"({"op":"group_create","members":["bob"]})", "group");
  bad(R"({"op":"group_create","group":"a b"})", "group");
  bad(R"({"op":"group_create","group":"#team"})", "group");
  bad(R"({"op":"group_create","group":""})", "group");
  bad(R"({"op":"group_create","group":")" + std::string(33, 'g') + "\"}", "group");
  bad(R"({"op":"group_create","group":["t"]})", "group");
  bad(R"({"op":"group_create","group":null})", "group");
  for (std::string_view members :
       {"\"bob\"", "null", "{}", "1", "true", R"(["bob",1])", R"([null])", R"([["bob"]])",
        R"([{"u":"bob"}])", R"(["bob",""])", R"(["b b"])", R"(["#t"])"}) {
    bad(R"({"op":"group_create","group":"t","members":)" + std::string(members) + "}",
        "members must be an array");
    // The rest of the frame after a refused element is skipped, not misread.
    bad(R"({"op":"group_create","group":"t","members":)" + std::string(members) +
            R"(,"x":[{"y":[]}]})",
        "members");
  }
  bad(R"({"op":"group_create","group":"t","members":[")" + std::string(33, 'm') + "\"]}",
      "members");
  // Broken JSON inside the list refuses the whole frame (every element is read in full).
  bad(R"({"op":"group_create","group":"t","members":["a",tru]})", "not valid JSON");
}

TEST_F(RequestDecoderTest, GroupAddRemove) {
  for (std::string_view op : {"group_add", "group_remove"}) {
    std::string head = R"({"op":")" + std::string(op) + R"(",)";
    const auto& g = ok<GroupReq>(head + R"("group":"team","members":["carol"]})");
    EXPECT_EQ(g.group, "team");
    EXPECT_EQ(g.members, Names{"carol"});
    EXPECT_EQ(req_.env.op, op == "group_add" ? Op::kGroupAdd : Op::kGroupRemove);
    bad(head + R"("group":"team"})", "members must be a non-empty");
    bad(head + R"("group":"team","members":[]})", "members must be a non-empty");
    bad(head + R"("group":"team","members":"carol"})", "members");
    bad(head + R"("group":"team","members":["carol",7]})", "members");
    bad(head + R"("members":["carol"]})", "group");
    bad(head + R"("group":"t m","members":["carol"]})", "group");
  }
}

TEST_F(RequestDecoderTest, GroupLeaveAndMembers) {
  for (std::string_view op : {"group_leave", "group_members"}) {
    std::string head = R"({"op":")" + std::string(op) + R"(",)";
    const auto& g = ok<GroupReq>(head + R"("group":"team"})");
    EXPECT_EQ(g.group, "team");
    EXPECT_TRUE(g.members.empty());
    // members is not a field of these ops: ignored like any unknown field.
    EXPECT_TRUE(ok<GroupReq>(head + R"("group":"team","members":["x"]})").members.empty());
    EXPECT_TRUE(ok<GroupReq>(head + R"("group":"team","members":5})").members.empty());
    bad(head + R"("to":"team"})", "group");
    bad(head + R"("group":""})", "group");
    bad(head + R"("group":1})", "group");
  }
}

TEST_F(RequestDecoderTest, ListsAreDeduplicatedInOrder) {
  EXPECT_EQ(ok<GroupReq>(R"({"op":"group_create","group":"t",)"
                         R"("members":["c","a","c","b","a","a","d","b"]})")
                .members,
            (Names{"c", "a", "b", "d"}));
  // Escaped spellings of the same name are the same name; names are case-sensitive.
  EXPECT_EQ(ok<UsersReq>(R"({"op":"watch","users":["bob","\u0062ob","Bob","bob"]})").users,
            (Names{"bob", "Bob"}));
  // Many duplicates: the first occurrences, in order.
  std::string list, want_csv;
  Names want;
  for (int i = 0; i < 900; ++i) {
    std::string name = "u" + std::to_string((i * 7) % 300);
    list += (i ? ",\"" : "\"") + name + "\"";
    if (std::find(want.begin(), want.end(), name) == want.end()) want.push_back(name);
  }
  EXPECT_EQ(ok<UsersReq>(R"({"op":"unwatch","users":[)" + list + "]}").users, want);
}

TEST_F(RequestDecoderTest, ListLimits) {
  auto names = [](size_t n, bool distinct) {
    std::string list;
    for (size_t i = 0; i < n; ++i) {
      list += (i ? ",\"u" : "\"u") + std::to_string(distinct ? i : 0) + "\"";
    }
    return "[" + list + "]";
  };
  EXPECT_EQ(
      ok<UsersReq>(R"({"op":"watch","users":)" + names(kMaxListNames, true) + "}").users.size(),
      kMaxListNames);
  bad(R"({"op":"watch","users":)" + names(kMaxListNames + 1, true) + "}", "at most 1000");
  bad(R"({"op":"watch","users":)" + names(kMaxListNames + 1, true) + R"(,"x":[1,{}]})", "users");
  EXPECT_EQ(
      ok<GroupReq>(R"({"op":"group_add","group":"g","members":)" + names(kMaxListNames, true) + "}")
          .members.size(),
      kMaxListNames);
  bad(R"({"op":"group_add","group":"g","members":)" + names(kMaxListNames + 1, true) + "}",
      "members must list at most 1000");
  // The limit counts the names as sent, duplicates included.
  bad(R"({"op":"group_create","group":"g","members":)" + names(kMaxListNames + 1, false) + "}",
      "at most 1000");
  EXPECT_EQ(ok<GroupReq>(R"({"op":"group_create","group":"g","members":)" +
                         names(kMaxListNames, false) + "}")
                .members,
            Names{"u0"});
}

TEST_F(RequestDecoderTest, Online) {
  const auto& o = ok<OnlineReq>(R"({"op":"online"})");
  EXPECT_EQ(req_.env.op, Op::kOnline);
  EXPECT_EQ(o.after, "");
  EXPECT_EQ(o.limit, 100u);
  const auto& p = ok<OnlineReq>(R"({"op":"online","after":"bob","limit":10})");
  EXPECT_EQ(p.after, "bob");
  EXPECT_EQ(p.limit, 10u);
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","after":""})").after, "");
  // after is only a cursor: any string of at most 32 bytes.
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","after":"a b#"})").after, "a b#");
  std::string a32(32, 'a');
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","after":")" + a32 + "\"}").after, a32);
  bad(R"({"op":"online","after":")" + a32 + "a\"}", "after");
  bad(R"({"op":"online","after":5})", "after");
  bad(R"({"op":"online","after":null})", "after");
  bad(R"({"op":"online","after":{"bob":1}})", "after");
  bad(R"({"op":"online","after":["bob"]})", "after");
  // Clamping.
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","limit":0})").limit, 1u);
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","limit":1})").limit, 1u);
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","limit":1000})").limit, 1000u);
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","limit":1001})").limit, 1000u);
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","limit":18446744073709551615})").limit, 1000u);
  for (std::string_view limit :
       {"-1", "1.5", "1e2", "\"10\"", "null", "[]", "true", "18446744073709551616"}) {
    bad(R"({"op":"online","limit":)" + std::string(limit) + "}", "limit");
  }
  // Duplicate keys: the last one wins, whatever its type.
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online","after":{"x":1},"after":"b"})").after, "b");
  bad(R"({"op":"online","after":"b","after":{}})", "after");
}

TEST_F(RequestDecoderTest, LoginAfterVersusOnlineAfter) {
  // The same key is an object for login and a string for online, whatever the order of the keys.
  EXPECT_EQ(ok<LoginReq>(R"({"after":{"bob":1},"op":"login","token":"t"})").after.size(), 1u);
  EXPECT_EQ(ok<OnlineReq>(R"({"after":"bob","op":"online"})").after, "bob");
  bad(R"({"after":"bob","op":"login","token":"t"})", "after");
  EXPECT_EQ(
      ok<LoginReq>(R"({"op":"login","token":"t","after":"bob","after":{"b":2}})").after.size(), 1u);
  bad(R"({"op":"login","token":"t","after":{"b":2},"after":"bob"})", "after");
}

TEST_F(RequestDecoderTest, WatchUnwatch) {
  const auto& w = ok<UsersReq>(R"({"op":"watch","users":["bob","carol"]})");
  EXPECT_EQ(req_.env.op, Op::kWatch);
  EXPECT_EQ(w.users, (Names{"bob", "carol"}));
  EXPECT_EQ(ok<UsersReq>(R"({"op":"unwatch","users":["bob"]})").users, Names{"bob"});
  EXPECT_EQ(req_.env.op, Op::kUnwatch);
  for (std::string_view op : {"watch", "unwatch"}) {
    std::string head = R"({"op":")" + std::string(op) + R"(")";
    bad(head + "}", "users must be a non-empty");
    bad(head + R"(,"users":[]})", "users must be a non-empty");
    bad(head + R"(,"user":"bob"})", "users");
    bad(head + R"(,"users":"bob"})", "users must be an array");
    bad(head + R"(,"users":null})", "users must be an array");
    bad(head + R"(,"users":["bob",null]})", "users must be an array");
    bad(head + R"(,"users":["bob",""]})", "users must be an array");
    bad(head + R"(,"users":["bo b"]})", "users must be an array");
    bad(head + R"(,"users":[")" + std::string(33, 'u') + "\"]}", "users must be an array");
  }
}

TEST_F(RequestDecoderTest, FriendOps) {
  for (auto [op, code] : {std::pair{"friend_request", Op::kFriendRequest},
                          std::pair{"friend_accept", Op::kFriendAccept},
                          std::pair{"friend_remove", Op::kFriendRemove}}) {
    std::string head = R"({"op":")" + std::string(op) + R"(")";
    EXPECT_EQ(ok<UserReq>(head + R"(,"user":"bob"})").user, "bob");
    EXPECT_EQ(req_.env.op, code);
    EXPECT_EQ(ok<UserReq>(head + R"(,"user":")" + std::string(32, 'b') + "\"}").user.size(), 32u);
    bad(head + "}", "user");
    bad(head + R"(,"to":"bob"})", "user");
    bad(head + R"(,"user":""})", "user");
    bad(head + R"(,"user":"b b"})", "user");
    bad(head + R"(,"user":")" + std::string(33, 'b') + "\"}", "user");
    bad(head + R"(,"user":["bob"]})", "user");
    bad(head + R"(,"user":7})", "user");
  }
}

TEST_F(RequestDecoderTest, MalformedListsAreRefusedAsJson) {
  for (std::string_view list : {R"(["a",])", R"(["a" "b"])", R"(["a",,"b"])", R"(["\q"])", R"([")",
                                R"(["a")", "[\"\xff\"]", R"(["a"})"}) {
    bad(R"({"op":"watch","users":)" + std::string(list) + "}", "JSON");
    // Read whatever the op, like every known field.
    EXPECT_FALSE(decode(R"({"op":"ping","members":)" + std::string(list) + "}")) << list;
  }
  // A refused element does not end the read: the rest of the array is still walked, so that a
  // missing comma after it is caught instead of the skip losing its place (found by the fuzzer:
  // the `id` and `users` inside the broken array were read as fields of the frame).
  for (std::string_view first : {R"("a b")", R"("bob,")", "1", "[]", "{}", "null"}) {
    bad(R"({"op":"watch","users":[)" + std::string(first) + R"("x","id":"w","users":["bob"]})",
        "JSON");
    bad(R"({"op":"group_create","group":"g","members":[)" + std::string(first) +
            R"( "x","group":"h"]})",
        "JSON");
  }
  bad(R"({"op":"watch","users":["a b",1,]})", "JSON");
  bad(R"({"op":"watch","users":["a b",{"x":[1,2]},3,"x"],"id":"w"})", "users must be an array");
  EXPECT_EQ(err_.id.text, "w");
}

TEST_F(RequestDecoderTest, UnknownFieldsAndDuplicateKeys) {
  const auto& s = ok<SendReq>(
      R"({"op":"send","x":{"deep":[1,{"y":null}]},"to":"b","cid":"c","body":"one","body":"two",)"
      R"("extra":"\u0000"})");
  EXPECT_EQ(s.body, "two");  // the last occurrence wins
  // A bad value overwritten by a good one is fine, and the other way round is not.
  ok<CursorReq>(R"({"op":"ack","peer":"a","seq":"x","seq":3})");
  bad(R"({"op":"ack","peer":"a","seq":3,"seq":"x"})", "seq");
  // Escaped keys are read unescaped.
  EXPECT_EQ(ok<SendReq>(R"({"\u006fp":"send","t\u006f":"b","cid":"c","body":"x"})").target.name,
            "b");
  // `op` may come last; the body is still decoded.
  EXPECT_EQ(ok<CursorReq>(R"({"peer":"a","seq":9,"op":"read"})").seq, 9u);
}

TEST_F(RequestDecoderTest, EnvelopeErrorsComeFirstAndEchoTheId) {
  // Body problems echo a well-formed id.
  bad(R"({"op":"ack","id":"r1","peer":"a"})", "seq");
  EXPECT_EQ(err_.id.kind, RequestId::Kind::kString);
  EXPECT_EQ(err_.id.text, "r1");
  // A bad id wins over a bad body and is not echoed.
  EXPECT_FALSE(decode(R"({"op":"ack","id":-1,"peer":"a"})"));
  EXPECT_EQ(err_.id.kind, RequestId::Kind::kNone);
  EXPECT_NE(err_.message.find("id"), std::string_view::npos);
  EXPECT_EQ(err_.code, ErrorCode::kBadRequest);
  // Unknown op, missing op, trailing content.
  bad(R"({"op":"sned","id":1,"to":"b"})", "unknown op");
  EXPECT_EQ(err_.id.number, 1u);
  bad(R"({"id":1,"to":"b"})", "op");
  bad(R"({"op":"send","to":"b","cid":"c","body":"x"} {})", "trailing");
  EXPECT_FALSE(decode(R"({"op":"send","to":"b","cid":"c","body":"x"}])"));
  // Malformed JSON inside a decoded field: the frame is refused as JSON.
  bad(R"({"op":"send","to":"b","cid":"c","body":"\q"})", "JSON");
  bad(R"({"op":"send","to":"b","cid":"c","body":"x)", "JSON");
  bad("{\"op\":\"send\",\"to\":\"b\",\"cid\":\"c\",\"body\":\"\xff\"}", "JSON");
  bad("{\"op\":\"send\",\"to\":\"b\",\"cid\":\"c\",\"body\":\"\xc0\xaf\"}", "JSON");
  bad(R"([{"op":"ping"}])", "object");
  // A failed read must not let the loop skip out of step and accept broken JSON (found by the
  // fuzzer: the meta walk stopped at `]` and the rest was skipped as if it were well-formed).
  bad(R"({"op":"ping","?d":"x","to":"bob","cid":"c0","bod?y":"hi","meta":{"a":][3,2]}})", "JSON");
  bad(R"({"op":"ping","after":{"a":]},"b":1})", "JSON");
  bad(R"({"op":"ping","seq":]})", "JSON");
  bad(R"({"op":"ping","to":,"b":1})", "JSON");
  // meta is read whatever the op, so a meta that is not JSON refuses any frame.
  bad(R"({"op":"ping","meta":[1e400]})", "meta");
}

TEST_F(RequestDecoderTest, HostileInputsDoNotCrash) {
  const std::string heads[] = {R"({"op":"send","to":"b","cid":"c","body":)",
                               R"({"op":"login","token":"t","after":)",
                               R"({"op":"ack","peer":"a","seq":)",
                               R"({"op":"history","to":"a","limit":)",
                               R"({"op":"watch","users":)",
                               R"({"op":"group_create","group":"g","members":["a",)",
                               R"({"op":"online","after":)"};
  const std::string values[] = {
      std::string(5000, '[') + std::string(5000, ']'),
      std::string(5000, '{'),
      "1" + std::string(5000, '0'),
      "-" + std::string(5000, '9'),
      "\"" + std::string(70000, 'a') + "\"",
      "{\"a\":" + std::string(2000, '[') + "}",
      "[\"" + std::string(10, '\\'),
      "\"\\ud800\"",
      "\"\\u00\"",
      "",
  };
  for (const auto& h : heads) {
    for (const auto& v : values) {
      decode(h + v + "}");  // either answer; no crash, no sanitizer report
      decode(h + v);
    }
  }
  // Every prefix of a valid request is refused without crashing.
  std::string full =
      R"({"op":"send","id":"x","to":"b","cid":"c","body":"h\u00e9","meta":{"a":[1]}})";
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(decode(full.substr(0, n))) << n;
  }
  EXPECT_TRUE(decode(full));
}

TEST_F(RequestDecoderTest, DecoderIsReusable) {
  ok<SendReq>(R"({"op":"send","to":"b","cid":"c","body":"x","meta":{"k":1}})");
  bad(R"({"op":"ack","peer":"a"})", "seq");
  const auto& l = ok<LoginReq>(R"({"op":"login","token":"t","after":{"a":1}})");
  EXPECT_EQ(l.after.size(), 1u);
  // Fields from the previous frame never leak into the next.
  bad(R"({"op":"send","to":"b","cid":"c"})", "body");
  EXPECT_EQ(ok<LoginReq>(R"({"op":"login","token":"t"})").after.size(), 0u);
  EXPECT_EQ(ok<UsersReq>(R"({"op":"watch","users":["a","b"]})").users.size(), 2u);
  EXPECT_TRUE(ok<GroupReq>(R"({"op":"group_create","group":"g"})").members.empty());
  EXPECT_EQ(ok<OnlineReq>(R"({"op":"online"})").after, "");
}

}  // namespace
}  // namespace parley::proto

namespace parley::proto {
namespace {

// Found by the fuzzer in CI: a broken separator inside an unusable name list let the rest of
// the frame be misread, and a ping was accepted.
TEST(RequestFuzzRegressions, BrokenListSeparatorIsRefused) {
  CommandDecoder d;
  Request req;
  DecodeError err;
  EXPECT_FALSE(d.decode(R"({"op":"ping","members":["b/b","garol","p":W"op":"gram{"op":"hiam"]})",
                        req, err, RequestLimits{}));
  EXPECT_FALSE(d.decode(R"({"op":"watch","users":["a",{"x":1},"p":1]})", req, err, RequestLimits{}));
}

// Found by the fuzzer in CI: an `after` key that is not a name had its value skipped, and a
// stray `:` after it was not noticed; the two decoders then disagreed about the frame.
TEST(RequestFuzzRegressions, JunkInsideAfterIsRefused) {
  CommandDecoder d;
  Request req;
  DecodeError err;
  Envelope env;
  for (std::string_view in : {R"({"op":"ping","after":{"":"":}})", R"({"op":"ping","after":{"":"":}}})",
                              R"({"op":"ping","after":{"bob":"x":1}})",
                              R"({"op":"ping","after":{"a b":[1 2]}})"}) {
    EXPECT_FALSE(d.decode(in, req, err, RequestLimits{})) << in;
    EXPECT_FALSE(d.decode(in, env, err)) << in;
  }
  // Well-formed: an ignored key, then a value that is not a seq (the field is bad, not the JSON).
  std::string login = R"({"op":"login","user":"a","password":"p","device":"d","after":)";
  ASSERT_TRUE(d.decode(login + R"({"a b":{"x":[1]},"bob":7}})", req, err, RequestLimits{}));
  EXPECT_EQ(std::get<LoginReq>(req.body).after.size(), 1u);
  EXPECT_FALSE(d.decode(login + R"({"bob":7,"carol":[1],"#g":2}})", req, err, RequestLimits{}));
  EXPECT_NE(err.message.find("after"), std::string_view::npos) << err.message;
  EXPECT_FALSE(d.decode(login + R"({"bob":7,"carol":[1 2]}})", req, err, RequestLimits{}));
  EXPECT_EQ(err.message, "not valid JSON");
}

// An integer past 64 bits in meta is valid JSON and is forwarded as sent (simdjson's DOM
// reader refuses such numbers; the fuzz target allows for that rather than the decoder).
TEST(RequestFuzzRegressions, MetaIntegerPast64BitsIsKept) {
  CommandDecoder d;
  Request req;
  DecodeError err;
  std::string big(70, '6');
  ASSERT_TRUE(d.decode(R"({"op":"send","to":"bob","cid":"c1","body":"hi","meta":{"a":[1,)" + big +
                           "]}}",
                       req, err, RequestLimits{}))
      << err.message;
  EXPECT_EQ(std::get<SendReq>(req.body).meta, R"({"a":[1,)" + big + "]}");
}

}  // namespace
}  // namespace parley::proto
