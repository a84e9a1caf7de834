// The chat core end to end: a real parleyd (2 shards), real sockets, both transports.
// Accounts, login, 1:1 messages, offline backlog, multi-device, acks and receipts, dedupe,
// history, restart and crash recovery.
#include <gtest/gtest.h>

#include <csignal>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "e2e/chat_fixture.h"

namespace parley::test {
namespace {

INSTANTIATE_TEST_SUITE_P(Transports, ChatTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

TEST_P(ChatTest, RegisterRulesAndLoginFailures) {
  register_user("alice");
  auto c = client();
  EXPECT_EQ(code_of(c->call(R"("op":"register","user":"alice","password":"another1")")),
            "conflict");
  EXPECT_EQ(code_of(c->call(R"("op":"register","user":"bad name","password":"secret1")")),
            "bad_request");
  EXPECT_EQ(code_of(c->call(R"("op":"register","user":"shorty","password":"12345")")),
            "bad_request");
  EXPECT_EQ(code_of(c->login("alice", "wrong-password")), "unauthorized");
  EXPECT_EQ(code_of(c->login("nobody", "secret1")), "unauthorized");
  EXPECT_EQ(code_of(c->call(R"("op":"send","to":"alice","cid":"x","body":"hi")")),
            "unauthorized");
  std::string ok = c->login("alice", "secret1");
  ASSERT_TRUE(is_ok(ok)) << ok;
  EXPECT_EQ(json_str(ok, "user"), "alice");
  EXPECT_FALSE(json_str(ok, "token").empty());
  EXPECT_EQ(code_of(c->login("alice", "secret1")), "bad_request");  // already logged in
}

// Requests are handled in order on a connection: a login (and a send) pipelined right behind a
// register find the new account, even though hashing the password takes a while.
TEST_P(ChatTest, LoginPipelinedBehindRegister) {
  register_user("bob");
  auto c = client();
  c->send(R"({"id":1,"op":"register","user":"carol","password":"secret1"})");
  c->send(R"({"id":2,"op":"login","user":"carol","password":"secret1","device":"d"})");
  c->send(R"({"id":3,"op":"send","to":"bob","cid":"c1","body":"hi"})");
  std::string reg = c->reply_for(1), login = c->reply_for(2), sent = c->reply_for(3);
  EXPECT_TRUE(is_ok(reg)) << reg;
  EXPECT_TRUE(is_ok(login)) << login;
  EXPECT_TRUE(is_ok(sent)) << sent;
  // A failed register lets the next request through too.
  auto d = client();
  d->send(R"({"id":1,"op":"register","user":"carol","password":"secret1"})");
  d->send(R"({"id":2,"op":"ping"})");
  EXPECT_EQ(code_of(d->reply_for(1)), "conflict");
  EXPECT_EQ(json_str(d->reply_for(2), "op"), "pong");
}

TEST_P(ChatTest, OneToOneMessageWithSentReceipt) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  std::string ok = a->send_to("bob", "c-1", "hello bob");
  ASSERT_TRUE(is_ok(ok)) << ok;
  EXPECT_EQ(json_str(ok, "cid"), "c-1");
  EXPECT_EQ(json_int(ok, "seq"), 1);
  EXPECT_FALSE(json_str(ok, "mid").empty());
  EXPECT_GT(json_int(ok, "ts"), 0);
  std::string m = b->next("msg");
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(json_str(m, "from"), "alice");
  EXPECT_EQ(json_str(m, "to"), "bob");
  EXPECT_EQ(json_str(m, "body"), "hello bob");
  EXPECT_EQ(json_str(m, "type"), "text");
  EXPECT_EQ(json_int(m, "seq"), 1);
  EXPECT_EQ(json_str(m, "mid"), json_str(ok, "mid"));
  EXPECT_TRUE(a->quiet("msg"));  // the sending connection gets ok, not a copy
  EXPECT_EQ(code_of(a->send_to("nobody", "c-2", "x")), "not_found");
}

TEST_P(ChatTest, OfflineBacklogThenLiveWithoutGapsOrDuplicates) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(is_ok(a->send_to("bob", "b" + std::to_string(i), "m" + std::to_string(i))));
  }
  // bob logs in while alice keeps sending: backlog and live messages interleave on the server.
  auto b = client();
  b->send(R"({"id":1,"op":"login","user":"bob","password":"secret1"})");
  for (int i = 21; i <= 40; ++i) {
    a->send(R"({"op":"send","to":"bob","cid":"b)" + std::to_string(i) + R"(","body":"m)" +
            std::to_string(i) + "\"}");
  }
  std::string login = b->reply_for(1);
  ASSERT_TRUE(is_ok(login)) << login;
  for (int i = 1; i <= 40; ++i) {
    std::string m = b->next("msg");
    ASSERT_FALSE(m.empty()) << "message " << i << " missing";
    EXPECT_EQ(json_int(m, "seq"), i);
    EXPECT_EQ(json_str(m, "body"), "m" + std::to_string(i));
  }
  EXPECT_TRUE(b->quiet("msg"));
}

