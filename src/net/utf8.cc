#include "parley/net/utf8.h"

#include <simdjson.h>

#include <array>
#include <cstring>

namespace parley::net {

namespace {

// The DFA reads one byte at a time. Bytes fall into classes by the role they can play; states
// say what the next byte must be. The ranges after E0, ED, F0 and F4 are narrowed so that
// overlongs (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF
// (F4 90..BF) are rejected on their second byte.
enum Class : uint8_t {
  kAscii,    // 00..7F
  kCont8,    // 80..8F  continuation
  kCont9,    // 90..9F  continuation
  kContA,    // A0..BF  continuation
  kBad,      // C0, C1, F5..FF: never valid
  kLead2,    // C2..DF
  kLeadE0,   // E0: second byte A0..BF
  kLead3,    // E1..EC, EE, EF
  kLeadED,   // ED: second byte 80..9F
  kLeadF0,   // F0: second byte 90..BF
  kLead4,    // F1..F3
  kLeadF4,   // F4: second byte 80..8F
  kClasses,
};

enum State : uint8_t {
  kAccept,  // between code points
  kNeed1,   // one more continuation byte (any 80..BF)
  kNeed2,   // two more
  kNeed3,   // three more
  kAfterE0,
  kAfterED,
  kAfterF0,
  kAfterF4,
  kReject,  // sticky
  kStates,
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    if (b < 0x80) c[b] = kAscii;
    else if (b < 0x90) c[b] = kCont8;
    else if (b < 0xA0) c[b] = kCont9;
    else if (b < 0xC0) c[b] = kContA;
    else if (b < 0xC2) c[b] = kBad;
    else if (b < 0xE0) c[b] = kLead2;
    else if (b == 0xE0) c[b] = kLeadE0;
    else if (b == 0xED) c[b] = kLeadED;
    else if (b < 0xF0) c[b] = kLead3;
    else if (b == 0xF0) c[b] = kLeadF0;
    else if (b < 0xF4) c[b] = kLead4;
    else if (b == 0xF4) c[b] = kLeadF4;
    else c[b] = kBad;
  }
  return c;
}

using Transitions = std::array<std::array<uint8_t, kClasses>, kStates>;

constexpr Transitions make_transitions() {
  Transitions t{};
  for (auto& row : t) row.fill(kReject);
  t[kAccept][kAscii] = kAccept;
  t[kAccept][kLead2] = kNeed1;
  t[kAccept][kLeadE0] = kAfterE0;
  t[kAccept][kLead3] = kNeed2;
  t[kAccept][kLeadED] = kAfterED;
  t[kAccept][kLeadF0] = kAfterF0;
  t[kAccept][kLead4] = kNeed3;
  t[kAccept][kLeadF4] = kAfterF4;
  for (uint8_t cont : {kCont8, kCont9, kContA}) {
    t[kNeed1][cont] = kAccept;
    t[kNeed2][cont] = kNeed1;
    t[kNeed3][cont] = kNeed2;
  }
  t[kAfterE0][kContA] = kNeed1;
  t[kAfterED][kCont8] = kNeed1;
  t[kAfterED][kCont9] = kNeed1;
  t[kAfterF0][kCont9] = kNeed2;
  t[kAfterF0][kContA] = kNeed2;
  t[kAfterF4][kCont8] = kNeed2;
  return t;
}

constexpr std::array<uint8_t, 256> kClassOf = make_classes();
constexpr Transitions kNext = make_transitions();

// Skips whole 8-byte words of ASCII from `p`; returns how many bytes were skipped.
size_t skip_ascii_words(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    if (word & 0x8080808080808080ull) break;
  }
  return i;
}

}  // namespace

bool utf8_valid(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

bool Utf8Validator::feed(std::span<const uint8_t> bytes) {
  uint32_t state = state_;
  const uint8_t* p = bytes.data();
  const size_t n = bytes.size();
  for (size_t i = 0; i < n && state != kReject;) {
    if (state == kAccept) {
      i += skip_ascii_words(p + i, n - i);
      if (i == n) break;
    }
    state = kNext[state][kClassOf[p[i]]];
    ++i;
  }
  state_ = state;
  return state != kReject;
}

}  // namespace parley::net
