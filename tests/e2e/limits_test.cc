// Limits on what one client may ask of the server (RELIABILITY.md): the per-connection request
// rate on every transport, and what happens to a client that keeps going over it.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "e2e/chat_fixture.h"

namespace parley::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string ping(int id) { return R"({"id":)" + std::to_string(id) + R"(,"op":"ping"})"; }

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

class RateLimitTest : public ChatTest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--sync", "always"}; }
  std::string extra_config() const override {
    return ChatTest::extra_config() +
           "api_key = \"backend-key\"\n[limits]\nrate_limit = 5.0\nrate_burst = 5.0\n"
           "rate_abuse = \"1s\"\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, RateLimitTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// A burst over the bucket: the first five are served, the rest answered rate_limited with their
// own ids. After a pause the client is served again.
TEST_P(RateLimitTest, RefusesFramesOverTheRate) {
  auto c = client();
  for (int i = 1; i <= 12; ++i) c->send(ping(i));
  int pongs = 0, limited = 0;
  for (int i = 1; i <= 12; ++i) {
    std::string r = c->reply_for(i);
    if (json_str(r, "op") == "pong") ++pongs;
    if (code_of(r) == "rate_limited") {
      ++limited;
      EXPECT_NE(json_str(r, "message").find("5 requests/s"), std::string::npos) << r;
    }
  }
  EXPECT_GE(pongs, 5);  // the burst (and a token refilled meanwhile, on a slow machine)
  EXPECT_LE(pongs, 7);
  EXPECT_EQ(pongs + limited, 12);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // refill; also ends the run
  EXPECT_EQ(json_str(c->call(R"("op":"ping")"), "op"), "pong");

  HttpReply m = http_request(http_port(), "GET", "/metrics");
  EXPECT_NE(m.body.find("# TYPE parley_rate_limited_total counter"), std::string::npos);
  int64_t total = 0;
  for (size_t at = m.body.find("\nparley_rate_limited_total{"); at != std::string::npos;
       at = m.body.find("\nparley_rate_limited_total{", at + 1)) {
    total += std::stoll(m.body.substr(m.body.find("} ", at) + 2));
  }
  EXPECT_EQ(total, limited);
}

// True once the peer has closed the socket (EOF or reset); reads and drops what is readable.
bool peer_closed(int fd) {
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (::recv(fd, buf, sizeof buf, 0) <= 0) return true;
  }
}

// A client that stays over the rate (here 100 frames/s against 5/s) is closed after rate_abuse:
// WebSocket with 1008, TCP by closing the socket.
TEST_P(RateLimitTest, ClosesAClientThatKeepsGoing) {
  WsClient w;
  TcpClient t;
  if (GetParam()) {
    ASSERT_EQ(w.connect(http_port()), 101);
  } else {
    ASSERT_TRUE(t.connect(tcp_port()));
  }
  int close_code = 0;
  bool closed = false;
  const auto start = Clock::now();
  for (int i = 1; !closed && Clock::now() - start < std::chrono::seconds(5); ++i) {
    if (GetParam()) {
      w.send_text(ping(i));
      while (auto f = w.recv_frame(10)) {
        if (f->opcode == 0x8) {
          close_code = f->close_code();
          closed = true;
          break;
        }
      }
    } else {
      t.send(ping(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      closed = peer_closed(t.socket().fd());
    }
  }
  ASSERT_TRUE(closed);
  const auto took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(900));  // not before rate_abuse (1 s) is over
  if (GetParam()) {
    EXPECT_EQ(close_code, 1008);
  }
  HttpReply m = http_request(http_port(), "GET", "/metrics");
  EXPECT_EQ(count(m.body, "parley_rate_limit_closes_total{shard=\"0\"} 1") +
                count(m.body, "parley_rate_limit_closes_total{shard=\"1\"} 1"),
            1u)
      << m.body;
}

// HTTP: requests pipelined on one connection past the bucket get 429 and the connection closes;
// the back-end (api key) is not limited.
TEST_P(RateLimitTest, LimitsHttpRequestsButNotTheBackEnd) {
  std::string eight;
  for (int i = 0; i < 8; ++i) eight += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  ASSERT_TRUE(s.send_all(eight));
  std::string all;
  EXPECT_TRUE(s.wait_closed(5000, &all));
  EXPECT_GE(count(all, "HTTP/1.1 200 "), 5u);
  EXPECT_LE(count(all, "HTTP/1.1 200 "), 6u);
  EXPECT_EQ(count(all, "HTTP/1.1 429 "), 1u) << all;
  EXPECT_NE(all.find("\"error\":\"rate_limited\""), std::string::npos);

  std::string twenty;
  for (int i = 0; i < 20; ++i) {
    twenty += "GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer backend-key\r\n";
    twenty += i == 19 ? "Connection: close\r\n\r\n" : "\r\n";
  }
  Socket b;
  ASSERT_TRUE(b.connect(http_port()));
  ASSERT_TRUE(b.send_all(twenty));
  std::string back;
  EXPECT_TRUE(b.wait_closed(5000, &back));
  EXPECT_EQ(count(back, "HTTP/1.1 200 "), 20u);
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

class AddressLimitTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() +
           "[limits]\nmax_connections_per_ip = 3\n";
  }
};

class ConnectionCapTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[limits]\nmax_connections = 2\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, ConnectionCapTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// max_connections = 2 over two shards is one per shard: of three connections held at once at
// least one is closed at accept, and the others are served.
TEST_P(ConnectionCapTest, RefusesPastTheProcessLimit) {
  std::vector<std::unique_ptr<Chat>> held;
  int served = 0;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Chat>(GetParam(), http_port(), tcp_port()));
    if (held.back()->connected() && json_str(held.back()->call(R"("op":"ping")"), "op") == "pong") {
      ++served;
    }
  }
  EXPECT_GE(served, 1);
  EXPECT_LE(served, 2);
}

class LoginThrottleTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[limits]\nlogin_attempts = 2\nlogin_attempt_interval = \"1h\"\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, LoginThrottleTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

INSTANTIATE_TEST_SUITE_P(Transports, AddressLimitTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// max_connections_per_ip counts every transport of one address across shards: the fourth is
// closed at once; when one goes, a new one is let in.
TEST_P(AddressLimitTest, CapsConnectionsPerAddress) {
  std::vector<std::unique_ptr<Chat>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(client());
    ASSERT_EQ(json_str(held.back()->call(R"("op":"ping")"), "op"), "pong") << i;
  }
  Socket extra;
  ASSERT_TRUE(extra.connect(GetParam() ? http_port() : tcp_port()));
  EXPECT_TRUE(extra.wait_closed(5000));  // refused: closed before a byte is read
  held.pop_back();
  // The slot frees when the server has closed its side; retry briefly.
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    auto c = std::make_unique<Chat>(GetParam(), http_port(), tcp_port());
    served = c->connected() && json_str(c->call(R"("op":"ping")"), "op") == "pong";
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(served);
  held.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HttpReply m = http_request(http_port(), "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("parley_connections_rejected_per_address_total{shard="),
            std::string::npos);
}

// Failed password logins: a connection is closed after three; a user whose password failed
// login_attempts times is refused unchecked (even with the right password) while a token still
// works; an address that failed 4 x login_attempts times is refused for every user.
TEST_P(LoginThrottleTest, ThrottlesPasswordGuessing) {
  register_user("alice");
  register_user("carol");
  std::string token;
  {
    auto c = client();
    std::string ok = c->login("alice", "secret1");
    ASSERT_TRUE(is_ok(ok)) << ok;
    token = json_str(ok, "token");
  }
  auto a = client();
  EXPECT_EQ(code_of(a->login("alice", "wrong-1")), "unauthorized");
  EXPECT_EQ(code_of(a->login("alice", "wrong-2")), "unauthorized");
  EXPECT_EQ(code_of(a->login("alice", "secret1")), "rate_limited");  // the user's two are spent
  EXPECT_FALSE(a->recv(5000).has_value());  // and three failures close the connection

  auto t = client();
  EXPECT_TRUE(is_ok(t->call(R"("op":"login","token":")" + token + R"(","device":"t")")));

  // Two failures so far from this address; six more (unknown names count too) make eight.
  for (int i = 0; i < 3; ++i) {
    auto g = client();
    EXPECT_EQ(code_of(g->login("nobody" + std::to_string(i), "x1234567")), "unauthorized");
    EXPECT_EQ(code_of(g->login("nobody" + std::to_string(i), "x1234567")), "unauthorized");
  }
  auto b = client();
  EXPECT_EQ(code_of(b->login("carol", "secret1")), "rate_limited");
  HttpReply m = http_request(http_port(), "GET", "/metrics");
  EXPECT_NE(m.body.find("parley_login_throttled_total{shard="), std::string::npos);
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

class SizeLimitTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[limits]\nmax_devices = 2\nmax_watch = 2\nmax_group_size = 3\n"
                                    "max_groups = 2\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, SizeLimitTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// max_devices, max_watch and max_group_size: one more is refused with a clear code and
// nothing changes.
TEST_P(SizeLimitTest, DevicesWatchesAndGroupMembers) {
  for (const char* u : {"alice", "bob", "carol", "dave"}) register_user(u);
  auto d1 = logged_in("alice", "d1");
  auto d2 = logged_in("alice", "d2");
  auto d3 = client();
  EXPECT_EQ(code_of(d3->login("alice", "secret1", "d3")), "forbidden");
  auto again = client();
  EXPECT_TRUE(is_ok(again->login("alice", "secret1", "d2")));  // replacing a device is fine

  EXPECT_TRUE(is_ok(d1->call(R"("op":"watch","users":["bob","carol"])")));
  EXPECT_EQ(code_of(d1->call(R"("op":"watch","users":["dave"])")), "too_large");
  EXPECT_TRUE(is_ok(d1->call(R"("op":"unwatch","users":["bob"])")));
  EXPECT_TRUE(is_ok(d1->call(R"("op":"watch","users":["dave"])")));

  EXPECT_EQ(code_of(d1->call(R"("op":"group_create","group":"big","members":["bob","carol","dave"])")),
            "too_large");
  EXPECT_TRUE(is_ok(d1->call(R"("op":"group_create","group":"crew","members":["bob","carol"])")));
  EXPECT_EQ(code_of(d1->call(R"("op":"group_add","group":"crew","members":["dave"])")),
            "too_large");
  std::string members = d1->call(R"("op":"group_members","group":"crew")");
  EXPECT_EQ(members.find("dave"), std::string::npos) << members;
}

// Requests pipelined behind a login wait for it, up to 256 of them (or 1 MiB); one more
// closes the connection, and nobody else notices.
TEST_P(SizeLimitTest, RequestsQueuedBehindALoginAreBounded) {
  register_user("alice");
  auto pipelined = [&](int pings) {
    std::string bytes = tcp_frame(R"({"op":"login","id":1,"user":"alice","password":"secret1"})");
    for (int i = 0; i < pings; ++i) {
      bytes += tcp_frame(R"({"op":"ping","id":)" + std::to_string(100 + i) + "}");
    }
    return bytes;
  };
  TcpClient ok;
  ASSERT_TRUE(ok.connect(tcp_port()));
  ok.send_raw(pipelined(250));
  auto login = ok.recv();
  ASSERT_TRUE(login.has_value());
  EXPECT_TRUE(is_ok(*login)) << *login;
  for (int i = 0; i < 250; ++i) {  // every queued request answered, in order, after the login
    auto f = ok.recv();
    ASSERT_TRUE(f.has_value()) << i;
    ASSERT_EQ(json_int(*f, "id"), 100 + i) << *f;
  }
  TcpClient over;
  ASSERT_TRUE(over.connect(tcp_port()));
  over.send_raw(pipelined(300));
  std::string drained;
  EXPECT_TRUE(over.socket().wait_closed(5000, &drained));
  EXPECT_EQ(drained.find("\"id\":399"), std::string::npos);  // not all answered
  EXPECT_FALSE(ok.recv(300).has_value());  // the first client heard nothing more
  auto again = logged_in("alice", "d2");
  EXPECT_EQ(json_str(again->call(R"("op":"ping")"), "op"), "pong");
}

// max_groups: a user in that many groups may not create another; after leaving one it may.
TEST_P(SizeLimitTest, GroupsPerUser) {
  for (const char* u : {"alice", "bob"}) register_user(u);
  auto a = logged_in("alice");
  auto in_groups = [&](size_t n) {  // the creates have reached alice's own list
    for (int i = 0; i < 50; ++i) {
      std::string g = a->call(R"("op":"groups")");
      size_t count = 0;
      for (size_t at = g.find("\"group\":"); at != std::string::npos; at = g.find("\"group\":", at + 1)) {
        ++count;
      }
      if (count == n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  EXPECT_TRUE(is_ok(a->call(R"("op":"group_create","group":"g1","members":["bob"])")));
  EXPECT_TRUE(is_ok(a->call(R"("op":"group_create","group":"g2","members":["bob"])")));
  ASSERT_TRUE(in_groups(2));
  std::string third = a->call(R"("op":"group_create","group":"g3","members":["bob"])");
  EXPECT_EQ(code_of(third), "too_large") << third;
  EXPECT_TRUE(is_ok(a->call(R"("op":"group_leave","group":"g1")")));
  ASSERT_TRUE(in_groups(1));
  EXPECT_TRUE(is_ok(a->call(R"("op":"group_create","group":"g3","members":["bob"])")));
}

}  // namespace
}  // namespace parley::test

namespace parley::test {
namespace {

class UserRateTest : public ChatTest {
 protected:
  std::vector<std::string> extra_args() const override { return {"--sync", "always"}; }
  std::string extra_config() const override {
    return ChatTest::extra_config() +
           "[limits]\nuser_rate_limit = 5.0\nuser_rate_burst = 5.0\nlogin_attempts = 100\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, UserRateTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// Two devices of one user share the user's bucket; another user has a bucket of its own.
TEST_P(UserRateTest, DevicesShareOneBucket) {
  register_user("alice");
  register_user("bob");
  auto d1 = logged_in("alice", "d1");
  auto d2 = logged_in("alice", "d2");
  auto b = logged_in("bob");
  int ok = 0, limited = 0;
  for (int i = 0; i < 4; ++i) {
    for (Chat* d : {d1.get(), d2.get()}) {
      std::string r = d->call(R"("op":"groups")");
      if (is_ok(r)) ++ok;
      if (code_of(r) == "rate_limited") ++limited;
    }
  }
  EXPECT_GE(ok, 5);  // the burst, and a token or two refilled on a slow machine
  EXPECT_LE(ok, 7);
  EXPECT_EQ(ok + limited, 8);
  EXPECT_TRUE(is_ok(b->call(R"("op":"groups")")));
  EXPECT_EQ(json_str(d1->call(R"("op":"ping")"), "op"), "pong");  // pings are per connection
}

}  // namespace
}  // namespace parley::test