TEST_P(ChatTest, EveryDeviceGetsMessagesAndTheSenderOtherDevicesToo) {
  register_user("alice");
  register_user("bob");
  auto a1 = logged_in("alice", "phone");
  auto a2 = logged_in("alice", "laptop");
  auto b1 = logged_in("bob", "phone");
  auto b2 = logged_in("bob", "laptop");
  ASSERT_TRUE(is_ok(a1->send_to("bob", "x1", "to all")));
  EXPECT_EQ(json_str(b1->next("msg"), "body"), "to all");
  EXPECT_EQ(json_str(b2->next("msg"), "body"), "to all");
  std::string copy = a2->next("msg");
  EXPECT_EQ(json_str(copy, "from"), "alice");
  EXPECT_EQ(json_str(copy, "to"), "bob");
  EXPECT_TRUE(a1->quiet("msg"));
}

TEST_P(ChatTest, SameDeviceAgainKicksTheOldConnection) {
  register_user("alice");
  auto first = logged_in("alice", "phone");
  auto second = logged_in("alice", "phone");
  std::string kicked = first->next("kicked");
  EXPECT_EQ(json_str(kicked, "reason"), "replaced");
  EXPECT_FALSE(first->recv(2000).has_value());  // then closed
  EXPECT_EQ(json_str(second->call(R"("op":"ping")"), "op"), "pong");
}

TEST_P(ChatTest, UnackedMessagesComeAgainAfterReconnect) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  {
    auto b = logged_in("bob", "phone");
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(is_ok(a->send_to("bob", "u" + std::to_string(i), "x")));
    for (int i = 1; i <= 5; ++i) ASSERT_EQ(json_int(b->next("msg"), "seq"), i);
    EXPECT_TRUE(is_ok(b->call(R"("op":"ack","peer":"alice","seq":3)")));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto b = logged_in("bob", "phone");
  EXPECT_EQ(json_int(b->next("msg"), "seq"), 4);
  EXPECT_EQ(json_int(b->next("msg"), "seq"), 5);
  EXPECT_TRUE(b->quiet("msg"));
  // A device never seen before starts at the user's recv cursor (3): 4 and 5 again.
  auto b_new = logged_in("bob", "tablet");
  EXPECT_EQ(json_int(b_new->next("msg"), "seq"), 4);
  // `after` starts this connection elsewhere.
  auto b_after = logged_in("bob", "watch", R"(,"after":{"alice":1})");
  EXPECT_EQ(json_int(b_after->next("msg"), "seq"), 2);
}

