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
