#include "parley/client/endpoint.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

TEST(EndpointTest, TcpForms) {
  auto e = parse_tcp_endpoint("127.0.0.1:7071");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->transport, Endpoint::Transport::kTcp);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 7071);
  EXPECT_EQ(e->display(), "127.0.0.1:7071");

  e = parse_tcp_endpoint("chat.example");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, kDefaultTcpPort);

  e = parse_tcp_endpoint("[::1]:9000");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 9000);
  EXPECT_EQ(e->display(), "[::1]:9000");
}

TEST(EndpointTest, TcpRejects) {
  for (const char* bad : {"", ":7070", "host:", "host:0", "host:65536", "host:12x", "::1:80",
                          "[::1", "[::1]x", "[::1]:"}) {
    EXPECT_FALSE(parse_tcp_endpoint(bad)) << bad;
  }
}

TEST(EndpointTest, WebSocketUrls) {
  auto e = parse_ws_url("ws://127.0.0.1:8080/ws");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->transport, Endpoint::Transport::kWebSocket);
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->path, "/ws");
  EXPECT_EQ(e->display(), "ws://127.0.0.1:8080/ws");

  e = parse_ws_url("ws://chat.example");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 80);
  EXPECT_EQ(e->path, "/ws");

  e = parse_ws_url("ws://h:1/custom/path?x=1");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, "/custom/path?x=1");

  for (const char* bad :
       {"wss://h/ws", "http://h/ws", "ws://", "ws://:80/ws", "ws://h:0/", "ws://h/a b"}) {
    EXPECT_FALSE(parse_ws_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace parley::client