TEST_P(ChatTest, RetriedCidNeverDuplicates) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  std::string first = a->send_to("bob", "same", "once");
  std::string again = a->send_to("bob", "same", "once");
  std::string elsewhere = a->send_to("alice", "same", "other target, same cid");
  ASSERT_TRUE(is_ok(first));
  EXPECT_EQ(json_str(again, "mid"), json_str(first, "mid"));
  EXPECT_EQ(json_int(again, "seq"), json_int(first, "seq"));
  EXPECT_EQ(json_int(again, "ts"), json_int(first, "ts"));
  EXPECT_EQ(json_str(elsewhere, "mid"), json_str(first, "mid"));
  // Pipelined duplicates while the first is in flight get the same answer too.
  a->send(R"({"id":100,"op":"send","to":"bob","cid":"fast","body":"x"})");
  a->send(R"({"id":101,"op":"send","to":"bob","cid":"fast","body":"x"})");
  std::string r1 = a->reply_for(100), r2 = a->reply_for(101);
  EXPECT_EQ(json_str(r1, "mid"), json_str(r2, "mid"));
  auto b = logged_in("bob");
  EXPECT_EQ(json_int(b->next("msg"), "seq"), 1);
  EXPECT_EQ(json_int(b->next("msg"), "seq"), 2);
  EXPECT_TRUE(b->quiet("msg"));
}

// Only the latest settled cids stay in memory; older ones (and all of them after a restart) are
// found in the store, with the first reply.
TEST_P(ChatTest, OldCidsAreDedupedFromTheStore) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  std::map<std::string, std::string> first;  // cid -> mid
  for (int i = 0; i < 150; ++i) {
    std::string cid = "c" + std::to_string(i);
    std::string r = a->send_to("bob", cid, "x");
    ASSERT_TRUE(is_ok(r)) << r;
    first[cid] = json_str(r, "mid");
  }
  for (const char* cid : {"c0", "c1", "c100", "c149"}) {
    std::string r = a->send_to("bob", cid, "x");
    EXPECT_EQ(json_str(r, "mid"), first[cid]) << r;
  }
  ASSERT_TRUE(restart(SIGKILL)) << server_.log();
  auto a2 = logged_in("alice");
  for (const char* cid : {"c0", "c149"}) {
    std::string r = a2->send_to("bob", cid, "x");
    EXPECT_EQ(json_str(r, "mid"), first[cid]) << r;
  }
  EXPECT_EQ(json_int(a2->send_to("bob", "new", "x"), "seq"), 151);
}

class ChatDedupeWindow : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[storage]\ndedupe_window = \"1s\"\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, ChatDedupeWindow, ::testing::Values(false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// Past dedupe_window a cid is new again (and the sweep deletes the old record).
TEST_P(ChatDedupeWindow, ACidIsNewAgainAfterTheWindow) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(is_ok(a->send_to("bob", "w" + std::to_string(i), "x")));
  EXPECT_EQ(json_int(a->send_to("bob", "w0", "x"), "seq"), 1);  // within the window
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(json_int(a->send_to("bob", "w0", "again"), "seq"), 101);  // from the store: expired
  EXPECT_EQ(json_int(a->send_to("bob", "w99", "again"), "seq"), 102);  // in memory: expired
}

TEST_P(ChatTest, DeliveredAndReadReceipts) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  auto b = logged_in("bob", "phone");
  auto b2 = logged_in("bob", "laptop");
  ASSERT_TRUE(is_ok(a->send_to("bob", "r1", "one")));
  ASSERT_TRUE(is_ok(a->send_to("bob", "r2", "two")));
  ASSERT_EQ(json_int(b->next("msg"), "seq"), 1);
  ASSERT_EQ(json_int(b->next("msg"), "seq"), 2);
  b->send(R"({"op":"ack","peer":"alice","seq":2})");  // no id: no reply
  std::string d = a->next("receipt");
  EXPECT_EQ(json_str(d, "kind"), "delivered");
  EXPECT_EQ(json_str(d, "peer"), "bob");
  EXPECT_EQ(json_str(d, "user"), "bob");
  EXPECT_EQ(json_int(d, "seq"), 2);
  EXPECT_TRUE(is_ok(b->call(R"("op":"read","peer":"alice","seq":1)")));
  std::string r = a->next("receipt");
  EXPECT_EQ(json_str(r, "kind"), "read");
  EXPECT_EQ(json_int(r, "seq"), 1);
  std::string own = b2->next("receipt");  // bob's other device syncs its read state
  EXPECT_EQ(json_str(own, "kind"), "read");
  EXPECT_EQ(json_str(own, "user"), "bob");
  EXPECT_EQ(json_str(own, "peer"), "alice");
  EXPECT_EQ(code_of(b->call(R"("op":"ack","peer":"alice","seq":99)")), "bad_request");
  EXPECT_TRUE(is_ok(b->call(R"("op":"ack","peer":"alice","seq":1)")));  // behind: ignored
  EXPECT_TRUE(a->quiet("receipt"));
  // Offline, alice sees bob's cursors in her next login reply.
  auto a2 = logged_in("alice", "tablet");
  EXPECT_NE(last_login_.find(R"("peer":"bob","head":2,"recv":2,"read":2,"peer_recv":2,"peer_read":1)"),
            std::string::npos)
      << last_login_;
}

