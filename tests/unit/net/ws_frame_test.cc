#include "parley/net/ws_frame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "parley/net/utf8.h"

namespace parley::net {
namespace {

// ---- an owned copy of a WsEvent, so events can be compared after the input is gone ----------

struct Ev {
  WsEventKind kind = WsEventKind::kNeedMore;
  WsOpcode opcode = WsOpcode::kText;  // compared for kMessage only
  std::string payload;
  uint16_t close_code = 0;

  bool operator==(const Ev& o) const {
    return kind == o.kind && (kind != WsEventKind::kMessage || opcode == o.opcode) &&
           payload == o.payload && close_code == o.close_code;
  }
};

void PrintTo(const Ev& e, std::ostream* os) {
  static constexpr const char* kNames[] = {"need_more", "message", "ping", "pong", "close", "error"};
  *os << kNames[static_cast<int>(e.kind)];
  if (e.kind == WsEventKind::kMessage) *os << (e.opcode == WsOpcode::kText ? "(text)" : "(binary)");
  if (e.close_code != 0) *os << " code=" << e.close_code;
  *os << " payload[" << e.payload.size() << "]="
      << testing::PrintToString(e.payload.substr(0, 40));
}

Ev message(std::string payload, WsOpcode op = WsOpcode::kText) {
  return {WsEventKind::kMessage, op, std::move(payload), 0};
}
Ev ping(std::string payload) { return {WsEventKind::kPing, {}, std::move(payload), 0}; }
Ev pong(std::string payload) { return {WsEventKind::kPong, {}, std::move(payload), 0}; }
Ev closed(uint16_t code, std::string reason = {}) {
  return {WsEventKind::kClose, {}, std::move(reason), code};
}
Ev error(uint16_t code) { return {WsEventKind::kError, {}, {}, code}; }

Ev copy_of(const WsEvent& e) {
  return {e.kind, e.opcode, std::string(reinterpret_cast<const char*>(e.payload.data()),
                                        e.payload.size()),
          e.close_code};
}

// ---- the caller simulation -------------------------------------------------------------------

struct Decoded {
  std::vector<Ev> events;
  size_t leftover = 0;  // bytes never consumed
};

// Acts like a connection: the input arrives in chunks ending at `cuts` and then the rest; after
// each chunk, decode() is called until kNeedMore, and consumed bytes are dropped. Stops at the
// first kClose or kError, as a connection would. The received bytes are a window [begin, end)
// of one copy of the input: the same bytes a connection would hold, without moving them.
Decoded decode_chunks(std::string_view input, const std::vector<size_t>& cuts,
                      const WsLimits& limits) {
  WsDecoder d(limits);
  Decoded out;
  std::vector<uint8_t> buf(input.begin(), input.end());
  size_t begin = 0;
  auto deliver = [&](size_t end) {
    for (;;) {
      const WsDecoder::Result r = d.decode({buf.data() + begin, end - begin});
      EXPECT_LE(r.consumed, end - begin);
      if (r.event.kind == WsEventKind::kError) {
        EXPECT_FALSE(r.event.error.empty());
      }
      begin += r.consumed;
      if (r.event.kind == WsEventKind::kNeedMore) return true;
      out.events.push_back(copy_of(r.event));
      if (r.event.kind == WsEventKind::kClose || r.event.kind == WsEventKind::kError) return false;
    }
  };
  bool open = true;
  for (size_t cut : cuts) {
    if (open) open = deliver(cut);
  }
  if (open) deliver(input.size());
  out.leftover = input.size() - begin;
  return out;
}

// Decodes `input` whole, split in two at every offset, and one byte at a time; every way must
// give exactly `want`. Unless it ends in kError or kClose, the whole input must be consumed.
void expect_events(std::string_view input, const std::vector<Ev>& want, WsLimits limits = {}) {
  const Decoded whole = decode_chunks(input, {}, limits);
  ASSERT_EQ(whole.events, want) << "whole input";
  if (want.empty() || (want.back().kind != WsEventKind::kError &&
                       want.back().kind != WsEventKind::kClose)) {
    EXPECT_EQ(whole.leftover, 0u);
  }
  for (size_t cut = 1; cut < input.size(); ++cut) {
    ASSERT_EQ(decode_chunks(input, {cut}, limits).events, want) << "split at " << cut;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
  ASSERT_EQ(decode_chunks(input, every, limits).events, want) << "one byte at a time";
}

// ---- frame builders --------------------------------------------------------------------------

constexpr uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};  // the RFC 6455 5.7 example key

// A masked client frame, built with the encoder under test.
std::string frame(WsOpcode op, std::string_view payload, bool fin = true) {
  std::string out;
  ws_append_frame(out, op, payload, kMask, fin);
  return out;
}

// A hand-built frame for headers the encoder never produces: first byte `b0`, declared length
// `len` in a length form of `len_bytes` (0, 2 or 8; -1: the shortest), masked with kMask.
std::string raw_frame(uint8_t b0, uint64_t len, std::string_view payload, int len_bytes = -1,
                      bool masked = true) {
  if (len_bytes < 0) len_bytes = len < 126 ? 0 : len <= 0xffff ? 2 : 8;
  std::string out(1, static_cast<char>(b0));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const uint8_t len7 = len_bytes == 0 ? static_cast<uint8_t>(len) : len_bytes == 2 ? 126 : 127;
  out += static_cast<char>(mask_bit | len7);
  for (int i = len_bytes - 1; i >= 0; --i) out += static_cast<char>(len >> (8 * i));
  if (masked) out.append(reinterpret_cast<const char*>(kMask), 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    out += static_cast<char>(payload[i] ^ (masked ? kMask[i % 4] : 0));
  }
  return out;
}

// Valid UTF-8 of exactly `size` bytes, mixing 1- to 4-byte characters.
std::string text_of_size(size_t size) {
  static constexpr std::string_view kChars[] = {"a", "\xc3\xa9", "\xe2\x82\xac",
                                                "\xf0\x9f\x98\x80", "z"};
  std::string s;
  for (size_t i = 0; s.size() < size; ++i) {
    std::string_view c = kChars[i % 5];
    s.append(s.size() + c.size() <= size ? c : "a");
  }
  return s;
}

std::string cat(std::initializer_list<std::string> parts) {
  std::string s;
  for (const std::string& p : parts) s += p;
  return s;
}

std::span<uint8_t> span_of(std::string& s) {
  return {reinterpret_cast<uint8_t*>(s.data()), s.size()};
}

WsLimits limits_with(size_t max_message, bool require_mask = true, bool allow_binary = true) {
  WsLimits l;
  l.max_message = max_message;
  l.require_mask = require_mask;
  l.allow_binary = allow_binary;
  return l;
}

// ---- decoding valid input --------------------------------------------------------------------

TEST(WsDecoderTest, Rfc6455Examples) {
  expect_events("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", {message("Hello")});
  expect_events("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", {pong("Hello")});
  const WsLimits unmasked_ok = limits_with(65536, false);
  expect_events("\x81\x05Hello", {message("Hello")}, unmasked_ok);
  expect_events("\x01\x03Hel\x80\x02lo", {message("Hello")}, unmasked_ok);
  expect_events("\x89\x05Hello", {ping("Hello")}, unmasked_ok);
}

TEST(WsDecoderTest, MaskedTextInEveryLengthForm) {
  struct Case {
    size_t size;
    uint8_t len7;  // the 7-bit length field the shortest form uses
  };
  for (const Case& c : {Case{0, 0}, Case{1, 1}, Case{125, 125}, Case{126, 126}, Case{127, 126},
                        Case{65535, 126}, Case{65536, 127}}) {
    SCOPED_TRACE(c.size);
    const std::string payload = text_of_size(c.size);
    const std::string in = frame(WsOpcode::kText, payload);
    ASSERT_EQ(static_cast<uint8_t>(in[1]), 0x80 | c.len7);
    ASSERT_EQ(in.size(), ws_header_size(c.size, true) + c.size);
    expect_events(in, {message(payload)});
  }
}

TEST(WsDecoderTest, NonMinimalLengthsAreAccepted) {
  expect_events(raw_frame(0x81, 5, "Hello", 2), {message("Hello")});
  expect_events(raw_frame(0x81, 5, "Hello", 8), {message("Hello")});
  expect_events(raw_frame(0x82, 200, std::string(200, 'x'), 8),
                {message(std::string(200, 'x'), WsOpcode::kBinary)});
}

TEST(WsDecoderTest, BinaryMessagesWhenAllowed) {
  const std::string bytes("\x00\xff\xfe\x80 binary", 10);
  expect_events(frame(WsOpcode::kBinary, bytes), {message(bytes, WsOpcode::kBinary)});
  expect_events(cat({frame(WsOpcode::kBinary, bytes.substr(0, 3), false),
                     frame(WsOpcode::kContinuation, bytes.substr(3))}),
                {message(bytes, WsOpcode::kBinary)});
}

TEST(WsDecoderTest, UnmaskedFramesWhenMaskIsNotRequired) {
  std::string in;
  ws_append_frame(in, WsOpcode::kText, "plain");
  expect_events(in, {message("plain")}, limits_with(100, false));
  expect_events(frame(WsOpcode::kText, "masked"), {message("masked")}, limits_with(100, false));
}

TEST(WsDecoderTest, SeveralFramesInOneBuffer) {
  expect_events(cat({frame(WsOpcode::kText, "one"), frame(WsOpcode::kPing, "p"),
                     frame(WsOpcode::kText, ""), frame(WsOpcode::kText, "two"),
                     frame(WsOpcode::kClose, ws_close_payload(1000, "bye")),
                     frame(WsOpcode::kText, "after close is never read")}),
                {message("one"), ping("p"), message(""), message("two"), closed(1000, "bye")});
}

TEST(WsDecoderTest, SingleFrameIsDecodedInPlace) {
  std::string in = frame(WsOpcode::kText, "zero copy");
  WsDecoder d;
  const WsDecoder::Result r = d.decode(span_of(in));
  ASSERT_EQ(r.event.kind, WsEventKind::kMessage);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(reinterpret_cast<const char*>(r.event.payload.data()), in.data() + 6);
  EXPECT_EQ(in.substr(6), "zero copy");  // unmasked in place
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(WsDecoderTest, FragmentsAreAbsorbedAndReassembled) {
  const std::string first = frame(WsOpcode::kText, "Hel", false);
  std::string in = cat({first, frame(WsOpcode::kContinuation, "lo")});
  WsDecoder d;
  std::span<uint8_t> head = span_of(in).first(first.size() + 3);  // the second frame is partial
  WsDecoder::Result r = d.decode(head);
  EXPECT_EQ(r.event.kind, WsEventKind::kNeedMore);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(d.buffered(), 3u);

  r = d.decode(span_of(in).subspan(first.size()));
  ASSERT_EQ(r.event.kind, WsEventKind::kMessage);
  EXPECT_EQ(r.consumed, in.size() - first.size());
  EXPECT_EQ(copy_of(r.event), message("Hello"));
  const auto* p = reinterpret_cast<const char*>(r.event.payload.data());
  EXPECT_TRUE(p < in.data() || p >= in.data() + in.size());  // assembled in the decoder

  std::string next = frame(WsOpcode::kText, "x");
  r = d.decode(span_of(next));
  EXPECT_EQ(copy_of(r.event), message("x"));
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(WsDecoderTest, ControlFramesBetweenFragments) {
  expect_events(cat({frame(WsOpcode::kText, "Hel", false), frame(WsOpcode::kPing, "p1"),
                     frame(WsOpcode::kContinuation, "lo w", false), frame(WsOpcode::kPong, ""),
                     frame(WsOpcode::kContinuation, "", false), frame(WsOpcode::kPing, ""),
                     frame(WsOpcode::kContinuation, "\xc3\xb6rld")}),
                {ping("p1"), pong(""), ping(""), message("Hello w\xc3\xb6rld")});
  // A control frame leaves the message in progress untouched.
  std::string in = cat({frame(WsOpcode::kText, "abc", false), frame(WsOpcode::kPing, "x")});
  WsDecoder d;
  const WsDecoder::Result r = d.decode(span_of(in));
  EXPECT_EQ(r.event.kind, WsEventKind::kPing);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(d.buffered(), 3u);
}

TEST(WsDecoderTest, Utf8SplitAcrossFragments) {
  // U+20AC in three fragments, U+1F600 in four with a ping in the middle.
  expect_events(cat({frame(WsOpcode::kText, "\xe2", false),
                     frame(WsOpcode::kContinuation, "\x82", false),
                     frame(WsOpcode::kContinuation, "\xac")}),
                {message("\xe2\x82\xac")});
  expect_events(cat({frame(WsOpcode::kText, "a\xf0", false),
                     frame(WsOpcode::kContinuation, "\x9f", false), frame(WsOpcode::kPing, "!"),
                     frame(WsOpcode::kContinuation, "\x98", false),
                     frame(WsOpcode::kContinuation, "\x80z")}),
                {ping("!"), message("a\xf0\x9f\x98\x80z")});
}

TEST(WsDecoderTest, CloseFrames) {
  expect_events(frame(WsOpcode::kClose, ""), {closed(ws_close::kNoStatus)});
  expect_events(frame(WsOpcode::kClose, ws_close_payload(1001, "going away \xe2\x82\xac")),
                {closed(1001, "going away \xe2\x82\xac")});
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                        3000, 3999, 4000, 4999}) {
    SCOPED_TRACE(code);
    expect_events(frame(WsOpcode::kClose, ws_close_payload(code)), {closed(code)});
  }
}

TEST(WsDecoderTest, MessageOfExactlyMaxMessageIsAccepted) {
  const std::string payload = text_of_size(1000);
  expect_events(frame(WsOpcode::kText, payload), {message(payload)}, limits_with(1000));
  expect_events(cat({frame(WsOpcode::kText, payload.substr(0, 600), false),
                     frame(WsOpcode::kPing, "p"),
                     frame(WsOpcode::kContinuation, payload.substr(600))}),
                {ping("p"), message(payload)}, limits_with(1000));
}

TEST(WsDecoderTest, DecoderIsFinishedAfterCloseOrError) {
  std::string in = frame(WsOpcode::kClose, "");
  WsDecoder d;
  EXPECT_EQ(d.decode(span_of(in)).event.kind, WsEventKind::kClose);
  std::string more = frame(WsOpcode::kText, "late");
  const WsDecoder::Result r = d.decode(span_of(more));
  EXPECT_EQ(r.event.kind, WsEventKind::kError);
  EXPECT_EQ(r.event.close_code, ws_close::kInternalError);
  EXPECT_EQ(r.consumed, 0u);
}

// ---- protocol errors -------------------------------------------------------------------------

struct ErrorCase {
  std::string name;
  std::string input;
  uint16_t code;
  size_t shown_after;  // the error must be reported once this many bytes are present
  WsLimits limits = {};
};

void expect_error(const ErrorCase& c) {
  SCOPED_TRACE(c.name);
  ASSERT_LE(c.shown_after, c.input.size());
  expect_events(c.input, {error(c.code)}, c.limits);
  const Decoded early = decode_chunks(std::string_view(c.input).substr(0, c.shown_after), {}, c.limits);
  EXPECT_EQ(early.events, std::vector<Ev>{error(c.code)}) << "after " << c.shown_after << " bytes";
  if (c.shown_after > 0) {
    const Decoded before = decode_chunks(std::string_view(c.input).substr(0, c.shown_after - 1), {}, c.limits);
    EXPECT_TRUE(before.events.empty()) << "reported before the bytes that show it";
  }
}

TEST(WsDecoderErrorTest, HeaderViolations) {
  using ws_close::kProtocolError;
  const std::string unmasked_text = raw_frame(0x81, 5, "Hello", -1, false);
  std::vector<ErrorCase> cases = {
      {"unmasked client frame", unmasked_text, kProtocolError, 2},
      {"unmasked close", raw_frame(0x88, 0, "", -1, false), kProtocolError, 2},
      {"rsv1", raw_frame(0xc1, 1, "a"), kProtocolError, 1},
      {"rsv2", raw_frame(0xa1, 1, "a"), kProtocolError, 1},
      {"rsv3", raw_frame(0x91, 1, "a"), kProtocolError, 1},
      {"rsv on a control frame", raw_frame(0xc9, 0, ""), kProtocolError, 1},
      {"64-bit length with the top bit", raw_frame(0x82, 1ull << 63, "", 8), kProtocolError, 10},
      {"64-bit length all ones", raw_frame(0x82, ~0ull, "", 8), kProtocolError, 10},
      {"ping of 126 bytes", raw_frame(0x89, 126, std::string(126, 'p')), kProtocolError, 2},
      {"close of 126 bytes", raw_frame(0x88, 126, std::string(126, 'c')), kProtocolError, 2},
      {"pong with a 64-bit length", raw_frame(0x8a, 3, "abc", 8), kProtocolError, 2},
      {"fragmented ping", raw_frame(0x09, 1, "p"), kProtocolError, 1},
      {"fragmented close", raw_frame(0x08, 0, ""), kProtocolError, 1},
      {"continuation without a message", frame(WsOpcode::kContinuation, "x"), kProtocolError, 1},
      {"non-final continuation without a message",
       frame(WsOpcode::kContinuation, "x", false), kProtocolError, 1},
  };
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    cases.push_back({"reserved opcode " + std::to_string(op),
                     raw_frame(static_cast<uint8_t>(0x80 | op), 1, "a"), kProtocolError, 1});
  }
  const std::string first = frame(WsOpcode::kText, "a", false);
  cases.push_back({"text inside a fragmented message", first + frame(WsOpcode::kText, "b"),
                   kProtocolError, first.size() + 1});
  cases.push_back({"binary inside a fragmented message", first + frame(WsOpcode::kBinary, "b"),
                   kProtocolError, first.size() + 1});
  for (const ErrorCase& c : cases) expect_error(c);
}

TEST(WsDecoderErrorTest, BinaryRefusedWhenNotAllowed) {
  const WsLimits text_only = limits_with(65536, true, false);
  expect_error({"binary", frame(WsOpcode::kBinary, "bin"), ws_close::kUnsupportedData, 1,
                text_only});
  expect_error({"fragmented binary", frame(WsOpcode::kBinary, "bin", false) + "garbage",
                ws_close::kUnsupportedData, 1, text_only});
  expect_events(frame(WsOpcode::kText, "text is fine"), {message("text is fine")}, text_only);
}

TEST(WsDecoderErrorTest, TooBigIsReportedAtTheHeader) {
  using ws_close::kTooBig;
  const std::string over = text_of_size(1001);
  const WsLimits small = limits_with(1000);
  expect_error({"single frame", frame(WsOpcode::kText, over), kTooBig, 4, small});
  expect_error({"binary frame", frame(WsOpcode::kBinary, over), kTooBig, 4, small});
  const std::string first = frame(WsOpcode::kText, over.substr(0, 600), false);
  const std::string ping = frame(WsOpcode::kPing, "p");
  expect_error({"second fragment",
                first + frame(WsOpcode::kContinuation, over.substr(600)), kTooBig,
                first.size() + 4, small});
  // The ping in between is delivered; the error comes at the next fragment's header.
  const std::string in = first + ping + frame(WsOpcode::kContinuation, over.substr(600));
  expect_events(in, {Ev{WsEventKind::kPing, {}, "p", 0}, error(kTooBig)}, small);

  // The default limit: 65536 bytes in the 64-bit form, declared without any payload sent.
  const std::string header = raw_frame(0x81, 65537, "", 8);
  const Decoded r = decode_chunks(header.substr(0, 10), {}, WsLimits{});
  EXPECT_EQ(r.events, std::vector<Ev>{error(kTooBig)});
  expect_error({"65537 bytes", frame(WsOpcode::kText, text_of_size(65537)), kTooBig, 10});
}

TEST(WsDecoderErrorTest, InvalidUtf8) {
  using ws_close::kInvalidPayload;
  const std::string bad = frame(WsOpcode::kText, "ok \xed\xa0\x80");
  expect_error({"single frame", bad, kInvalidPayload, bad.size()});
  expect_error({"overlong", frame(WsOpcode::kText, "\xc0\xaf"), kInvalidPayload, 8});

  // Fail fast: the fragment that breaks the text is the error, not the final one.
  const std::string first = frame(WsOpcode::kText, "fine \xe2\x82", false);
  const std::string breaking = frame(WsOpcode::kContinuation, "\x41", false);
  expect_error({"fragment that breaks the text",
                first + breaking + frame(WsOpcode::kContinuation, "never reached"),
                kInvalidPayload, first.size() + breaking.size()});
  const std::string ok = frame(WsOpcode::kText, "ok", false);
  const std::string surrogate = frame(WsOpcode::kContinuation, "\xed\xa0\x80 and more", false);
  expect_error({"surrogate in a fragment", ok + surrogate + frame(WsOpcode::kContinuation, ""),
                kInvalidPayload, ok.size() + surrogate.size()});
  // Valid so far, but the message ends inside a character.
  const std::string truncated =
      frame(WsOpcode::kText, "\xf0\x9f", false) + frame(WsOpcode::kContinuation, "\x98");
  expect_error({"truncated at FIN", truncated, kInvalidPayload, truncated.size()});
}

TEST(WsDecoderErrorTest, BadClosePayloads) {
  using ws_close::kProtocolError;
  expect_error({"one-byte close", frame(WsOpcode::kClose, "\x03"), kProtocolError, 7});
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    const std::string payload = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    const std::string in = frame(WsOpcode::kClose, payload + "reason");
    expect_error({"close code " + std::to_string(code), in, kProtocolError, in.size()});
  }
  const std::string bad_reason = frame(WsOpcode::kClose, ws_close_payload(1000, "\xff"));
  expect_error({"close reason", bad_reason, ws_close::kInvalidPayload, bad_reason.size()});
}

