// parse_message: the shape of pushed messages, as the protocol documents it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "client/fake_server.h"
#include "e2e/support/process.h"
#include "parley/client/json.h"
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
  EXPECT_FALSE(parse_message(R"({"op":"msg","from":"a","to":"bob","seq":1})", "bob"));     // body
  EXPECT_FALSE(parse_message(R"({"op":"msg","from":"a","to":"bob","body":"x"})", "bob"));  // seq
  EXPECT_FALSE(parse_message(R"({"op":"msg","to":"bob","seq":1,"body":"x"})", "bob"));     // from
}

TEST(TargetFieldTest, PeerOrGroup) {
  EXPECT_EQ(Session::target_field("bob", "to"), R"("to":"bob")");
  EXPECT_EQ(Session::target_field("#team", "to"), R"("group":"team")");
  EXPECT_EQ(Session::target_field("bob", "peer"), R"("peer":"bob")");
}

// ---- Session against a scripted fake server ---------------------------------------------------
//
// Each test runs the Session and a FakeServer on one loop; every wait is run_until() with a
// deadline, so a broken Session fails the test instead of hanging it.

namespace dom = simdjson::dom;
using test::FakeServer;
using test::run_until;

constexpr int kWait = 5000;

// One frame the Session sent, parsed.
struct Frame {
  int conn;
  std::string json;
  std::string op;
  int64_t id = -1;
};

// The Session's events, as recorded.
struct Recorder : Session::Events {
  int online = 0;
  int offline = 0;
  std::vector<Message> messages;
  std::vector<std::string> receipts;  // "conv user kind seq"
  std::string fatal;

  void on_online(bool, const std::vector<ConversationInfo>&) override { ++online; }
  void on_offline(std::string_view, uint32_t) override { ++offline; }
  bool on_message(const Message& m) override {
    messages.push_back(m);
    return true;
  }
  void on_receipt(const std::string& c, const std::string& u, std::string_view k,
                  uint64_t seq) override {
    receipts.push_back(c + " " + u + " " + std::string(k) + " " + std::to_string(seq));
  }
  void on_presence(const std::string&, bool, int64_t) override {}
  void on_typing(const std::string&, const std::string&) override {}
  void on_friend_request(const std::string&, int64_t) override {}
  void on_friend_accepted(const std::string&) override {}
  void on_fatal(std::string_view code, std::string_view) override { fatal = std::string(code); }
};

std::string ok(int64_t id, std::string_view members = "") {
  std::string out = "{\"op\":\"ok\",\"id\":" + std::to_string(id);
  if (!members.empty()) out += "," + std::string(members);
  return out + "}";
}