TEST_P(ChatTest, HistoryPagesNewestFirstAndOnlyForMembers) {
  register_user("alice");
  register_user("bob");
  register_user("carol");
  auto a = logged_in("alice");
  for (int i = 1; i <= 7; ++i) {
    ASSERT_TRUE(is_ok(a->send_to("bob", "h" + std::to_string(i), "n" + std::to_string(i))));
  }
  std::string page = a->call(R"("op":"history","peer":"bob","limit":3)");
  ASSERT_TRUE(is_ok(page)) << page;
  size_t p7 = page.find("\"seq\":7"), p6 = page.find("\"seq\":6"), p5 = page.find("\"seq\":5");
  EXPECT_TRUE(p7 < p6 && p6 < p5 && p5 != std::string::npos) << page;
  EXPECT_EQ(page.find("\"seq\":4"), std::string::npos);
  EXPECT_EQ(page.find("\"op\":\"msg\""), std::string::npos);
  std::string older = a->call(R"("op":"history","peer":"bob","before":2,"limit":50)");
  EXPECT_NE(older.find("\"seq\":1"), std::string::npos);
  EXPECT_EQ(older.find("\"seq\":2"), std::string::npos);
  auto c = logged_in("carol");
  std::string none = c->call(R"("op":"history","peer":"alice")");
  EXPECT_TRUE(is_ok(none));
  EXPECT_NE(none.find(R"("messages":[])"), std::string::npos) << none;
  EXPECT_EQ(code_of(c->call(R"("op":"history","peer":"ghost")")), "not_found");
  EXPECT_EQ(code_of(c->call(R"("op":"ack","peer":"alice","seq":1)")), "bad_request");
}

TEST_P(ChatTest, TwoConcurrentSendersThousandMessagesInOrder) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  const int kEach = 500;
  auto blast = [](Chat& c, const std::string& to, const std::string& tag) {
    for (int i = 0; i < kEach; ++i) {
      c.send(R"({"op":"send","to":")" + to + R"(","cid":")" + tag + std::to_string(i) +
             R"(","body":")" + tag + std::to_string(i) + "\"}");
    }
  };
  std::thread ta([&] { blast(*a, "bob", "a"); });
  std::thread tb([&] { blast(*b, "alice", "b"); });
  ta.join();
  tb.join();
  // Each side reads its own oks and the other's msgs; seqs over both must be 1..1000 once.
  std::set<int64_t> seqs;
  for (Chat* c : {a.get(), b.get()}) {
    int oks = 0, msgs = 0;
    int64_t last_msg_seq = 0;
    std::string tag = c == a.get() ? "b" : "a";
    int next_index = 0;
    while (oks < kEach || msgs < kEach) {
      auto f = c->recv(10000);
      ASSERT_TRUE(f) << "stalled at ok=" << oks << " msg=" << msgs;
      std::string op = json_str(*f, "op");
      if (op == "ok") {
        ++oks;
        EXPECT_TRUE(seqs.insert(json_int(*f, "seq")).second);
      } else if (op == "msg") {
        ++msgs;
        EXPECT_GT(json_int(*f, "seq"), last_msg_seq);
        last_msg_seq = json_int(*f, "seq");
        EXPECT_EQ(json_str(*f, "body"), tag + std::to_string(next_index++));
      }
    }
  }
  EXPECT_EQ(seqs.size(), 2u * kEach);
  EXPECT_EQ(*seqs.begin(), 1);
  EXPECT_EQ(*seqs.rbegin(), 2 * kEach);
}

