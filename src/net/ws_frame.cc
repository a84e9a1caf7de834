#include "parley/net/ws_frame.h"

#include <cstring>

namespace parley::net {

namespace {

constexpr uint8_t kFinBit = 0x80;
constexpr uint8_t kRsvBits = 0x70;
constexpr uint8_t kOpcodeBits = 0x0f;
constexpr uint8_t kMaskBit = 0x80;
constexpr uint8_t kLenBits = 0x7f;
constexpr uint8_t kLen16 = 126;  // the 7-bit length field value announcing a 16-bit length
constexpr uint8_t kLen64 = 127;  // ... announcing a 64-bit length

bool is_control(WsOpcode op) { return static_cast<uint8_t>(op) & 0x08; }

bool is_defined(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

uint64_t load_be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

void store_be(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = n; i-- > 0; v >>= 8) p[i] = static_cast<uint8_t>(v);
}

std::string_view as_text(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

WsEvent error_event(uint16_t code, std::string_view text) {
  WsEvent ev;
  ev.kind = WsEventKind::kError;
  ev.close_code = code;
  ev.error = text;
  return ev;
}

WsEvent payload_event(WsEventKind kind, std::span<const uint8_t> payload) {
  WsEvent ev;
  ev.kind = kind;
  ev.payload = payload;
  return ev;
}

// Fragments of messages larger than this are not kept between messages, so an idle connection
// that once received a big fragmented message does not hold its memory.
constexpr size_t kKeepFragmentCapacity = 4096;

}  // namespace

// A frame header that passed every check that needs only the header.
struct WsDecoder::Header {
  bool fin = false;
  WsOpcode opcode = WsOpcode::kContinuation;
  const uint8_t* mask = nullptr;  // the 4-byte masking key inside the input, or null
  uint64_t len = 0;               // payload bytes
  size_t size = 0;                // header bytes, masking key included
};

struct WsDecoder::HeaderResult {
  enum Status : uint8_t { kOk, kNeedMore, kError } status;
  Header header;
  WsEvent error;  // kError only
};

WsDecoder::WsDecoder(WsLimits limits) : limits_(limits) {}

// Checks the header at the front of `in` field by field, in wire order, so an error is found
// as soon as the byte that shows it is present and whatever the input was split into.
WsDecoder::HeaderResult WsDecoder::parse_header(std::span<const uint8_t> in) const {
  using ws_close::kProtocolError;
  auto fail = [](uint16_t code, std::string_view text) {
    return HeaderResult{HeaderResult::kError, {}, error_event(code, text)};
  };
  const HeaderResult need_more{HeaderResult::kNeedMore, {}, {}};
  if (in.empty()) return need_more;

  Header h;
  const uint8_t b0 = in[0];
  if (b0 & kRsvBits) return fail(kProtocolError, "reserved bits set");
  if (!is_defined(b0 & kOpcodeBits)) return fail(kProtocolError, "reserved opcode");
  h.fin = b0 & kFinBit;
  h.opcode = static_cast<WsOpcode>(b0 & kOpcodeBits);
  const bool control = is_control(h.opcode);
  if (control) {
    if (!h.fin) return fail(kProtocolError, "fragmented control frame");
  } else if (h.opcode == WsOpcode::kContinuation) {
    if (!in_message_) return fail(kProtocolError, "continuation without a message");
  } else {
    if (in_message_) return fail(kProtocolError, "new message inside a fragmented message");
    if (h.opcode == WsOpcode::kBinary && !limits_.allow_binary) {
      return fail(ws_close::kUnsupportedData, "binary messages are not accepted");
    }
  }

  if (in.size() < 2) return need_more;
  const bool masked = in[1] & kMaskBit;
  const uint8_t len7 = in[1] & kLenBits;
  if (!masked && limits_.require_mask) return fail(kProtocolError, "unmasked client frame");
  if (control && len7 > kWsMaxControlPayload) return fail(kProtocolError, "control frame too long");

  h.size = 2;
  h.len = len7;
  if (len7 == kLen16 || len7 == kLen64) {
    const size_t n = len7 == kLen16 ? 2 : 8;
    if (in.size() < h.size + n) return need_more;
    h.len = load_be(in.data() + h.size, n);
    h.size += n;
    if (h.len >> 63) return fail(kProtocolError, "invalid frame length");
  }
  if (!control && h.len > limits_.max_message - fragments_.size()) {
    return fail(ws_close::kTooBig, "message too big");
  }

  if (masked) {
    if (in.size() < h.size + 4) return need_more;
    h.mask = in.data() + h.size;
    h.size += 4;
  }
  return {HeaderResult::kOk, h, {}};
}

WsEvent WsDecoder::on_control(WsOpcode op, std::span<const uint8_t> payload) const {
  if (op == WsOpcode::kPing) return payload_event(WsEventKind::kPing, payload);
  if (op == WsOpcode::kPong) return payload_event(WsEventKind::kPong, payload);
  WsEvent ev = payload_event(WsEventKind::kClose, {});
  if (payload.empty()) {
    ev.close_code = ws_close::kNoStatus;
    return ev;
  }
  if (payload.size() == 1) return error_event(ws_close::kProtocolError, "truncated close code");
  ev.close_code = static_cast<uint16_t>(load_be(payload.data(), 2));
  if (!ws_close_code_valid(ev.close_code)) {
    return error_event(ws_close::kProtocolError, "invalid close code");
  }
  ev.payload = payload.subspan(2);
  if (!utf8_valid(as_text(ev.payload))) {
    return error_event(ws_close::kInvalidPayload, "close reason is not valid UTF-8");
  }
  return ev;
}

// A data frame whose header passed parse_header(). Returns kNeedMore after absorbing a non-final
// fragment, kMessage for a whole message, or kError for invalid UTF-8.
WsEvent WsDecoder::on_data(bool fin, WsOpcode op, std::span<const uint8_t> payload) {
  constexpr std::string_view kBadText = "text message is not valid UTF-8";
  if (!in_message_ && fin) {  // the common case: a whole message in one frame, left in place
    if (op == WsOpcode::kText && !utf8_valid(as_text(payload))) {
      return error_event(ws_close::kInvalidPayload, kBadText);
    }
    WsEvent ev = payload_event(WsEventKind::kMessage, payload);
    ev.opcode = op;
    return ev;
  }
  if (!in_message_) {
    in_message_ = true;
    message_opcode_ = op;
    utf8_.reset();
  }
  if (message_opcode_ == WsOpcode::kText && !utf8_.feed(payload)) {
    return error_event(ws_close::kInvalidPayload, kBadText);
  }
  fragments_.append(as_text(payload));
  if (!fin) return {};
  if (message_opcode_ == WsOpcode::kText && !utf8_.complete()) {
    return error_event(ws_close::kInvalidPayload, kBadText);
  }
  in_message_ = false;
  delivered_fragments_ = true;
  WsEvent ev = payload_event(
      WsEventKind::kMessage,
      {reinterpret_cast<const uint8_t*>(fragments_.data()), fragments_.size()});
  ev.opcode = message_opcode_;
  return ev;
}

void WsDecoder::release_fragments() {
  delivered_fragments_ = false;
  if (fragments_.capacity() > kKeepFragmentCapacity) {
    std::string().swap(fragments_);
  } else {
    fragments_.clear();
  }
}

WsDecoder::Result WsDecoder::decode(std::span<uint8_t> in) {
  if (finished_) return {error_event(ws_close::kInternalError, "decoder already finished"), 0};
  if (delivered_fragments_) release_fragments();
  size_t consumed = 0;
  for (;;) {
    const std::span<uint8_t> rest = in.subspan(consumed);
    const HeaderResult hr = parse_header(rest);
    if (hr.status == HeaderResult::kNeedMore) return {{}, consumed};
    if (hr.status == HeaderResult::kError) {
      finished_ = true;
      return {hr.error, consumed};
    }
    const Header& h = hr.header;
    // parse_header() bounds h.len by max_message (data) or 125 (control), so it fits a size_t.
    if (rest.size() - h.size < h.len) return {{}, consumed};
    const std::span<uint8_t> payload = rest.subspan(h.size, static_cast<size_t>(h.len));
    if (h.mask != nullptr) ws_mask(payload, h.mask);
    const WsEvent ev = is_control(h.opcode) ? on_control(h.opcode, payload)
                                            : on_data(h.fin, h.opcode, payload);
    if (ev.kind == WsEventKind::kError) {
      finished_ = true;
      return {ev, consumed};
    }
    consumed += h.size + payload.size();
    if (ev.kind == WsEventKind::kClose) finished_ = true;
    if (ev.kind != WsEventKind::kNeedMore) return {ev, consumed};
  }
}

void ws_mask(std::span<uint8_t> data, const uint8_t* mask4) {
  uint8_t* p = data.data();
  const size_t n = data.size();
  uint8_t mask8[8];
  std::memcpy(mask8, mask4, 4);
  std::memcpy(mask8 + 4, mask4, 4);
  uint64_t word_mask;
  std::memcpy(&word_mask, mask8, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    word ^= word_mask;
    std::memcpy(p + i, &word, 8);
  }
  for (; i < n; ++i) p[i] ^= mask4[i & 3];
}

size_t ws_header_size(uint64_t payload_len, bool masked) {
  const size_t len_bytes = payload_len < kLen16 ? 0 : payload_len <= 0xffff ? 2 : 8;
  return 2 + len_bytes + (masked ? 4 : 0);
}

size_t ws_write_header(uint8_t* out, WsOpcode op, bool fin, uint64_t len, const uint8_t* mask4) {
  out[0] = static_cast<uint8_t>((fin ? kFinBit : 0) | static_cast<uint8_t>(op));
  const uint8_t mask_bit = mask4 != nullptr ? kMaskBit : 0;
  size_t n = 2;
  if (len < kLen16) {
    out[1] = static_cast<uint8_t>(mask_bit | len);
  } else if (len <= 0xffff) {
    out[1] = mask_bit | kLen16;
    store_be(out + 2, len, 2);
    n += 2;
  } else {
    out[1] = mask_bit | kLen64;
    store_be(out + 2, len, 8);
    n += 8;
  }
  if (mask4 != nullptr) {
    std::memcpy(out + n, mask4, 4);
    n += 4;
  }
  return n;
}

void ws_append_frame(std::string& out, WsOpcode op, std::string_view payload,
                     const uint8_t* mask4, bool fin) {
  uint8_t header[kWsMaxHeaderSize];
  const size_t header_size = ws_write_header(header, op, fin, payload.size(), mask4);
  out.reserve(out.size() + header_size + payload.size());
  out.append(reinterpret_cast<const char*>(header), header_size);
  const size_t payload_at = out.size();
  out.append(payload);
  if (mask4 != nullptr) {
    ws_mask({reinterpret_cast<uint8_t*>(out.data() + payload_at), payload.size()}, mask4);
  }
}

std::string ws_close_payload(uint16_t code, std::string_view reason) {
  if (code == 0) return {};
  constexpr size_t kMaxReason = kWsMaxControlPayload - 2;
  if (reason.size() > kMaxReason) {
    size_t cut = kMaxReason;
    // Back up over continuation bytes so a multi-byte character is not split.
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xc0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string out(2, '\0');
  store_be(reinterpret_cast<uint8_t*>(out.data()), code, 2);
  out.append(reason);
  return out;
}

bool ws_close_code_valid(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

}  // namespace parley::net