std::string msg_from_bob(uint64_t seq, std::string_view body) {
  return R"({"op":"msg","from":"bob","to":"alice","seq":)" + std::to_string(seq) + R"(,"mid":"m)" +
         std::to_string(seq) + R"(","ts":1,"cid":"b)" + std::to_string(seq) +
         R"(","type":"text","body":)" + json_quote(body) + "}";
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    server_ = std::make_unique<FakeServer>(&loop_);
    ASSERT_TRUE(server_->listen());
    server_->set_script([this](int conn, std::string_view json) { on_frame(conn, json); });
  }

  void TearDown() override {
    session_.reset();
    server_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);  // every handle is closed: this returns at once
    server_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  void start(CursorStore& cursors, Session::Options o = {}) {
    if (o.user.empty()) o.user = "alice";
    if (o.password.empty() && o.token.empty()) o.password = "secret1";
    o.device = "test";
    o.connection.backoff = Backoff{.initial_ms = 10, .max_ms = 40};
    o.connection.connect_timeout_ms = 2000;
    Endpoint ep;
    ep.port = server_->port();
    session_ = std::make_unique<Session>(&loop_, ep, std::move(o), cursors, events_);
    session_->start();
  }

  // The default server: login succeeds; a script set by the test sees every frame first and
  // returns true when it answered it.
  void on_frame(int conn, std::string_view json) {
    Frame f{conn, std::string(json), "", -1};
    dom::element e;
    if (parser_.parse(f.json).get(e) == simdjson::SUCCESS) {
      f.op = str_of(e, "op");
      if (e["id"].get(f.id) != simdjson::SUCCESS) f.id = -1;
    }
    frames_.push_back(f);
    if (script_ && script_(f)) return;
    if (f.op == "login") {
      server_->send(conn, ok(f.id, R"("uid":1,"user":"alice","token":"t1","conversations":[])"));
    } else if (f.id >= 0) {
      server_->send(conn, ok(f.id));
    }
  }

  std::vector<Frame> frames_with(std::string_view op) const {
    std::vector<Frame> out;
    for (const auto& f : frames_) {
      if (f.op == op) out.push_back(f);
    }
    return out;
  }

  // A field of a recorded frame, re-parsed.
  std::string field(const Frame& f, const char* key) {
    dom::element e;
    if (parser_.parse(f.json).get(e) != simdjson::SUCCESS) return {};
    return str_of(e, key);
  }

  // The login's `after` map.
  std::map<std::string, uint64_t> after_of(const Frame& login) {
    std::map<std::string, uint64_t> out;
    dom::element e;
    dom::object after;
    if (parser_.parse(login.json).get(e) != simdjson::SUCCESS ||
        e["after"].get(after) != simdjson::SUCCESS) {
      return out;
    }
    for (auto [key, value] : after) {
      uint64_t v = 0;
      if (value.get(v) == simdjson::SUCCESS) out[std::string(key)] = v;
    }
    return out;
  }

  // The Session keeps a reference: the fixture owns the store so it outlives the Session.
  CursorStore& make_cursors(const std::string& path) {
    cursors_ = std::make_unique<CursorStore>(path);
    return *cursors_;
  }

  bool wait(const std::function<bool()>& done) { return run_until(&loop_, done, kWait); }
  bool wait_online(int n = 1) {
    return wait([&] { return events_.online >= n && session_->online(); });
  }

  uv_loop_t loop_;
  test::TempDir dir_;
  std::unique_ptr<FakeServer> server_;
  std::unique_ptr<CursorStore> cursors_;
  std::unique_ptr<Session> session_;
  Recorder events_;
  dom::parser parser_;
  std::vector<Frame> frames_;
  std::function<bool(const Frame&)> script_;
};

TEST_F(SessionTest, RepliesAreMatchedToRequestsById) {
  // The server holds `groups` and answers `friends` first, after a reply to an id nobody used.
  int64_t groups_id = -1;
  script_ = [&](const Frame& f) {
    if (f.op == "groups") {
      groups_id = f.id;
      return true;
    }
    if (f.op == "friends") {
      server_->send(f.conn, ok(999, R"("stray":true)"));
      server_->send(f.conn, ok(f.id, R"("which":"friends")"));
      server_->send(f.conn, ok(groups_id, R"("which":"groups")"));
      return true;
    }
    if (f.op == "history") {
      server_->send(f.conn, R"({"op":"error","id":)" + std::to_string(f.id) +
                                R"(,"code":"not_found","message":"no such user"})");
      return true;
    }
    return false;
  };
  CursorStore& cursors = make_cursors("");
  start(cursors);
  ASSERT_TRUE(wait_online());

  std::vector<Reply> groups, friends, history;
  session_->request("groups", "", [&](const Reply& r) { groups.push_back(r); });
  session_->request("friends", "", [&](const Reply& r) { friends.push_back(r); });
  session_->request("history", R"("peer":"nobody")", [&](const Reply& r) { history.push_back(r); });
  ASSERT_TRUE(wait([&] { return !groups.empty() && !friends.empty() && !history.empty(); }));

  ASSERT_EQ(groups.size(), 1u);
  EXPECT_TRUE(groups[0].ok);
  EXPECT_NE(groups[0].json.find(R"("which":"groups")"), std::string::npos) << groups[0].json;
  ASSERT_EQ(friends.size(), 1u);
  EXPECT_NE(friends[0].json.find(R"("which":"friends")"), std::string::npos) << friends[0].json;
  ASSERT_EQ(history.size(), 1u);
  EXPECT_FALSE(history[0].ok);
  EXPECT_EQ(history[0].code, "not_found");
  EXPECT_EQ(history[0].message, "no such user");
}

