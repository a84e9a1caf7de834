// The key check and accept value of the WebSocket opening handshake (RFC 6455 4.2). The HTTP
// side (Upgrade, Connection, Sec-WebSocket-Version headers) is the connection's business.
#pragma once

#include <string>
#include <string_view>

namespace parley::net {

// The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key:
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). Any thread. Returns an empty
// string only if OpenSSL fails.
std::string ws_accept_key(std::string_view sec_websocket_key);

// True when `key` looks like the base64 encoding of 16 bytes: exactly 24 characters, 22 from
// the base64 alphabet followed by "==". The value must already be stripped of whitespace.
bool ws_key_valid(std::string_view key);

}  // namespace parley::net
