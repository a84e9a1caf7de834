// Groups and presence end to end: a real parleyd with 2 shards (members land on both), both
// transports. Fan-out order and completeness, joins and catch-up, removal, ownership, roles,
// cursors in group_members, online pagination.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>
#include <vector>

#include "e2e/chat_fixture.h"

namespace parley::test {
namespace {

using GroupTest = ChatTest;

INSTANTIATE_TEST_SUITE_P(Transports, GroupTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

std::string member_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ",\"" : "\"") + names[i] + "\"";
  return out + "]";
}

std::string group_send(Chat& c, const std::string& group, const std::string& cid,
                       const std::string& body) {
  return c.call(R"("op":"send","group":")" + group + R"(","cid":")" + cid + R"(","body":")" +
                body + "\"");
}

TEST_P(GroupTest, ThirtyMembersOnBothShardsGetEverythingInOrder) {
  const int kMembers = 30;
  std::vector<std::string> names;
  for (int i = 0; i < kMembers; ++i) {
    names.push_back("m" + std::to_string(i));
    register_user(names.back());
  }
  std::vector<std::unique_ptr<Chat>> clients;
  for (const auto& n : names) clients.push_back(logged_in(n));
  std::vector<std::string> others(names.begin() + 1, names.end());
  std::string created =
      clients[0]->call(R"("op":"group_create","group":"team","members":)" + member_list(others));
  ASSERT_TRUE(is_ok(created)) << created;
  EXPECT_EQ(json_str(created, "group"), "team");
  // Three members send 20 messages each, at the same time.
  const int kEach = 20;
  std::vector<std::thread> senders;
  for (int s = 0; s < 3; ++s) {
    senders.emplace_back([&, s] {
      for (int i = 0; i < kEach; ++i) {
        clients[s]->send(R"({"op":"send","group":"team","cid":"g)" + std::to_string(s) + "-" +
                         std::to_string(i) + R"(","body":"s)" + std::to_string(s) + "-" +
                         std::to_string(i) + "\"}");
      }
    });
  }
  for (auto& t : senders) t.join();
  const int kTotal = 1 + 3 * kEach;  // the create message, then everything sent
  // Every member sees seqs 1..kTotal exactly once: as msg pushes in increasing order, except
  // its own messages, which it sees only as ok replies.
  for (int m = 0; m < kMembers; ++m) {
    Chat& c = *clients[m];
    const int own = m < 3 ? kEach : 0;
    std::set<int64_t> seen;
    int64_t last_msg = 0;
    std::vector<int> next_from(3, 0);
    int msgs = 0, oks = 0;
    while (msgs + oks < kTotal) {
      std::optional<std::string> f;
      if (!c.pushes.empty()) {  // what arrived while the create call waited for its reply
        f = c.pushes.front();
        c.pushes.pop_front();
      } else {
        f = c.recv(10000);
      }
      ASSERT_TRUE(f) << names[m] << " stalled after " << msgs << " msgs, " << oks << " oks";
      std::string op = json_str(*f, "op");
      int64_t seq = json_int(*f, "seq");
      if (op == "ok" && seq > 0) {
        ++oks;
        EXPECT_TRUE(seen.insert(seq).second) << names[m] << " seq " << seq;
        continue;
      }
      if (op != "msg") continue;
      ++msgs;
      EXPECT_GT(seq, last_msg) << names[m];
      last_msg = seq;
      EXPECT_TRUE(seen.insert(seq).second) << names[m] << " seq " << seq;
      EXPECT_EQ(json_str(*f, "group"), "team");
      if (seq == 1) {
        EXPECT_EQ(json_str(*f, "type"), "system");
        continue;
      }
      std::string body = json_str(*f, "body");
      int s = body.size() > 1 ? body[1] - '0' : -1;
      ASSERT_TRUE(s >= 0 && s < 3) << body;
      EXPECT_NE(s, m) << "a copy of one's own message";
      EXPECT_EQ(body, "s" + std::to_string(s) + "-" + std::to_string(next_from[s]++));
    }
    EXPECT_EQ(oks, own) << names[m];
    EXPECT_EQ(seen.size(), static_cast<size_t>(kTotal)) << names[m];
    EXPECT_EQ(*seen.rbegin(), kTotal) << names[m];
    EXPECT_TRUE(c.quiet("msg", 100));
  }
}