TEST_F(SessionTest, UnansweredSendIsResentWithItsCidAfterAReconnect) {
  // The first connection stores nothing and goes away; the second answers.
  script_ = [&](const Frame& f) {
    if (f.op != "send") return false;
    if (f.conn == 0) {
      server_->drop(f.conn);
    } else {
      server_->send(f.conn, ok(f.id, R"("cid":)" + json_quote(field(f, "cid")) +
                                         R"(,"mid":"77","seq":1,"ts":5)"));
    }
    return true;
  };
  CursorStore& cursors = make_cursors("");
  start(cursors);
  std::vector<Reply> replies;
  std::string cid =
      session_->send_message("bob", "hello", [&](const Reply& r) { replies.push_back(r); });
  ASSERT_TRUE(wait([&] { return !replies.empty(); }));

  ASSERT_EQ(replies.size(), 1u);  // "disconnected" is not reported for a send: it is kept
  EXPECT_TRUE(replies[0].ok);
  auto sends = frames_with("send");
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].conn, 0);
  EXPECT_EQ(sends[1].conn, 1);
  EXPECT_EQ(field(sends[0], "cid"), cid);
  EXPECT_EQ(field(sends[1], "cid"), cid);
  EXPECT_EQ(field(sends[1], "body"), "hello");
  EXPECT_EQ(session_->pending_sends(), 0u);
  EXPECT_EQ(events_.offline, 1);
  EXPECT_EQ(events_.online, 2);
  EXPECT_EQ(cursors.seen("bob"), 1u);  // our own message: skipped by the cursor
}