// ---- encoding --------------------------------------------------------------------------------

TEST(WsEncodeTest, HeaderSizes) {
  EXPECT_EQ(ws_header_size(0, false), 2u);
  EXPECT_EQ(ws_header_size(125, false), 2u);
  EXPECT_EQ(ws_header_size(126, false), 4u);
  EXPECT_EQ(ws_header_size(65535, false), 4u);
  EXPECT_EQ(ws_header_size(65536, false), 10u);
  EXPECT_EQ(ws_header_size(65536, true), 14u);
  EXPECT_EQ(ws_header_size(125, true), 6u);
  uint8_t out[kWsMaxHeaderSize];
  for (uint64_t len : {0ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 40}) {
    EXPECT_EQ(ws_write_header(out, WsOpcode::kBinary, true, len, nullptr),
              ws_header_size(len, false));
    EXPECT_EQ(ws_write_header(out, WsOpcode::kBinary, true, len, kMask), ws_header_size(len, true));
  }
}

TEST(WsEncodeTest, Rfc6455Examples) {
  std::string out;
  ws_append_frame(out, WsOpcode::kText, "Hello");
  EXPECT_EQ(out, "\x81\x05Hello");
  out.clear();
  ws_append_frame(out, WsOpcode::kText, "Hello", kMask);
  EXPECT_EQ(out, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
  out.clear();
  ws_append_frame(out, WsOpcode::kText, "Hel", nullptr, false);
  ws_append_frame(out, WsOpcode::kContinuation, "lo");
  EXPECT_EQ(out, "\x01\x03Hel\x80\x02lo");
  out.clear();
  ws_append_frame(out, WsOpcode::kBinary, std::string(256, 'b'));
  EXPECT_EQ(out.substr(0, 4), std::string("\x82\x7e\x01\x00", 4));
  EXPECT_EQ(out.size(), 4u + 256);
  out.clear();
  ws_append_frame(out, WsOpcode::kBinary, std::string(65536, 'b'));
  EXPECT_EQ(out.substr(0, 10), std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  EXPECT_EQ(out.size(), 10u + 65536);
}

TEST(WsEncodeTest, AppendKeepsWhatIsThere) {
  std::string out = "prefix";
  ws_append_frame(out, WsOpcode::kPong, "p");
  EXPECT_EQ(out, "prefix\x8a\x01p");
}

TEST(WsEncodeTest, MaskMatchesBytewiseXorAtAnyAlignment) {
  const uint8_t mask[4] = {0x01, 0x80, 0xff, 0x5a};
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len = 0; len < 40; ++len) {
      std::vector<uint8_t> buf(offset + len);
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 37 + 11);
      const std::vector<uint8_t> orig = buf;
      std::span<uint8_t> data(buf.data() + offset, len);
      ws_mask(data, mask);
      for (size_t i = 0; i < len; ++i) {
        ASSERT_EQ(data[i], orig[offset + i] ^ mask[i % 4]) << offset << "/" << len << "/" << i;
      }
      ws_mask(data, mask);
      ASSERT_EQ(buf, orig);
    }
  }
}

