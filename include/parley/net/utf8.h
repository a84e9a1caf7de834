// UTF-8 validation (RFC 3629): no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF. Used for WebSocket text messages and close reasons (RFC 6455 8.1: invalid -> 1007).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace parley::net {

// True when all of `s` is valid UTF-8. SIMD-accelerated (simdjson); any thread, no allocation.
bool utf8_valid(std::string_view s);

// Validates UTF-8 that arrives in pieces (the fragments of a WebSocket message); a code point
// may be split across pieces. Fail-fast: feed() reports the first byte that cannot continue any
// valid sequence, without waiting for the end of the text. A plain value; one owner at a time.
class Utf8Validator {
 public:
  // Returns false as soon as the bytes fed since the last reset() cannot be the prefix of valid
  // UTF-8. Once false, it stays false (every later feed() returns false) until reset().
  bool feed(std::span<const uint8_t> bytes);
  // True when everything fed so far is valid and does not end inside a code point, i.e. the
  // text may end here.
  bool complete() const { return state_ == kAccept; }
  // Forgets everything fed; the validator is as new.
  void reset() { state_ = kAccept; }

 private:
  static constexpr uint32_t kAccept = 0;
  uint32_t state_ = kAccept;  // a DFA state (see utf8.cc); kAccept between code points
};

}  // namespace parley::net
