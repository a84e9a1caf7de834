// Who may do what (RELIABILITY.md "Authorization"): one test per rule, over a socket and over
// the HTTP API. A refusal changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "e2e/chat_fixture.h"

namespace parley::test {
namespace {

std::string bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

class AuthzTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "api_key = \"backend-key\"\n";
  }
  void SetUp() override {
    ChatTest::SetUp();
    for (const char* u : {"alice", "bob", "carol", "dave"}) register_user(u);
    alice = logged_in("alice");
    ASSERT_TRUE(is_ok(alice->call(R"("op":"group_create","group":"crew","members":["bob","carol"])")));
    ASSERT_TRUE(is_ok(alice->call(R"("op":"send","group":"crew","cid":"g1","body":"inside")")));
    ASSERT_TRUE(is_ok(alice->send_to("bob", "p1", "private")));
    bob = logged_in("bob");
    while (!bob->next("msg", 500).empty()) {  // bob's backlog: the group's and alice's messages
    }
    dave = logged_in("dave");
    dave_token = json_str(last_login_, "token");
  }
  std::unique_ptr<Chat> alice, bob, dave;
  std::string dave_token;
};

INSTANTIATE_TEST_SUITE_P(Transports, AuthzTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// An outsider can neither read, nor ack, nor send, nor type into a group, nor list or change
// its members.
TEST_P(AuthzTest, OutsidersStayOutOfAGroup) {
  EXPECT_EQ(code_of(dave->call(R"("op":"send","group":"crew","cid":"x","body":"hi")")), "forbidden");
  EXPECT_EQ(code_of(dave->call(R"("op":"history","group":"crew")")), "forbidden");
  EXPECT_EQ(code_of(dave->call(R"("op":"ack","group":"crew","seq":1)")), "forbidden");
  EXPECT_EQ(code_of(dave->call(R"("op":"read","group":"crew","seq":1)")), "forbidden");
  EXPECT_EQ(code_of(dave->call(R"("op":"group_members","group":"crew")")), "forbidden");
  EXPECT_EQ(code_of(dave->call(R"("op":"group_add","group":"crew","members":["dave"])")),
            "forbidden");
  EXPECT_EQ(code_of(dave->call(R"("op":"group_remove","group":"crew","members":["bob"])")),
            "forbidden");
  EXPECT_EQ(code_of(dave->call(R"("op":"history","group":"nosuch")")), "not_found");
  std::string members = alice->call(R"("op":"group_members","group":"crew")");
  EXPECT_EQ(members.find("dave"), std::string::npos) << members;
  EXPECT_NE(members.find("bob"), std::string::npos) << members;
  EXPECT_TRUE(bob->quiet("msg"));  // nothing from dave reached the group
}

// A member who is not the owner may read and send, and leave, but not administer.
TEST_P(AuthzTest, OnlyTheOwnerAdministers) {
  EXPECT_EQ(code_of(bob->call(R"("op":"group_add","group":"crew","members":["dave"])")),
            "forbidden");
  EXPECT_EQ(code_of(bob->call(R"("op":"group_remove","group":"crew","members":["carol"])")),
            "forbidden");
  EXPECT_TRUE(is_ok(bob->call(R"("op":"history","group":"crew")")));
  EXPECT_TRUE(is_ok(bob->call(R"("op":"send","group":"crew","cid":"b1","body":"member")")));
  EXPECT_TRUE(is_ok(alice->call(R"("op":"group_add","group":"crew","members":["dave"])")));
}

// A 1:1 conversation belongs to its two users: a third sees nothing of it and cannot move its
// cursors.
TEST_P(AuthzTest, OthersOneToOneIsInvisible) {
  std::string h = dave->call(R"("op":"history","peer":"alice")");
  ASSERT_TRUE(is_ok(h)) << h;  // dave's own (empty) conversation with alice
  EXPECT_EQ(h.find("private"), std::string::npos) << h;
  EXPECT_EQ(code_of(dave->call(R"("op":"ack","peer":"alice","seq":1)")), "bad_request");
  EXPECT_EQ(code_of(dave->call(R"("op":"read","peer":"bob","seq":1)")), "bad_request");
  std::string mine = bob->call(R"("op":"history","peer":"alice")");
  EXPECT_NE(mine.find("private"), std::string::npos) << mine;
}

// Over HTTP: a user's token is not the api key, a forged or expired token is nobody, and group
// rules are the same as over a socket.
TEST_P(AuthzTest, HttpCallsCheckTheCaller) {
  const std::string as_dave = bearer(dave_token);
  auto post = [&](const std::string& path, const std::string& body, const std::string& h) {
    return http_request(http_port(), "POST", path, body, h).status;
  };
  auto get = [&](const std::string& path, const std::string& h) {
    return http_request(http_port(), "GET", path, {}, h).status;
  };
  // Impersonation needs the api key.
  EXPECT_EQ(post("/v1/messages", R"({"from":"alice","to":"bob","cid":"h1","body":"x"})", as_dave),
            401);
  EXPECT_EQ(post("/v1/messages", R"({"from":"alice","to":"bob","cid":"h1","body":"x"})", ""), 401);
  EXPECT_EQ(get("/v1/online", as_dave), 401);
  EXPECT_EQ(post("/v1/admin/checkpoint", "", as_dave), 401);
  EXPECT_EQ(post("/v1/broadcast", R"({"body":"x"})", as_dave), 401);
  // Forged tokens: another key, "alg":"none", a bearer that is almost the api key.
  const std::string none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
  EXPECT_EQ(get("/v1/conversations/bob/messages", bearer(none)), 401);
  EXPECT_EQ(get("/v1/conversations/bob/messages", bearer(dave_token + "x")), 401);
  EXPECT_EQ(post("/v1/messages", R"({"from":"alice","to":"bob","cid":"h2","body":"x"})",
                 bearer("backend-kez")),
            401);
  // Group rules hold over HTTP.
  EXPECT_EQ(get("/v1/groups/crew/messages", as_dave), 403);
  EXPECT_EQ(http_request(http_port(), "DELETE", "/v1/groups/crew/members/bob", {}, as_dave).status,
            403);
  EXPECT_EQ(get("/v1/groups/crew/members", as_dave), 403);
  EXPECT_EQ(get("/v1/files/AAAAAAAAAAAAAAAAAAAAAA", bearer(none)), 401);
  EXPECT_TRUE(bob->quiet("msg"));  // no impersonated message arrived
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

class AuthzOpsTest : public ChatTest {};

INSTANTIATE_TEST_SUITE_P(Transports, AuthzOpsTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// Every op of the protocol but register, login and ping, with valid fields, before a login:
// `unauthorized`, and nothing happens (alice sees no message, request or typing from it).
TEST_P(AuthzOpsTest, EveryOpNeedsALogin) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  auto anon = client();
  const char* ops[] = {
      R"("op":"logout")",
      R"("op":"send","to":"alice","cid":"x","body":"hi")",
      R"("op":"typing","to":"alice")",
      R"("op":"ack","peer":"alice","seq":1)",
      R"("op":"read","peer":"alice","seq":1)",
      R"("op":"history","peer":"alice")",
      R"("op":"group_create","group":"g","members":["alice"])",
      R"("op":"group_add","group":"g","members":["alice"])",
      R"("op":"group_remove","group":"g","members":["alice"])",
      R"("op":"group_leave","group":"g")",
      R"("op":"group_members","group":"g")",
      R"("op":"groups")",
      R"("op":"online")",
      R"("op":"watch","users":["alice"])",
      R"("op":"unwatch","users":["alice"])",
      R"("op":"friend_request","user":"alice")",
      R"("op":"friend_accept","user":"alice")",
      R"("op":"friend_remove","user":"alice")",
      R"("op":"friends")",
  };
  for (const char* op : ops) {
    std::string r = anon->call(op);
    EXPECT_EQ(code_of(r), "unauthorized") << op << " -> " << r;
  }
  EXPECT_TRUE(a->quiet("msg"));
  EXPECT_TRUE(a->quiet("friend_request", 100));
  EXPECT_TRUE(a->quiet("typing", 100));
  std::string f = a->call(R"("op":"friends")");
  EXPECT_NE(f.find(R"("pending":{"in":[],"out":[]})"), std::string::npos) << f;
  std::string g = a->call(R"("op":"groups")");
  EXPECT_NE(g.find(R"("groups":[])"), std::string::npos) << g;
}

// Friendship needs both sides: nobody can accept a request that was not made to them, make
// themselves someone's friend, or see another user's friends; a decline leaves nothing.
TEST_P(AuthzOpsTest, FriendshipNeedsBothSides) {
  for (const char* u : {"alice", "bob", "mallory"}) register_user(u);
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  auto m = logged_in("mallory");
  ASSERT_TRUE(is_ok(a->call(R"("op":"friend_request","user":"bob")")));
  // mallory cannot accept alice's request to bob, nor one that was never made.
  EXPECT_EQ(code_of(m->call(R"("op":"friend_accept","user":"alice")")), "not_found");
  EXPECT_EQ(code_of(m->call(R"("op":"friend_accept","user":"bob")")), "not_found");
  // ...nor withdraw it for either of them.
  EXPECT_EQ(code_of(m->call(R"("op":"friend_remove","user":"alice")")), "not_found");
  std::string lists = m->call(R"("op":"friends")");
  EXPECT_EQ(lists.find("alice"), std::string::npos) << lists;  // only one's own lists
  EXPECT_EQ(lists.find("bob"), std::string::npos) << lists;
  std::string pending = b->call(R"("op":"friends")");
  EXPECT_NE(pending.find(R"("in":["alice"])"), std::string::npos) << pending;
  // bob declines: nothing is left on either side, and alice cannot accept her own request.
  EXPECT_EQ(code_of(a->call(R"("op":"friend_accept","user":"bob")")), "not_found");
  ASSERT_TRUE(is_ok(b->call(R"("op":"friend_remove","user":"alice")")));
  // (The other side learns of a change a moment after the ok: poll.)
  auto eventually = [](const std::function<bool()>& ok) {
    for (int i = 0; i < 100; ++i) {
      if (ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  for (auto* c : {a.get(), b.get()}) {
    std::string l;
    EXPECT_TRUE(eventually([&] {
      l = c->call(R"("op":"friends")");
      return l.find(R"("friends":[],"pending":{"in":[],"out":[]})") != std::string::npos;
    })) << l;
  }
  // mallory's request is only hers: bob accepting it makes them friends, alice is untouched.
  ASSERT_TRUE(is_ok(m->call(R"("op":"friend_request","user":"bob")")));
  EXPECT_TRUE(eventually([&] { return is_ok(b->call(R"("op":"friend_accept","user":"mallory")")); }));
  std::string al = a->call(R"("op":"friends")");
  EXPECT_EQ(al.find("mallory"), std::string::npos) << al;
}

// Typing goes only where a message could: to an existing user, or into a group one is in.
// Presence is public by design (watch/online), but only to logged-in users.
TEST_P(AuthzOpsTest, TypingOnlyWhereOneCouldSend) {
  for (const char* u : {"alice", "bob", "mallory"}) register_user(u);
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  auto m = logged_in("mallory");
  ASSERT_TRUE(is_ok(a->call(R"("op":"group_create","group":"pair","members":["bob"])")));
  while (!b->next("msg", 300).empty()) {
  }
  while (!a->next("msg", 100).empty()) {
  }
  std::string t = m->call(R"("op":"typing","group":"pair")");
  EXPECT_EQ(code_of(t), "forbidden") << t;
  EXPECT_EQ(code_of(m->call(R"("op":"typing","group":"nosuch")")), "not_found");
  EXPECT_EQ(code_of(m->call(R"("op":"typing","to":"ghost")")), "not_found");
  EXPECT_TRUE(a->quiet("typing"));
  EXPECT_TRUE(b->quiet("typing", 100));
  a->send(R"({"op":"typing","group":"pair"})");  // a member's typing reaches the others
  EXPECT_EQ(json_str(b->next("typing"), "from"), "alice");
  std::string w = m->call(R"("op":"watch","users":["ghost"])");
  EXPECT_EQ(code_of(w), "not_found") << w;
}

}  // namespace
}  // namespace parley::test
