// Hostile and broken clients against the real parleyd: every bad input gets the reply or close
// code PROTOCOL.md names, and other clients keep being served throughout.
#include <sys/socket.h>

#include <thread>

#include "e2e/fixture.h"

namespace parley::test {
namespace {

class Hostile : public ParleydTest {
 protected:
  // A bystander that must keep getting answers whatever the others do.
  void expect_bystander_served() {
    WsClient b = ws();
    b.send_text(R"({"op":"ping","id":"bystander"})");
    EXPECT_EQ(b.recv_text().value_or(""), R"({"op":"pong","id":"bystander"})");
  }
};

TEST_F(Hostile, BinaryMessageClosesWith1003) {
  WsClient w = ws();
  w.send_binary("\x01\x02");
  EXPECT_EQ(w.expect_close(), 1003);
  expect_bystander_served();
}

TEST_F(Hostile, InvalidUtf8TextClosesWith1007) {
  WsClient w = ws();
  w.send_text("{\"op\":\"\xc3\x28\"}");
  EXPECT_EQ(w.expect_close(), 1007);
  WsClient f = ws();  // split across fragments
  f.send_frame(0x1, "\xe2\x82", false);
  f.send_frame(0x0, "\x28", true);
  EXPECT_EQ(f.expect_close(), 1007);
  expect_bystander_served();
}

TEST_F(Hostile, ProtocolViolationsCloseWith1002) {
  struct Case {
    const char* what;
    std::function<void(WsClient&)> send;
  } cases[] = {
      {"unmasked frame", [](WsClient& w) { w.send_frame(0x1, R"({"op":"ping"})", true, false); }},
      {"reserved bits", [](WsClient& w) { w.send_frame(0x1, R"({"op":"ping"})", true, true, 4); }},
      {"reserved opcode", [](WsClient& w) { w.send_frame(0x3, "x"); }},
      {"reserved control opcode", [](WsClient& w) { w.send_frame(0xB, "x"); }},
      {"continuation first", [](WsClient& w) { w.send_frame(0x0, "x"); }},
      {"new message inside fragmented",
       [](WsClient& w) {
         w.send_frame(0x1, "{", false);
         w.send_frame(0x1, "}", true);
       }},
      {"fragmented ping", [](WsClient& w) { w.send_frame(0x9, "x", false); }},
      {"control frame > 125", [](WsClient& w) { w.send_frame(0x9, std::string(126, 'p')); }},
      {"close with 1 byte", [](WsClient& w) { w.send_frame(0x8, "x"); }},
      {"close with code 1005", [](WsClient& w) { w.send_frame(0x8, "\x03\xed"); }},
      {"close with code 999", [](WsClient& w) { w.send_frame(0x8, "\x03\xe7"); }},
  };
  for (auto& c : cases) {
    WsClient w = ws();
    c.send(w);
    EXPECT_EQ(w.expect_close(), 1002) << c.what;
  }
  expect_bystander_served();
}

TEST_F(Hostile, MaxFrameIsInclusiveAndOverItIs1009) {
  // A valid request padded to exactly 65536 bytes is processed.
  std::string head = R"({"op":"ping","id":1,"pad":")";
  std::string exact = head + std::string(65536 - head.size() - 2, 'a') + "\"}";
  ASSERT_EQ(exact.size(), 65536u);
  WsClient w = ws();
  w.send_text(exact);
  EXPECT_EQ(w.recv_text().value_or(""), R"({"op":"pong","id":1})");
  // One more byte, sent in fragments: closed as soon as the running total passes the limit.
  w.send_frame(0x1, exact.substr(0, 40000), false);
  w.send_frame(0x0, exact.substr(40000) + " ", false);
  EXPECT_EQ(w.expect_close(), 1009);
  // A single frame header declaring too much is refused before its payload arrives.
  WsClient h = ws();
  std::string hdr = "\x81\xff";
  hdr += std::string("\x00\x00\x00\x00\x00\x01\x00\x01", 8);
  hdr += "abcd";
  h.send_raw(hdr);
  EXPECT_EQ(h.expect_close(), 1009);