TEST_F(SessionTest, MessageDeliveredTwiceIsShownOnce) {
  script_ = [&](const Frame& f) {
    if (f.op != "login") return false;
    server_->send(f.conn, ok(f.id, R"("token":"t1","conversations":[])"));
    if (f.conn == 0) {
      for (uint64_t seq : {1, 2, 2, 1}) server_->send(f.conn, msg_from_bob(seq, "m"));
    } else {
      // A resync that starts too early: only seq 3 is new.
      for (uint64_t seq : {1, 2, 3}) server_->send(f.conn, msg_from_bob(seq, "m"));
    }
    return true;
  };
  CursorStore& cursors = make_cursors("");
  start(cursors);
  ASSERT_TRUE(wait([&] { return events_.messages.size() >= 2; }));
  server_->drop(0);
  ASSERT_TRUE(wait([&] { return events_.messages.size() >= 3; }));
  // Let anything still in flight arrive: the ack of seq 3 comes after it was shown.
  ASSERT_TRUE(wait([&] {
    for (const auto& f : frames_with("ack")) {
      if (f.conn == 1 && f.json.find("\"seq\":3") != std::string::npos) return true;
    }
    return false;
  }));

  std::vector<uint64_t> shown;
  for (const auto& m : events_.messages) shown.push_back(m.seq);
  EXPECT_EQ(shown, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(cursors.seen("bob"), 3u);
}

TEST_F(SessionTest, OwnSendStreamedBackBeforeItsReplyIsNotShown) {
  // The first connection stores the message and drops before replying. After the reconnect
  // the server streams it back (it is after our cursor) before answering the resend.
  std::string stored_cid;
  script_ = [&](const Frame& f) {
    if (f.op == "send" && f.conn == 0) {
      stored_cid = field(f, "cid");
      server_->drop(f.conn);
      return true;
    }
    if (f.op == "login" && f.conn == 1) {
      server_->send(f.conn, ok(f.id, R"("token":"t1","conversations":[])"));
      server_->send(f.conn, R"({"op":"msg","from":"alice","to":"bob","seq":1,"mid":"9","ts":1,)"
                            R"("cid":)" +
                                json_quote(stored_cid) + R"(,"type":"text","body":"hello"})");
      return true;
    }
    if (f.op == "send" && f.conn == 1) {
      server_->send(
          f.conn, ok(f.id, R"("cid":)" + json_quote(stored_cid) + R"(,"mid":"9","seq":1,"ts":1)"));
      return true;
    }
    return false;
  };
  CursorStore& cursors = make_cursors("");
  start(cursors);
  std::vector<Reply> replies;
  session_->send_message("bob", "hello", [&](const Reply& r) { replies.push_back(r); });
  ASSERT_TRUE(wait([&] { return !replies.empty(); }));

  EXPECT_TRUE(replies[0].ok);
  EXPECT_TRUE(events_.messages.empty()) << events_.messages[0].raw;
  EXPECT_EQ(cursors.seen("bob"), 1u);
}

TEST_F(SessionTest, CursorsAreSavedBeforeTheAck) {
  std::string path = dir_.path() + "/cursors.test";
  std::string file_at_ack;
  std::string ack_json;
  script_ = [&](const Frame& f) {
    if (f.op == "login") {
      server_->send(f.conn, ok(f.id, R"("token":"t1","conversations":[])"));
      server_->send(f.conn, msg_from_bob(5, "five"));
      return true;
    }
    if (f.op == "ack") {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      file_at_ack = text.str();
      ack_json = f.json;
      return true;
    }
    return false;
  };
  CursorStore& cursors = make_cursors(path);
  start(cursors);
  ASSERT_TRUE(wait([&] { return !ack_json.empty(); }));

  EXPECT_EQ(ack_json, R"({"op":"ack","peer":"bob","seq":5})");
  EXPECT_EQ(file_at_ack, "bob 5 0 0\n");
}

TEST_F(SessionTest, LoginAfterMapComesFromSavedCursors) {
  std::string path = dir_.path() + "/cursors.test";
  {
    std::ofstream out(path);
    out << "bob 12 12 11\n#team 40 0 0\ncarol 0 3 0\n";
  }
  script_ = [&](const Frame& f) {
    if (f.op != "login" || f.conn != 0) return false;
    server_->send(f.conn, ok(f.id, R"("token":"t1","conversations":[])"));
    server_->send(f.conn, msg_from_bob(13, "thirteen"));
    return true;
  };
  CursorStore& cursors = make_cursors(path);
  ASSERT_TRUE(cursors.load());
  start(cursors);
  ASSERT_TRUE(wait([&] { return !events_.messages.empty(); }));
  server_->drop(0);
  ASSERT_TRUE(wait_online(2));

  auto logins = frames_with("login");
  ASSERT_EQ(logins.size(), 2u);
  EXPECT_EQ(field(logins[0], "user"), "alice");
  EXPECT_EQ(field(logins[0], "password"), "secret1");
  EXPECT_EQ(field(logins[0], "device"), "test");
  // carol has only a receipt cursor: "after 0" would replay her whole history, so it is left
  // to the server's cursor.
  EXPECT_EQ(after_of(logins[0]), (std::map<std::string, uint64_t>{{"#team", 40}, {"bob", 12}}));
  // The reconnect resumes after what was shown since.
  EXPECT_EQ(after_of(logins[1]), (std::map<std::string, uint64_t>{{"#team", 40}, {"bob", 13}}));
}

TEST_F(SessionTest, RefusedTokenFallsBackToThePassword) {
  script_ = [&](const Frame& f) {
    if (f.op != "login" || field(f, "token").empty()) return false;
    server_->send(f.conn, R"({"op":"error","id":)" + std::to_string(f.id) +
                              R"(,"code":"unauthorized","message":"bad token"})");
    return true;
  };
  CursorStore& cursors = make_cursors("");
  Session::Options o;
  o.token = "expired";
  o.password = "secret1";
  start(cursors, o);
  ASSERT_TRUE(wait_online());

  auto logins = frames_with("login");
  ASSERT_EQ(logins.size(), 2u);
  EXPECT_EQ(field(logins[0], "token"), "expired");
  EXPECT_EQ(field(logins[1], "password"), "secret1");
  EXPECT_EQ(session_->token(), "t1");
  EXPECT_TRUE(events_.fatal.empty());
}

TEST_F(SessionTest, ShownButUnackedMessagesAreAckedAfterLogin) {
  // The cursor file says seq 7 was shown; the server's recv cursor says 5 (the ack was lost).
  CursorStore& cursors = make_cursors("");
  cursors.accept("bob", 7);
  script_ = [&](const Frame& f) {
    if (f.op != "login") return false;
    server_->send(f.conn, ok(f.id, R"("token":"t1","conversations":[)"
                                   R"({"peer":"bob","head":7,"recv":5,"read":5}])"));
    return true;
  };
  start(cursors);
  ASSERT_TRUE(wait([&] { return !frames_with("ack").empty(); }));
  EXPECT_EQ(frames_with("ack")[0].json, R"({"op":"ack","peer":"bob","seq":7})");
}

TEST_F(SessionTest, InvalidUtf8IsRefusedWithoutSending) {
  CursorStore& cursors = make_cursors("");
  start(cursors);
  ASSERT_TRUE(wait_online());
  std::vector<Reply> replies;
  session_->send_message("bob", "caf\xe9", [&](const Reply& r) { replies.push_back(r); });
  session_->request("history", "\"peer\":\"b\xff\"", [&](const Reply& r) { replies.push_back(r); });
  ASSERT_EQ(replies.size(), 2u);  // at once
  EXPECT_EQ(replies[0].code, "bad_request");
  EXPECT_EQ(replies[1].code, "bad_request");
  EXPECT_EQ(session_->pending_sends(), 0u);
  EXPECT_TRUE(frames_with("send").empty());
  EXPECT_TRUE(frames_with("history").empty());
}

}  // namespace
}  // namespace parley::client
