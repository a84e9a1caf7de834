#include "parley/net/ws_client.h"

#include <gtest/gtest.h>

#include <string>

#include "parley/net/ws_handshake.h"

namespace parley::net {
namespace {

using Status = WsClientResponse::Status;

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string answer(std::string_view key, std::string_view status_line = "HTTP/1.1 101 Switching Protocols",
                   std::string_view extra = {}) {
  std::string r(status_line);
  r += "\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: ";
  r += ws_accept_key(key);
  r += "\r\n";
  r += extra;
  r += "\r\n";
  return r;
}

TEST(WsClient, KeyIsBase64OfSixteenRandomBytes) {
  const std::string a = ws_client_key(), b = ws_client_key();
  EXPECT_TRUE(ws_key_valid(a));
  EXPECT_TRUE(ws_key_valid(b));
  EXPECT_NE(a, b);
}

TEST(WsClient, RequestCarriesTheUpgradeHeaders) {
  const std::string req = ws_client_request("127.0.0.1:8080", "/ws", "KEY", "Origin: x\r\n");
  EXPECT_EQ(req.rfind("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n", 0), 0u);
  EXPECT_NE(req.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
  EXPECT_NE(req.find("\r\nSec-WebSocket-Key: KEY\r\n"), std::string::npos);
  EXPECT_NE(req.find("\r\nOrigin: x\r\n\r\n"), std::string::npos);
  EXPECT_EQ(req.substr(req.size() - 4), "\r\n\r\n");
}

TEST(WsClient, AcceptsTheRightAnswerAndLeavesFollowingFrames) {
  const std::string key = ws_client_key();
  const std::string head = answer(key);
  const std::string bytes = head + "\x81\x02hi";
  const WsClientResponse r = parse_ws_client_response(as_bytes(bytes), key);
  ASSERT_EQ(r.status, Status::kOk) << r.error;
  EXPECT_EQ(r.consumed, head.size());
  EXPECT_EQ(r.http_status, 101);
}

TEST(WsClient, NeedsMoreUntilTheHeaderBlockEnds) {
  const std::string key = ws_client_key();
  const std::string head = answer(key);
  for (size_t n = 0; n < head.size(); ++n) {
    const WsClientResponse r = parse_ws_client_response(as_bytes(head.substr(0, n)), key);
    EXPECT_EQ(r.status, Status::kNeedMore) << n;
  }
}

TEST(WsClient, RejectsWrongAnswers) {
  const std::string key = ws_client_key();
  WsClientResponse r = parse_ws_client_response(
      as_bytes(answer(key, "HTTP/1.1 403 Forbidden")), key);
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(r.http_status, 403);
  EXPECT_EQ(r.error, "status 403");

  r = parse_ws_client_response(as_bytes(answer(ws_client_key())), key);
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(r.error, "wrong Sec-WebSocket-Accept");

  const std::string no_upgrade = "HTTP/1.1 101 OK\r\nConnection: upgrade\r\nSec-WebSocket-Accept: " +
                                 ws_accept_key(key) + "\r\n\r\n";
  r = parse_ws_client_response(as_bytes(no_upgrade), key);
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(r.error, "no Upgrade: websocket");

  r = parse_ws_client_response(as_bytes(std::string("garbage\r\n\r\n")), key);
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(r.error.rfind("malformed response", 0), 0u);
}

TEST(WsClient, BoundsTheHeaderBlock) {
  const std::string key = ws_client_key();
  const std::string big = answer(key, "HTTP/1.1 101 OK", "X-Pad: " + std::string(200, 'a') + "\r\n");
  EXPECT_EQ(parse_ws_client_response(as_bytes(big), key, 100).status, Status::kError);
  EXPECT_EQ(parse_ws_client_response(as_bytes(std::string(100, 'a')), key, 100).status,
            Status::kError);
  EXPECT_EQ(parse_ws_client_response(as_bytes(std::string(99, 'a')), key, 100).status,
            Status::kNeedMore);
}

}  // namespace
}  // namespace parley::net