  TcpClient t = tcp();
  t.send(exact);
  EXPECT_EQ(t.recv().value_or(""), R"({"op":"pong","id":1})");
  t.send_raw(std::string("\x00\x01\x00\x01", 4));  // 65537: closed at once, no reply
  std::string got;
  EXPECT_TRUE(t.socket().wait_closed(3000, &got));
  EXPECT_TRUE(got.empty());
  expect_bystander_served();
}

TEST_F(Hostile, TcpZeroLengthAndGarbageAreClosed) {
  TcpClient z = tcp();
  z.send_raw(std::string("\x00\x00\x00\x00", 4));
  EXPECT_TRUE(z.socket().wait_closed(3000));
  TcpClient g = tcp();
  g.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // "GET " as a length is far over max_frame
  EXPECT_TRUE(g.socket().wait_closed(3000));
  expect_bystander_served();
}

TEST_F(Hostile, TruncatedFramesDoNotDisturbOthers) {
  // Half a WebSocket frame and half a TCP frame, then the clients just sit there.
  WsClient w = ws();
  w.send_raw(std::string("\x81\x8d\x01\x02\x03\x04\x7a", 7));
  TcpClient t = tcp();
  t.send_raw(std::string("\x00\x00\x01\x00{\"op\"", 9));
  expect_bystander_served();
  // Completing the frames later still works (the server buffered the halves).
  t.send_raw(R"(:"ping")" + std::string(256 - 13, ' ') + "}");
  EXPECT_EQ(json_str(t.recv().value_or(""), "op"), "pong");
}

TEST_F(Hostile, RandomGarbageOnEveryPort) {
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 7919 + 13) & 0xff));
  for (int i = 0; i < 10; ++i) {
    Socket a, b;
    ASSERT_TRUE(a.connect(http_port()));
    ASSERT_TRUE(b.connect(tcp_port()));
    a.send_all(junk.substr(i));
    b.send_all(junk.substr(i));
    EXPECT_TRUE(a.wait_closed(3000));
    EXPECT_TRUE(b.wait_closed(3000));
    WsClient w = ws();
    w.send_raw(junk.substr(i));
    w.socket().wait_closed(3000);
  }
  expect_bystander_served();
}

class HostileTimeouts : public Hostile {
 protected:
  std::string extra_config() const override {
    return "[limits]\nheader_timeout = \"400ms\"\nlogin_timeout = \"600ms\"\n"
           "idle_timeout = \"1500ms\"\nmax_outbuf = \"64KiB\"\n";
  }
};

TEST_F(HostileTimeouts, SlowHeadersAreCut) {
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  auto start = std::chrono::steady_clock::now();
  // Slowloris: a byte every 100 ms never completes the headers.
  bool closed = false;
  std::string req = "GET /healthz HTTP/1.1\r\nX-Slow: ";
  for (int i = 0; i < 40 && !closed; ++i) {
    closed = !s.send_all(req.substr(0, 1)) || s.wait_closed(100);
    req = req.size() > 1 ? req.substr(1) : "a";
  }
  EXPECT_TRUE(closed || s.wait_closed(2000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  expect_bystander_served();
}

TEST_F(HostileTimeouts, NoLoginMeans1008AndSilenceMeansClose) {
  WsClient w = ws();
  auto start = std::chrono::steady_clock::now();
  // Pings keep it from being idle, but do not log it in.
  int code = -1;
  for (int i = 0; i < 20 && code == -1; ++i) {
    w.send_text(R"({"op":"ping"})");
    auto f = w.recv_frame(200);
    if (f && f->opcode == 0x8) code = f->close_code();
  }
  if (code == -1) code = w.expect_close(2000);
  EXPECT_EQ(code, 1008);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  TcpClient t = tcp();
  EXPECT_TRUE(t.socket().wait_closed(3000));
}

// A small output limit and the default (long) login timeout: the slow client below must not
// be cut for not logging in, however slow the build (sanitizers) makes the server.
class HostileOutbuf : public Hostile {
 protected:
  std::string extra_config() const override { return "[limits]\nmax_outbuf = \"64KiB\"\n"; }
};

TEST_F(HostileOutbuf, AClientThatDoesNotReadIsThrottledNotFed) {
  // 64 KiB of output limit; 100,000 pings are ~1.5 MB of replies. The server must stop reading
  // from this client instead of buffering, keep serving others, and lose nothing.
  TcpClient t = tcp();
  std::string burst;
  const int kPings = 100000;
  for (int i = 0; i < kPings; ++i) {
    std::string p = R"({"op":"ping","id":)" + std::to_string(i) + "}";
    uint32_t n = static_cast<uint32_t>(p.size());
    burst += static_cast<char>(n >> 24);
    burst += static_cast<char>(n >> 16);
    burst += static_cast<char>(n >> 8);
    burst += static_cast<char>(n);
    burst += p;
  }
  std::thread writer([&] { t.socket().send_all(burst); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  expect_bystander_served();
  HttpReply m = http_request(http_port(), "GET", "/metrics");
  EXPECT_NE(m.body.find("parley_read_pauses_total"), std::string::npos);
  int got = 0;
  for (; got < kPings; ++got) {
    auto r = t.recv(10000);
    if (!r || json_int(*r, "id") != got) break;
  }
  EXPECT_EQ(got, kPings) << "replies stopped or went out of order here";
  ::shutdown(t.socket().fd(), SHUT_RDWR);  // unblocks the writer if we stopped early
  writer.join();
}

}  // namespace
}  // namespace parley::test
