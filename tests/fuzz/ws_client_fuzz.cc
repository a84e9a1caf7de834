// Fuzzes the client side of the WebSocket handshake: any bytes as the server's answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "parley/net/ws_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using parley::net::WsClientResponse;
  constexpr size_t kMax = 4096;
  const WsClientResponse r =
      parley::net::parse_ws_client_response({data, size}, "dGhlIHNhbXBsZSBub25jZQ==", kMax);
  if (r.consumed > size || r.consumed > kMax) abort();
  if ((r.status == WsClientResponse::Status::kOk) != (r.consumed > 0)) abort();
  if (r.status == WsClientResponse::Status::kError && r.error.empty()) abort();
  return 0;
}