TEST_P(ChatTest, PipelinedRequestsBehindLoginRunInOrder) {
  register_user("alice");
  register_user("bob");
  auto c = client();
  c->send(R"({"id":1,"op":"login","user":"alice","password":"secret1"})");
  c->send(R"({"id":2,"op":"send","to":"bob","cid":"p1","body":"right after login"})");
  c->send(R"({"id":3,"op":"ping"})");
  auto r1 = c->recv(), r2 = c->recv(), r3 = c->recv();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(json_int(*r1, "id"), 1);
  EXPECT_TRUE(is_ok(*r1));
  EXPECT_EQ(json_int(*r2, "id"), 2);
  EXPECT_TRUE(is_ok(*r2)) << *r2;
  EXPECT_EQ(json_int(*r3, "id"), 3);
}

TEST_P(ChatTest, TokenLoginAndAutoCreate) {
  register_user("alice");
  auto a = logged_in("alice");
  std::string token = json_str(last_login_, "token");
  ASSERT_FALSE(token.empty());
  auto again = client();
  std::string r = again->call(R"("op":"login","token":")" + token + R"(","device":"tab")");
  EXPECT_TRUE(is_ok(r)) << r;
  EXPECT_EQ(json_str(r, "user"), "alice");
  auto bad = client();
  EXPECT_EQ(code_of(bad->call(R"("op":"login","token":"abc.def.ghi")")), "unauthorized");
  EXPECT_EQ(code_of(bad->call(R"("op":"login","user":"alice","password":"secret1","token":")" +
                              token + "\"")),
            "bad_request");
}

TEST_P(ChatTest, GracefulRestartKeepsEverything) {
  register_user("alice");
  register_user("bob");
  {
    auto a = logged_in("alice");
    for (int i = 1; i <= 10; ++i) ASSERT_TRUE(is_ok(a->send_to("bob", "g" + std::to_string(i), "x")));
    auto b = logged_in("bob");
    for (int i = 1; i <= 10; ++i) ASSERT_EQ(json_int(b->next("msg"), "seq"), i);
    ASSERT_TRUE(is_ok(b->call(R"("op":"ack","peer":"alice","seq":6)")));
    ASSERT_TRUE(is_ok(b->call(R"("op":"read","peer":"alice","seq":4)")));
  }
  ASSERT_TRUE(restart(SIGTERM)) << server_.log();
  auto b = logged_in("bob");
  EXPECT_NE(last_login_.find(R"("peer":"alice","head":10,"recv":6,"read":4)"), std::string::npos)
      << last_login_;
  for (int i = 7; i <= 10; ++i) EXPECT_EQ(json_int(b->next("msg"), "seq"), i);
  auto a = logged_in("alice");
  std::string retry = a->send_to("bob", "g3", "x");  // dedupe survives the restart
  EXPECT_EQ(json_int(retry, "seq"), 3);
  std::string next = a->send_to("bob", "g11", "x");
  EXPECT_EQ(json_int(next, "seq"), 11);
}

