// Both client transports against the real parleyd: the request envelope, replies with ids,
// the pre-login rules, and WebSocket control frames.
#include "e2e/fixture.h"

namespace parley::test {
namespace {

class Transports : public ParleydTest {};

TEST_F(Transports, PingPongOverWebSocketAndTcp) {
  WsClient w = ws();
  w.send_text(R"({"op":"ping","id":7})");
  auto r = w.recv_text();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, R"({"op":"pong","id":7})");

  TcpClient t = tcp();
  t.send(R"({"op":"ping","id":"abc"})");
  auto tr = t.recv();
  ASSERT_TRUE(tr);
  EXPECT_EQ(*tr, R"({"op":"pong","id":"abc"})");
  t.send(R"({"op":"ping"})");
  EXPECT_EQ(t.recv().value_or(""), R"({"op":"pong"})");
}

TEST_F(Transports, IdRulesAndBadRequests) {
  TcpClient t = tcp();
  struct Case {
    const char* in;
    const char* code;
    bool has_id;
  } cases[] = {
      {R"({"op":"nope","id":1})", "bad_request", true},
      {R"({"id":2})", "bad_request", true},
      {R"({"op":5,"id":3})", "bad_request", true},
      {R"({"op":"ping","id":-1})", "bad_request", false},
      {R"({"op":"ping","id":1.5})", "bad_request", false},
      {R"({"op":"ping","id":9007199254740993})", "bad_request", false},
      {R"({"op":"ping","id":true})", "bad_request", false},
      {R"({"op":"ping","id":null})", "bad_request", false},
      {R"([1,2,3])", "bad_request", false},
      {R"("ping")", "bad_request", false},
      {R"({"op":"ping"} trailing)", "bad_request", false},
      {R"({"op":"ping",)", "bad_request", false},
      {"not json at all", "bad_request", false},
      {R"({"op":"send","id":4,"to":"bob"})", "unauthorized", true},
      {R"({"op":"history","id":5})", "unauthorized", true},
      {R"({"op":"logout","id":6})", "unauthorized", true},
  };
  for (const auto& c : cases) {
    t.send(c.in);
    auto r = t.recv();
    ASSERT_TRUE(r) << c.in;
    EXPECT_EQ(json_str(*r, "op"), "error") << c.in;
    EXPECT_EQ(json_str(*r, "code"), c.code) << c.in << " -> " << *r;
    EXPECT_EQ(json_has(*r, "id"), c.has_id) << c.in << " -> " << *r;
    EXPECT_FALSE(json_str(*r, "message").empty()) << *r;
  }
  // A 64-byte string id is fine, 65 is not.
  std::string id64(64, 'x');
  t.send(R"({"op":"ping","id":")" + id64 + "\"}");
  EXPECT_EQ(json_str(t.recv().value_or(""), "id"), id64);
  t.send(R"({"op":"ping","id":")" + id64 + "x\"}");
  EXPECT_FALSE(json_has(t.recv().value_or(""), "id"));
  // Unknown fields are ignored; the connection is still fine after all of the above.
  t.send(R"({"x":{"deep":[1,{"y":null}]},"op":"ping","id":9,"z":"w"})");
  EXPECT_EQ(t.recv().value_or(""), R"({"op":"pong","id":9})");
}

TEST_F(Transports, TcpInvalidUtf8IsABadRequestAndTheConnectionStays) {
  TcpClient t = tcp();
  t.send("{\"op\":\"ping\",\"id\":\"\xff\xfe\"}");
  auto r = t.recv();
  ASSERT_TRUE(r);
  EXPECT_EQ(json_str(*r, "code"), "bad_request");
  t.send(R"({"op":"ping"})");
  EXPECT_EQ(t.recv().value_or(""), R"({"op":"pong"})");
}

TEST_F(Transports, WebSocketBadJsonKeepsConnectionOpen) {
  WsClient w = ws();
  w.send_text("{]");
  EXPECT_EQ(json_str(w.recv_text().value_or(""), "code"), "bad_request");
  w.send_text(R"({"op":"ping","id":1})");
  EXPECT_EQ(w.recv_text().value_or(""), R"({"op":"pong","id":1})");
}

