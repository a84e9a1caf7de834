// libFuzzer target: the server-side WebSocket decoder on arbitrary bytes. The first two bytes
// choose the limits and the chunk size the stream arrives in. Checked invariants: the decoder
// never reads past its input, consumes only what it was given, reports every error with a close
// code a server may send, and finds the same events whether the stream arrives whole or split.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/net/ws_frame.h"

namespace {

using parley::net::WsDecoder;
using parley::net::WsEventKind;
using parley::net::WsLimits;

struct Seen {
  WsEventKind kind;
  uint16_t code;
  std::string payload;
  bool operator==(const Seen&) const = default;
};

bool sendable_code(uint16_t code) {
  return code == 1002 || code == 1003 || code == 1007 || code == 1009 || code == 1011;
}

std::vector<Seen> events_of(std::string_view in, size_t chunk, WsLimits limits) {
  WsDecoder dec(limits);
  std::vector<Seen> seen;
  std::string buf;
  for (size_t pos = 0; pos < in.size();) {
    const size_t n = chunk == 0 ? in.size() : std::min(chunk, in.size() - pos);
    buf.append(in.substr(pos, n));
    pos += n;
    for (;;) {
      // A private copy of exactly the live bytes, so ASan catches any read past the end.
      std::vector<uint8_t> live(buf.begin(), buf.end());
      const auto r = dec.decode({live.data(), live.size()});
      if (r.consumed > live.size()) __builtin_trap();
      const auto& ev = r.event;
      buf.assign(reinterpret_cast<const char*>(live.data()), live.size());  // unmasked in place
      buf.erase(0, r.consumed);
      if (ev.kind == WsEventKind::kNeedMore) {
        if (r.consumed == 0) break;
        continue;
      }
      if (ev.kind == WsEventKind::kError && (!sendable_code(ev.close_code) || ev.error.empty()))
        __builtin_trap();
      if (ev.kind == WsEventKind::kMessage && ev.payload.size() > limits.max_message)
        __builtin_trap();
      if ((ev.kind == WsEventKind::kPing || ev.kind == WsEventKind::kPong) &&
          ev.payload.size() > parley::net::kWsMaxControlPayload)
        __builtin_trap();
      // Payload spans may point into `live`, which is still alive here.
      seen.push_back({ev.kind, ev.close_code,
                      std::string(reinterpret_cast<const char*>(ev.payload.data()),
                                  ev.payload.size())});
      if (ev.kind == WsEventKind::kError || ev.kind == WsEventKind::kClose) return seen;
    }
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  WsLimits limits;
  limits.max_message = 1 + (data[0] & 0x3f) * 16;  // 1..1009: small, so limits are hit often
  limits.require_mask = (data[0] & 0x40) == 0;
  limits.allow_binary = (data[0] & 0x80) == 0;
  const size_t chunk = data[1] % 16;
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  if (events_of(in, 0, limits) != events_of(in, chunk, limits)) __builtin_trap();
  return 0;
}