// SIGKILL while a client streams messages: every message that got `ok` is there exactly once
// afterwards, and retrying every cid (acknowledged or not) creates no duplicate.
TEST_P(ChatTest, CrashLosesNothingAcknowledged) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  const int kTotal = 400;
  std::map<std::string, int64_t> acked = send_burst_and_crash(*a, R"("to":"bob")", kTotal, 150);
  auto a2 = logged_in("alice");
  for (int i = 0; i < kTotal; ++i) {
    std::string cid = "k" + std::to_string(i);
    std::string r = a2->send_to("bob", cid, cid);
    ASSERT_TRUE(is_ok(r)) << r;
    auto it = acked.find(cid);
    if (it != acked.end()) {
      EXPECT_EQ(json_int(r, "seq"), it->second) << cid;
    }
  }
  // bob's whole conversation: seq 1..kTotal, each cid exactly once.
  auto b = logged_in("bob");
  std::set<std::string> seen;
  for (int64_t seq = 1; seq <= kTotal; ++seq) {
    std::string m = b->next("msg");
    ASSERT_FALSE(m.empty()) << "seq " << seq;
    EXPECT_EQ(json_int(m, "seq"), seq);
    EXPECT_TRUE(seen.insert(json_str(m, "cid")).second) << "duplicate " << json_str(m, "cid");
  }
  EXPECT_TRUE(b->quiet("msg"));
}

TEST_P(ChatTest, TypingIsForwardedNotStored) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  a->send(R"({"op":"typing","to":"bob"})");
  std::string t = b->next("typing");
  EXPECT_EQ(json_str(t, "from"), "alice");
  EXPECT_EQ(code_of(a->call(R"("op":"typing","to":"ghost")")), "not_found");
  std::string h = a->call(R"("op":"history","peer":"bob")");
  EXPECT_NE(h.find(R"("messages":[])"), std::string::npos) << h;
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

class ChatRetention : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[storage]\nretention = \"1ms\"\nretention_count = 5\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, ChatRetention, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// Both rules let a message go: older than `retention` and not among the newest
// `retention_count`. The trim runs in the background; seqs keep counting after it and after a
// restart.
TEST_P(ChatRetention, OldMessagesAreTrimmedAndSeqsGoOn) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  for (int i = 1; i <= 12; ++i) ASSERT_TRUE(is_ok(a->send_to("bob", "t" + std::to_string(i), "x")));
  std::string page;
  for (int attempt = 0; attempt < 50; ++attempt) {  // the sweep runs every second
    page = a->call(R"("op":"history","peer":"bob","limit":50)");
    if (page.find("\"seq\":7") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(page.find("\"seq\":7,"), std::string::npos) << page;
  for (int seq = 8; seq <= 12; ++seq) {
    EXPECT_NE(page.find("\"seq\":" + std::to_string(seq) + ","), std::string::npos) << page;
  }
  auto b = logged_in("bob");  // the backlog starts at the oldest retained message
  EXPECT_EQ(json_int(b->next("msg"), "seq"), 8);
  EXPECT_EQ(json_int(a->send_to("bob", "t13", "x"), "seq"), 13);
  ASSERT_TRUE(restart(SIGTERM)) << server_.log();
  auto a2 = logged_in("alice");
  EXPECT_EQ(json_int(a2->send_to("bob", "t14", "x"), "seq"), 14);
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

class ChatSlowReader : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[limits]\nmax_outbuf = \"64KiB\"\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, ChatSlowReader, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// A reader that does not read falls behind on its cursor, not in server memory: 10 MB (more
// than loopback socket buffers hold, 150x its output limit) is sent to it while it does not
// read, and afterwards it gets every message, in order.
TEST_P(ChatSlowReader, FallsBehindOnItsCursorAndLosesNothing) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  const int kCount = 2500;
  std::string body(4000, 'z');
  for (int i = 1; i <= kCount; ++i) {
    a->send(R"({"op":"send","to":"bob","cid":"s)" + std::to_string(i) + R"(","body":")" + body +
            "\"}");
  }
  for (int i = 1; i <= kCount; ++i) {
    auto r = a->recv(10000);
    ASSERT_TRUE(r) << i;
    ASSERT_TRUE(is_ok(*r)) << *r;
  }
  for (int i = 1; i <= kCount; ++i) {
    std::string m = b->next("msg", 10000);
    ASSERT_FALSE(m.empty()) << "message " << i;
    ASSERT_EQ(json_int(m, "seq"), i);
  }
  EXPECT_TRUE(b->quiet("msg"));
}

}  // namespace
}  // namespace parley::test