TEST_F(Transports, ManyRequestsInOneWriteAnswerInOrder) {
  TcpClient t = tcp();
  std::string burst;
  for (int i = 0; i < 500; ++i) {
    std::string p = R"({"op":"ping","id":)" + std::to_string(i) + "}";
    uint32_t n = static_cast<uint32_t>(p.size());
    burst += static_cast<char>(n >> 24);
    burst += static_cast<char>(n >> 16);
    burst += static_cast<char>(n >> 8);
    burst += static_cast<char>(n);
    burst += p;
  }
  t.send_raw(burst);
  for (int i = 0; i < 500; ++i) {
    auto r = t.recv();
    ASSERT_TRUE(r) << i;
    ASSERT_EQ(json_int(*r, "id"), i);
  }
}

TEST_F(Transports, FragmentedWebSocketMessageWithInterleavedPing) {
  WsClient w = ws();
  w.send_frame(0x1, R"({"op":"pi)", false);
  w.send_frame(0x9, "are you there");
  w.send_frame(0x0, R"(ng","id")", false);
  w.send_frame(0x0, ":42}", true);
  auto f = w.recv_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 0xA);
  EXPECT_EQ(f->payload, "are you there");
  EXPECT_EQ(w.recv_text().value_or(""), R"({"op":"pong","id":42})");
}

TEST_F(Transports, CloseHandshakeEchoesTheCode) {
  WsClient w = ws();
  std::string payload = "\x0f\xa0" "bye";  // 4000
  w.send_frame(0x8, payload);
  EXPECT_EQ(w.expect_close(), 4000);
  EXPECT_TRUE(w.socket().wait_closed(3000));
}

TEST_F(Transports, OnlyTheWsPathUpgrades) {
  WsClient w;
  EXPECT_EQ(w.connect(http_port(), "/other"), 404);
  // An old protocol version is told which one we speak (RFC 6455 4.4).
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  s.send_all(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  std::string reply;
  while (reply.find("\r\n\r\n") == std::string::npos && s.recv_some(reply, 3000)) {
  }
  EXPECT_EQ(reply.rfind("HTTP/1.1 426", 0), 0u) << reply;
  EXPECT_NE(reply.find("Sec-WebSocket-Version: 13"), std::string::npos) << reply;
  // A missing key is a bad request.
  Socket k;
  ASSERT_TRUE(k.connect(http_port()));
  k.send_all(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n");
  reply.clear();
  while (reply.find("\r\n\r\n") == std::string::npos && k.recv_some(reply, 3000)) {
  }
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
}

TEST_F(Transports, ManyClientsOnBothShards) {
  std::vector<WsClient> clients(40);
  for (auto& c : clients) ASSERT_EQ(c.connect(http_port()), 101);
  std::vector<TcpClient> tcps(40);
  for (auto& t : tcps) ASSERT_TRUE(t.connect(tcp_port()));
  for (int round = 0; round < 5; ++round) {
    for (size_t i = 0; i < clients.size(); ++i) {
      clients[i].send_text(R"({"op":"ping","id":)" + std::to_string(i) + "}");
      tcps[i].send(R"({"op":"ping","id":)" + std::to_string(i) + "}");
    }
    for (size_t i = 0; i < clients.size(); ++i) {
      EXPECT_EQ(json_int(clients[i].recv_text().value_or(""), "id"), int64_t(i));
      EXPECT_EQ(json_int(tcps[i].recv().value_or(""), "id"), int64_t(i));
    }
  }
  HttpReply m = http_request(http_port(), "GET", "/metrics");
  // The kernel spread 80 connections over both shards' listeners.
  EXPECT_NE(m.body.find("parley_connections_accepted_total{shard=\"0\",transport=\"tcp\"}"),
            std::string::npos);
}

}  // namespace
}  // namespace parley::test
