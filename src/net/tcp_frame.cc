#include "parley/net/tcp_frame.h"

#include <cassert>
#include <limits>

namespace parley::net {

TcpFrameResult parse_tcp_frame(std::span<const uint8_t> in, size_t max_frame) {
  if (in.size() < kTcpHeaderSize) return {TcpFrameStatus::kNeedMore, {}, 0, {}};
  const size_t len =
      (size_t{in[0]} << 24) | (size_t{in[1]} << 16) | (size_t{in[2]} << 8) | size_t{in[3]};
  if (len == 0) return {TcpFrameStatus::kError, {}, 0, "empty frame"};
  if (len > max_frame) return {TcpFrameStatus::kError, {}, 0, "frame too large"};
  if (in.size() - kTcpHeaderSize < len) return {TcpFrameStatus::kNeedMore, {}, 0, {}};
  return {TcpFrameStatus::kFrame, in.subspan(kTcpHeaderSize, len), kTcpHeaderSize + len, {}};
}

void write_tcp_header(uint8_t out[4], uint32_t len) {
  out[0] = static_cast<uint8_t>(len >> 24);
  out[1] = static_cast<uint8_t>(len >> 16);
  out[2] = static_cast<uint8_t>(len >> 8);
  out[3] = static_cast<uint8_t>(len);
}

void append_tcp_frame(std::string& out, std::string_view payload) {
  assert(payload.size() <= std::numeric_limits<uint32_t>::max());
  uint8_t header[kTcpHeaderSize];
  write_tcp_header(header, static_cast<uint32_t>(payload.size()));
  out.reserve(out.size() + kTcpHeaderSize + payload.size());
  out.append(reinterpret_cast<const char*>(header), kTcpHeaderSize);
  out.append(payload);
}

}  // namespace parley::net