// Requests on one connection are handled in arrival order: a send and a member listing pipelined
// right behind the group's creation see the group (found by the dispatcher fuzz target).
TEST_P(GroupTest, RequestsPipelinedBehindACreateSeeTheGroup) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  for (int round = 0; round < 20; ++round) {
    std::string g = "p" + std::to_string(round);
    int base = 100 + round * 10;
    a->send(R"({"id":)" + std::to_string(base) + R"(,"op":"group_create","group":")" + g +
            R"(","members":["bob"]})");
    a->send(R"({"id":)" + std::to_string(base + 1) + R"(,"op":"send","group":")" + g +
            R"(","cid":"c)" + g + R"(","body":"hi"})");
    a->send(R"({"id":)" + std::to_string(base + 2) + R"(,"op":"group_members","group":")" + g +
            "\"}");
    std::string created = a->reply_for(base), sent = a->reply_for(base + 1),
                members = a->reply_for(base + 2);
    ASSERT_TRUE(is_ok(created)) << created;
    EXPECT_TRUE(is_ok(sent)) << sent;
    EXPECT_EQ(json_int(sent, "seq"), 2) << sent;  // after the create message
    EXPECT_NE(members.find("\"bob\""), std::string::npos) << members;
  }
}

TEST_P(GroupTest, LateMemberStartsAtItsJoinAndOfflineMembersCatchUp) {
  for (const char* n : {"alice", "bob", "carol"}) register_user(n);
  auto a = logged_in("alice");
  ASSERT_TRUE(is_ok(a->call(R"("op":"group_create","group":"crew","members":["bob"])")));
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(is_ok(group_send(*a, "crew", "c" + std::to_string(i), "before")));
  std::string added = a->call(R"("op":"group_add","group":"crew","members":["carol"])");
  ASSERT_TRUE(is_ok(added)) << added;
  ASSERT_TRUE(is_ok(group_send(*a, "crew", "c4", "after")));
  // bob was offline the whole time: everything from seq 1. carol: from her join (seq 5).
  auto b = logged_in("bob");
  for (int64_t seq = 1; seq <= 6; ++seq) EXPECT_EQ(json_int(b->next("msg"), "seq"), seq);
  auto c = logged_in("carol");
  std::string join = c->next("msg");
  EXPECT_EQ(json_int(join, "seq"), 5);
  EXPECT_EQ(json_str(join, "type"), "system");
  EXPECT_NE(join.find(R"("event":"add")"), std::string::npos) << join;
  EXPECT_EQ(json_str(c->next("msg"), "body"), "after");
  EXPECT_TRUE(c->quiet("msg"));
  EXPECT_NE(last_login_.find(R"({"group":"crew","head":6)"), std::string::npos) << last_login_;
}

TEST_P(GroupTest, RemovedMemberStopsReceivingAndOutsidersAreForbidden) {
  for (const char* n : {"alice", "bob", "carol", "dave"}) register_user(n);
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  auto d = logged_in("dave");
  ASSERT_TRUE(is_ok(a->call(R"("op":"group_create","group":"club","members":["bob","carol"])")));
  EXPECT_EQ(json_int(b->next("msg"), "seq"), 1);
  EXPECT_EQ(code_of(b->call(R"("op":"group_remove","group":"club","members":["carol"])")),
            "forbidden");  // only the owner
  ASSERT_TRUE(is_ok(a->call(R"("op":"group_remove","group":"club","members":["bob"])")));
  std::string removed = b->next("msg");
  EXPECT_NE(removed.find(R"("event":"remove")"), std::string::npos) << removed;
  ASSERT_TRUE(is_ok(group_send(*a, "club", "x1", "bob must not see this")));
  EXPECT_TRUE(b->quiet("msg", 500));
  EXPECT_EQ(code_of(group_send(*b, "club", "x2", "let me in")), "forbidden");
  EXPECT_EQ(code_of(b->call(R"("op":"history","group":"club")")), "forbidden");
  EXPECT_EQ(code_of(b->call(R"("op":"group_members","group":"club")")), "forbidden");
  EXPECT_EQ(code_of(group_send(*d, "club", "x3", "hi")), "forbidden");
  EXPECT_EQ(code_of(d->call(R"("op":"typing","group":"club")")), "forbidden");
  EXPECT_EQ(code_of(group_send(*d, "nosuch", "x4", "hi")), "not_found");
  EXPECT_EQ(code_of(d->call(R"("op":"history","group":"nosuch")")), "not_found");
}