TEST(WsEncodeTest, ClosePayload) {
  EXPECT_EQ(ws_close_payload(0, "ignored"), "");
  EXPECT_EQ(ws_close_payload(1000), "\x03\xe8");
  EXPECT_EQ(ws_close_payload(1001, "bye"), "\x03\xe9" "bye");
  EXPECT_EQ(ws_close_payload(1008, std::string(200, 'r')).size(), kWsMaxControlPayload);
  // 122 ASCII bytes and a 3-byte character: the cut backs up to the character's start.
  const std::string reason = std::string(122, 'r') + "\xe2\x82\xac";
  const std::string p = ws_close_payload(1000, reason);
  EXPECT_EQ(p.size(), 2u + 122);
  EXPECT_TRUE(utf8_valid(std::string_view(p).substr(2)));
  EXPECT_EQ(ws_close_payload(1000, std::string(123, 'r')).size(), kWsMaxControlPayload);
}

TEST(WsEncodeTest, CloseCodeValidity) {
  for (uint32_t code = 0; code <= 0xffff; ++code) {
    const bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                      (code >= 3000 && code <= 4999);
    ASSERT_EQ(ws_close_code_valid(static_cast<uint16_t>(code)), want) << code;
  }
}

TEST(WsEncodeTest, EncodeDecodeRoundTrip) {
  const uint8_t masks[][4] = {{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {1, 2, 3, 4}};
  for (const auto& mask : masks) {
    for (size_t size : {0, 1, 3, 7, 8, 9, 15, 16, 17, 125, 126, 300}) {
      SCOPED_TRACE(size);
      const std::string text = text_of_size(size);
      std::string bytes(size, '\0');
      for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 7);
      std::string in;
      ws_append_frame(in, WsOpcode::kText, text, mask);
      ws_append_frame(in, WsOpcode::kBinary, bytes, mask);
      ws_append_frame(in, WsOpcode::kBinary, bytes.substr(0, size / 2), mask, false);
      ws_append_frame(in, WsOpcode::kPing, text.substr(0, 125), mask);
      ws_append_frame(in, WsOpcode::kContinuation, bytes.substr(size / 2), mask);
      ws_append_frame(in, WsOpcode::kClose, ws_close_payload(4000, "done"), mask);
      expect_events(in, {message(text), message(bytes, WsOpcode::kBinary),
                         ping(text.substr(0, 125)), message(bytes, WsOpcode::kBinary),
                         closed(4000, "done")});
    }
  }
}

}  // namespace
}  // namespace parley::net
