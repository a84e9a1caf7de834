// Raw TCP framing: each frame is a 4-byte unsigned big-endian length N (1 <= N <= max_frame)
// followed by N payload bytes. Pure functions over bytes; no state survives between calls, so the
// caller keeps unconsumed bytes and calls again when more arrive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace parley::net {

inline constexpr size_t kTcpHeaderSize = 4;

enum class TcpFrameStatus : uint8_t {
  kNeedMore,  // not a whole frame yet; consumed is 0
  kFrame,     // payload is one frame; drop `consumed` bytes before the next call
  kError,     // the length is 0 or over max_frame: close the connection without a reply
};

struct TcpFrameResult {
  TcpFrameStatus status;
  std::span<const uint8_t> payload;  // kFrame only; points into the caller's input
  size_t consumed;                   // kFrame: 4 + payload size; otherwise 0
  std::string_view error;            // kError only: "empty frame" or "frame too large"
};

// Parses one frame from the front of `in`. The error is reported as soon as the 4 length bytes
// are present, before any payload arrives. Any thread; no allocation.
TcpFrameResult parse_tcp_frame(std::span<const uint8_t> in, size_t max_frame);

// Appends the 4-byte header and `payload` to `out`. payload.size() must fit in 32 bits.
void append_tcp_frame(std::string& out, std::string_view payload);

// Writes `len` as 4 big-endian bytes to out[0..3].
void write_tcp_header(uint8_t out[4], uint32_t len);

}  // namespace parley::net
