// Where a client connects: raw TCP ("HOST:PORT", 4-byte length frames) or WebSocket
// ("ws://HOST:PORT/PATH"). Pure parsing; no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::client {

struct Endpoint {
  enum class Transport : uint8_t { kTcp, kWebSocket };
  Transport transport = Transport::kTcp;
  std::string host = "127.0.0.1";
  uint16_t port = 7070;
  std::string path;  // kWebSocket only: the request path ("/ws")

  // "127.0.0.1:7070" or "ws://127.0.0.1:8080/ws": a stable name for the state directory and
  // for messages to the user.
  std::string display() const;
};

inline constexpr uint16_t kDefaultTcpPort = 7070;
inline constexpr uint16_t kDefaultHttpPort = 8080;

// "HOST", "HOST:PORT", "[V6]:PORT" → a TCP endpoint (port defaults to 7070). nullopt if the
// text is not one of these or the port is out of 1..65535.
std::optional<Endpoint> parse_tcp_endpoint(std::string_view text);

// "ws://HOST[:PORT][/PATH]" → a WebSocket endpoint (port 80 when absent, path "/ws" when
// absent). "wss://" is refused (nullopt): the client speaks no TLS.
std::optional<Endpoint> parse_ws_url(std::string_view url);

}  // namespace parley::client
