// libFuzzer target: raw TCP framing on arbitrary bytes. The first two bytes choose max_frame and
// the chunk size the stream arrives in; every frame must round-trip through append_tcp_frame, and
// the frames found must not depend on how the stream was split.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/net/tcp_frame.h"

namespace {

using parley::net::TcpFrameStatus;

// Parses `in` arriving in chunks of `chunk` bytes (0: all at once), like a connection would.
std::vector<std::string> frames_of(std::string_view in, size_t chunk, size_t max_frame,
                                   bool& failed) {
  std::vector<std::string> frames;
  std::string buf;
  failed = false;
  for (size_t pos = 0; pos < in.size();) {
    const size_t n = chunk == 0 ? in.size() : std::min(chunk, in.size() - pos);
    buf.append(in.substr(pos, n));
    pos += n;
    for (;;) {
      const auto r = parley::net::parse_tcp_frame(
          {reinterpret_cast<const uint8_t*>(buf.data()), buf.size()}, max_frame);
      if (r.status == TcpFrameStatus::kNeedMore) {
        if (r.consumed != 0) __builtin_trap();
        break;
      }
      if (r.status == TcpFrameStatus::kError) {
        if (r.error.empty() || r.consumed != 0) __builtin_trap();
        failed = true;
        return frames;
      }
      if (r.payload.empty() || r.payload.size() > max_frame) __builtin_trap();
      if (r.consumed != 4 + r.payload.size() || r.consumed > buf.size()) __builtin_trap();
      std::string payload(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
      std::string again;
      parley::net::append_tcp_frame(again, payload);
      if (again != std::string_view(buf).substr(0, r.consumed)) __builtin_trap();
      frames.push_back(std::move(payload));
      buf.erase(0, r.consumed);
    }
  }
  return frames;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max_frame = 1 + data[0] * 4;  // 1..1021: small, so lengths hit the limit often
  const size_t chunk = data[1] % 16;
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  bool failed_whole = false, failed_split = false;
  const auto whole = frames_of(in, 0, max_frame, failed_whole);
  const auto split = frames_of(in, chunk, max_frame, failed_split);
  if (whole != split || failed_whole != failed_split) __builtin_trap();
  return 0;
}
