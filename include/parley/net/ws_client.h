// The WebSocket opening handshake, client side (RFC 6455 4.1): the request a client sends and
// a check of the server's answer. Used by the console client and the load harness; pure code
// over bytes except ws_client_key(), which draws random bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace parley::net {

// A fresh Sec-WebSocket-Key: base64 of 16 random bytes (OpenSSL's RAND_bytes).
std::string ws_client_key();

// The GET request that opens a WebSocket at `path` on `host` ("127.0.0.1:8080") with `key`.
// `extra_headers`, if any, are whole header lines each ending in "\r\n" (e.g. "Origin: x\r\n").
std::string ws_client_request(std::string_view host, std::string_view path, std::string_view key,
                              std::string_view extra_headers = {});

struct WsClientResponse {
  enum class Status : uint8_t {
    kNeedMore,  // the header block is not complete yet: call again with more bytes
    kOk,        // 101 with the right Upgrade, Connection and Sec-WebSocket-Accept
    kError,     // anything else; `error` says what ("status 403", "wrong Sec-WebSocket-Accept")
  };
  Status status = Status::kNeedMore;
  size_t consumed = 0;  // kOk: bytes of the header block; frames may follow in the same read
  int http_status = 0;  // the status code, once the status line was read
  std::string error;
};

// Checks the server's answer to a request made with `key`. Reads only the header block (at
// most `max_header` bytes; a longer one is an error).
WsClientResponse parse_ws_client_response(std::span<const uint8_t> in, std::string_view key,
                                          size_t max_header = 16 * 1024);

}  // namespace parley::net
