// RFC 6455 WebSocket framing, server side: a decoder for client frames that enforces the
// protocol rules (masking, reserved bits and opcodes, control-frame rules, continuation order,
// message size, UTF-8 of text and close reasons) and reports every violation as a value carrying
// the close code to send; and encoders for frames in both directions. Pure code over bytes: no
// sockets, no clock, no global state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "parley/net/utf8.h"

namespace parley::net {

enum class WsOpcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

// Close status codes (RFC 6455 7.4.1) that the server sends or reports.
namespace ws_close {
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kUnsupportedData = 1003;
inline constexpr uint16_t kNoStatus = 1005;  // reported for a close frame without a payload; never sent
inline constexpr uint16_t kInvalidPayload = 1007;
inline constexpr uint16_t kPolicyViolation = 1008;
inline constexpr uint16_t kTooBig = 1009;
inline constexpr uint16_t kInternalError = 1011;
}  // namespace ws_close

inline constexpr size_t kWsMaxHeaderSize = 14;       // 2 + 8-byte length + 4-byte mask
inline constexpr size_t kWsMaxControlPayload = 125;  // RFC 6455 5.5

struct WsLimits {
  size_t max_message = 65536;  // bytes of a message after reassembly; exactly this is allowed
  bool require_mask = true;    // client frames must be masked (false: masked or not, both accepted)
  bool allow_binary = true;    // false: a binary message is closed with 1003
};

enum class WsEventKind : uint8_t {
  kNeedMore,  // no event yet: keep the unconsumed bytes and call again when more arrive
  kMessage,   // a whole text or binary message
  kPing,      // answer with a pong carrying the same payload
  kPong,
  kClose,     // the peer started the closing handshake; do not feed the decoder again
  kError,     // a protocol violation; close with close_code; do not feed the decoder again
};

struct WsEvent {
  WsEventKind kind = WsEventKind::kNeedMore;
  WsOpcode opcode = WsOpcode::kText;  // kMessage: kText or kBinary
  // kMessage, kPing, kPong, kClose (the reason, after the code): the unmasked payload. Valid
  // until the next decode() or until the caller changes the input bytes.
  std::span<const uint8_t> payload;
  // kClose: the peer's code (kNoStatus when the frame had no payload). kError: the code the
  // server must close with.
  uint16_t close_code = 0;
  std::string_view error;  // kError: short human text ("unmasked client frame", ...); static
};

// Decodes the frames of one client connection. Holds only what must survive between calls: the
// state of a fragmented message in progress. One owner (the connection's thread); not shared.
class WsDecoder {
 public:
  explicit WsDecoder(WsLimits limits = {});

  struct Result {
    WsEvent event;
    size_t consumed;  // bytes at the front of `in` the caller must drop before the next call
  };

  // Decodes frames from the front of `in` until one event is ready or more bytes are needed.
  // Consumes only whole frames (never part of a frame); the caller drops `consumed` bytes and
  // calls again with the rest plus new bytes. Unmasks payloads in place (hence a mutable span).
  // kNeedMore may have consumed > 0 (non-final fragments were absorbed). Errors are reported as
  // soon as the bytes that show them are present: a bad header before its payload arrives.
  // kError's `consumed` excludes the offending frame. After kError or kClose the decoder must
  // not be fed again (if it is, it answers kError with kInternalError and consumes nothing).
  // A single unfragmented message's payload points into `in`; a fragmented one into the decoder.
  Result decode(std::span<uint8_t> in);

  // Bytes held for a fragmented message in progress.
  size_t buffered() const { return fragments_.size(); }

 private:
  struct Header;
  struct HeaderResult;

  HeaderResult parse_header(std::span<const uint8_t> in) const;
  WsEvent on_control(WsOpcode op, std::span<const uint8_t> payload) const;
  WsEvent on_data(bool fin, WsOpcode op, std::span<const uint8_t> payload);
  void release_fragments();

  WsLimits limits_;
  std::string fragments_;             // the message in progress; allocated only when fragmented
  Utf8Validator utf8_;                // checks a fragmented text message fragment by fragment
  WsOpcode message_opcode_ = WsOpcode::kText;  // of the message in progress
  bool in_message_ = false;           // a non-final fragment was absorbed; continuations expected
  bool delivered_fragments_ = false;  // the last event's payload points into fragments_
  bool finished_ = false;             // kClose or kError was returned
};

// XORs `data` with the 4-byte `mask4` (RFC 6455 5.3), in place, 8 bytes at a time. Masking
// and unmasking are the same operation.
void ws_mask(std::span<uint8_t> data, const uint8_t* mask4);

// Size of the header of a frame carrying `payload_len` bytes: 2, 4 or 10 bytes, plus 4 when
// masked.
size_t ws_header_size(uint64_t payload_len, bool masked);

// Writes a frame header to `out` (at least kWsMaxHeaderSize bytes) using the shortest length
// form. `mask4` == nullptr: unmasked (server frames); else the 4-byte masking key is written and
// the caller must mask the payload with it. Returns ws_header_size(len, mask4 != nullptr).
size_t ws_write_header(uint8_t* out, WsOpcode op, bool fin, uint64_t len, const uint8_t* mask4);

// Appends one whole frame (header and payload, masked with `mask4` when it is not null) to `out`.
void ws_append_frame(std::string& out, WsOpcode op, std::string_view payload,
                     const uint8_t* mask4 = nullptr, bool fin = true);

// The payload of a close frame: `code` big-endian, then `reason` cut to fit the 125-byte control
// frame limit (at a UTF-8 character boundary when the reason is valid UTF-8). Empty if code == 0.
std::string ws_close_payload(uint16_t code, std::string_view reason = {});

// True for the codes a peer may send in a close frame: 1000-1003, 1007-1014, 3000-4999.
bool ws_close_code_valid(uint16_t code);

}  // namespace parley::net