TEST_P(GroupTest, CreateRulesRolesCursorsAndOwnerHandover) {
  for (const char* n : {"alice", "bob", "carol"}) register_user(n);
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  EXPECT_EQ(code_of(a->call(R"("op":"group_create","group":"g1","members":["bob","ghost"])")),
            "not_found");
  EXPECT_EQ(code_of(a->call(R"("op":"group_members","group":"g1")")), "not_found");
  ASSERT_TRUE(is_ok(a->call(R"("op":"group_create","group":"g1","members":["bob","carol"])")));
  EXPECT_EQ(code_of(b->call(R"("op":"group_create","group":"g1")")), "conflict");
  ASSERT_TRUE(is_ok(group_send(*a, "g1", "m1", "hello")));
  b->next("msg");
  b->next("msg");
  EXPECT_TRUE(is_ok(b->call(R"("op":"read","group":"g1","seq":2)")));
  // The group's shard learns bob's cursors by a message of its own: poll briefly.
  std::string members;
  for (int i = 0; i < 50; ++i) {
    members = a->call(R"("op":"group_members","group":"g1")");
    if (members.find(R"({"user":"bob","role":"member","recv":2)") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(is_ok(members)) << members;
  // The sender's cursors move past its own messages.
  EXPECT_NE(members.find(R"({"user":"alice","role":"owner","recv":2,"read":2,"online":true})"),
            std::string::npos)
      << members;
  EXPECT_NE(members.find(R"({"user":"bob","role":"member","recv":2,"read":2,"online":true})"),
            std::string::npos)
      << members;
  EXPECT_NE(members.find(R"({"user":"carol","role":"member","recv":0,"read":0,"online":false})"),
            std::string::npos)
      << members;
  std::string groups = b->call(R"("op":"groups")");
  EXPECT_NE(groups.find(R"({"group":"g1","role":"member","head":2,"recv":2,"read":2,"members":3})"),
            std::string::npos)
      << groups;
  // The owner leaves: the longest-standing member (bob) takes over.
  ASSERT_TRUE(is_ok(a->call(R"("op":"group_leave","group":"g1")")));
  std::string after = b->call(R"("op":"group_members","group":"g1")");
  EXPECT_NE(after.find(R"({"user":"bob","role":"owner")"), std::string::npos) << after;
  EXPECT_EQ(after.find("alice"), std::string::npos) << after;
  EXPECT_TRUE(is_ok(b->call(R"("op":"group_add","group":"g1","members":["alice"])")));
}

TEST_P(GroupTest, GroupsSurviveARestart) {
  for (const char* n : {"alice", "bob"}) register_user(n);
  {
    auto a = logged_in("alice");
    ASSERT_TRUE(is_ok(a->call(R"("op":"group_create","group":"keep","members":["bob"])")));
    ASSERT_TRUE(is_ok(group_send(*a, "keep", "k1", "one")));
  }
  ASSERT_TRUE(restart(SIGTERM)) << server_.log();
  auto b = logged_in("bob");
  EXPECT_EQ(json_int(b->next("msg"), "seq"), 1);
  EXPECT_EQ(json_str(b->next("msg"), "body"), "one");
  auto a = logged_in("alice");
  EXPECT_EQ(json_int(group_send(*a, "keep", "k2", "two"), "seq"), 3);
  EXPECT_EQ(json_str(b->next("msg"), "body"), "two");
  std::string members = a->call(R"("op":"group_members","group":"keep")");
  EXPECT_NE(members.find(R"({"user":"alice","role":"owner")"), std::string::npos) << members;
  EXPECT_EQ(code_of(a->call(R"("op":"group_create","group":"keep")")), "conflict");
}

TEST_P(GroupTest, OnlineListPagesInNameOrderWithATotalCount) {
  std::vector<std::unique_ptr<Chat>> online;
  for (const char* n : {"eve", "bob", "dan", "alice", "carl"}) {
    register_user(n);
    online.push_back(logged_in(n));
  }
  register_user("zoe");  // registered, never online
  auto& c = *online[0];
  std::string p1 = c.call(R"("op":"online","limit":2)");
  EXPECT_NE(p1.find(R"("users":["alice","bob"],"count":5)"), std::string::npos) << p1;
  std::string p2 = c.call(R"("op":"online","after":"bob","limit":2)");
  EXPECT_NE(p2.find(R"("users":["carl","dan"],"count":5)"), std::string::npos) << p2;
  std::string p3 = c.call(R"("op":"online","after":"dan")");
  EXPECT_NE(p3.find(R"("users":["eve"],"count":5)"), std::string::npos) << p3;
  online.pop_back();  // carl disconnects
  std::string p4;
  for (int i = 0; i < 50; ++i) {
    p4 = c.call(R"("op":"online")");
    if (p4.find("carl") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(p4.find(R"("users":["alice","bob","dan","eve"],"count":4)"), std::string::npos) << p4;
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

// Which of the 2 shards owns a user (FNV-1a of the name, as the server does): lets a test put
// two users on different shards on purpose.
int shard_of(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return static_cast<int>(h % 2);
}

// Two names owned by different shards.
std::pair<std::string, std::string> cross_shard_pair(const std::string& a_prefix,
                                                     const std::string& b_prefix) {
  for (int i = 0; i < 100; ++i) {
    for (int j = 0; j < 100; ++j) {
      std::string a = a_prefix + std::to_string(i), b = b_prefix + std::to_string(j);
      if (shard_of(a) != shard_of(b)) return {a, b};
    }
  }
  return {a_prefix, b_prefix};
}

using PresenceTest = ChatTest;

INSTANTIATE_TEST_SUITE_P(Transports, PresenceTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

TEST_P(PresenceTest, WatchersSeePresenceChangesFromAnotherShard) {
  auto [watcher, target] = cross_shard_pair("watcher", "target");
  register_user(watcher);
  register_user(target);
  auto w = logged_in(watcher);
  EXPECT_EQ(code_of(w->call(R"("op":"watch","users":["ghost"])")), "not_found");
  std::string r = w->call(R"("op":"watch","users":[")" + target + R"("])");
  ASSERT_TRUE(is_ok(r)) << r;
  EXPECT_NE(r.find(R"("online":false,"last_seen":null)"), std::string::npos) << r;
  {
    auto t = logged_in(target);
    std::string on = w->next("presence");
    EXPECT_EQ(json_str(on, "user"), target);
    EXPECT_NE(on.find(R"("online":true)"), std::string::npos) << on;
  }
  std::string off = w->next("presence");
  EXPECT_NE(off.find(R"("online":false)"), std::string::npos) << off;
  EXPECT_GT(json_int(off, "ts"), 0);
  std::string again = w->call(R"("op":"watch","users":[")" + target + R"("])");
  EXPECT_EQ(again.find("\"last_seen\":null"), std::string::npos) << again;
  EXPECT_TRUE(is_ok(w->call(R"("op":"unwatch","users":[")" + target + R"("])")));
  auto t2 = logged_in(target);
  EXPECT_TRUE(w->quiet("presence", 400));
}

TEST_P(PresenceTest, FriendsRequestAcceptPresenceAndRemove) {
  auto [a_name, b_name] = cross_shard_pair("fa", "fb");
  register_user(a_name);
  register_user(b_name);
  auto a = logged_in(a_name);
  auto b = logged_in(b_name);
  EXPECT_EQ(code_of(a->call(R"("op":"friend_request","user":")" + a_name + "\"")), "bad_request");
  EXPECT_EQ(code_of(a->call(R"("op":"friend_request","user":"ghost")")), "not_found");
  EXPECT_EQ(code_of(b->call(R"("op":"friend_accept","user":")" + a_name + "\"")), "not_found");
  ASSERT_TRUE(is_ok(a->call(R"("op":"friend_request","user":")" + b_name + "\"")));
  std::string req = b->next("friend_request");
  EXPECT_EQ(json_str(req, "from"), a_name);
  std::string lists = b->call(R"("op":"friends")");
  EXPECT_NE(lists.find(R"("friends":[],"pending":{"in":[")" + a_name + R"("],"out":[]})"),
            std::string::npos)
      << lists;
  ASSERT_TRUE(is_ok(b->call(R"("op":"friend_accept","user":")" + a_name + "\"")));
  EXPECT_EQ(json_str(a->next("friend_accepted"), "user"), b_name);
  std::string fl = a->call(R"("op":"friends")");
  EXPECT_NE(fl.find(R"({"user":")" + b_name + R"(","online":true)"), std::string::npos) << fl;
  // Friends get presence without watching.
  b.reset();
  std::string off = a->next("presence");
  EXPECT_EQ(json_str(off, "user"), b_name);
  EXPECT_NE(off.find(R"("online":false)"), std::string::npos) << off;
  ASSERT_TRUE(is_ok(a->call(R"("op":"friend_remove","user":")" + b_name + "\"")));
  auto b2 = logged_in(b_name);
  EXPECT_TRUE(a->quiet("presence", 400));
  std::string none = b2->call(R"("op":"friends")");
  EXPECT_NE(none.find(R"("friends":[],"pending":{"in":[],"out":[]})"), std::string::npos) << none;
}

class FriendsOnly : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "friends_only = true\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, FriendsOnly, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

TEST_P(FriendsOnly, OneToOneSendsNeedAFriendship) {
  for (const char* n : {"alice", "bob", "carol"}) register_user(n);
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  EXPECT_EQ(code_of(a->send_to("bob", "f1", "hi")), "forbidden");
  ASSERT_TRUE(is_ok(a->call(R"("op":"friend_request","user":"bob")")));
  EXPECT_EQ(code_of(a->send_to("bob", "f2", "hi")), "forbidden");  // still pending
  ASSERT_TRUE(is_ok(b->call(R"("op":"friend_accept","user":"alice")")));
  std::string ok;
  for (int i = 0; i < 50; ++i) {  // alice's side learns of the acceptance by a message
    ok = a->send_to("bob", "f3-" + std::to_string(i), "hi");
    if (is_ok(ok)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(is_ok(ok)) << ok;
  EXPECT_EQ(code_of(a->send_to("carol", "f4", "hi")), "forbidden");
  EXPECT_TRUE(is_ok(a->send_to("alice", "f5", "a note to self")));
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

class Broadcast : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "api_key = \"backend-key\"\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, Broadcast, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

TEST_P(Broadcast, ReachesEveryLoggedInConnectionOnEveryShardAndIsNotStored) {
  auto [a_name, b_name] = cross_shard_pair("ba", "bb");
  register_user(a_name);
  register_user(b_name);
  auto a = logged_in(a_name);
  auto b = logged_in(b_name, "phone");
  auto b2 = logged_in(b_name, "laptop");
  auto anon = client();
  const std::string auth = "Authorization: Bearer backend-key\r\n";
  HttpReply no_key = http_request(http_port(), "POST", "/v1/broadcast", R"({"body":"x"})");
  EXPECT_EQ(no_key.status, 401) << no_key.body;
  HttpReply bad = http_request(http_port(), "POST", "/v1/broadcast", R"({"body":5})", auth);
  EXPECT_EQ(bad.status, 400) << bad.body;
  HttpReply r = http_request(http_port(), "POST", "/v1/broadcast",
                             R"({"body":"maintenance at noon","type":"text"})", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_int(r.body, "connections"), 3);
  for (Chat* c : {a.get(), b.get(), b2.get()}) {
    std::string m = c->next("msg");
    EXPECT_EQ(json_str(m, "body"), "maintenance at noon");
    EXPECT_NE(m.find(R"("broadcast":true)"), std::string::npos) << m;
    EXPECT_FALSE(json_has(m, "seq")) << m;
  }
  EXPECT_FALSE(anon->recv(300).has_value());  // not logged in: nothing
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

class GroupRetention : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[storage]\nretention = \"1ms\"\nretention_count = 5\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, GroupRetention, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

TEST_P(GroupRetention, GroupLogsAreTrimmedToo) {
  for (const char* n : {"alice", "bob"}) register_user(n);
  auto a = logged_in("alice");
  ASSERT_TRUE(is_ok(a->call(R"("op":"group_create","group":"old","members":["bob"])")));
  for (int i = 1; i <= 12; ++i) {
    ASSERT_TRUE(is_ok(group_send(*a, "old", "r" + std::to_string(i), "x")));
  }
  std::string page;  // head 13 (the create message + 12): 9..13 stay
  for (int attempt = 0; attempt < 50; ++attempt) {
    page = a->call(R"("op":"history","group":"old","limit":50)");
    if (page.find("\"seq\":8,") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(page.find("\"seq\":8,"), std::string::npos) << page;
  EXPECT_NE(page.find("\"seq\":9,"), std::string::npos) << page;
  auto b = logged_in("bob");
  EXPECT_EQ(json_int(b->next("msg"), "seq"), 9);
  EXPECT_EQ(json_int(group_send(*a, "old", "r13", "x"), "seq"), 14);
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

using GroupCrashTest = ChatTest;
INSTANTIATE_TEST_SUITE_P(Transports, GroupCrashTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// kill -9 in the middle of a burst into a group whose members are online (the fan-out is
// running): after the restart every acknowledged message is in the group once, with the seq it
// was acknowledged with, and a resend of any cid is answered from the dedupe table.
TEST_P(GroupCrashTest, CrashDuringFanOutLosesNothingAcknowledged) {
  for (const char* u : {"alice", "bob", "carol"}) register_user(u);
  auto a = logged_in("alice");
  ASSERT_TRUE(is_ok(a->call(R"("op":"group_create","group":"burst","members":["bob","carol"])")));
  auto b = logged_in("bob");
  auto c = logged_in("carol");
  const int kTotal = 300;
  std::map<std::string, int64_t> acked =
      send_burst_and_crash(*a, R"("group":"burst")", kTotal, 100);
  auto a2 = logged_in("alice", "second");
  for (int i = 0; i < kTotal; ++i) {
    std::string cid = "k" + std::to_string(i);
    std::string r = a2->call(R"("op":"send","group":"burst","cid":")" + cid + R"(","body":")" +
                             cid + "\"");
    ASSERT_TRUE(is_ok(r)) << r;
    auto it = acked.find(cid);
    if (it != acked.end()) {
      EXPECT_EQ(json_int(r, "seq"), it->second) << cid;
    }
  }
  // A member logging in after the crash gets the whole group: each cid once, seqs rising.
  auto c2 = logged_in("carol", "after");
  std::set<std::string> seen;
  int64_t last = 0;
  while (seen.size() < static_cast<size_t>(kTotal)) {
    std::string m = c2->next("msg");
    ASSERT_FALSE(m.empty()) << seen.size() << " of " << kTotal;
    EXPECT_GT(json_int(m, "seq"), last);
    last = json_int(m, "seq");
    std::string cid = json_str(m, "cid");
    if (cid.empty() || cid[0] != 'k') continue;  // the group's system messages
    EXPECT_TRUE(seen.insert(cid).second) << "duplicate " << cid;
  }
  EXPECT_TRUE(c2->quiet("msg"));
}

}  // namespace
}  // namespace parley::test
