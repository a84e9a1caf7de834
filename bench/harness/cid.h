// The cid of every bench message: "S:N:T" (sender index, the sender's number for the message in
// that conversation, send time in ns), so that a receiver can verify each sender's stream and
// time the delivery without any state shared with the sender.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parley::bench {

// Longest cid format_cid writes, plus room.
inline constexpr size_t kMaxCid = 72;

// `out` holds kMaxCid bytes. Mixed's
// group messages are numbered apart from its 1:1 ones and carry a 'g' first, so that the two
// never share a cid (dedupe is keyed on the sender and the cid alone).
inline size_t format_cid(char* out, bool group, uint32_t sender, uint64_t n, uint64_t t) {
  char* p = out;
  if (group) *p++ = 'g';
  p = std::to_chars(p, out + 25, sender).ptr;
  *p++ = ':';
  p = std::to_chars(p, out + 47, n).ptr;
  *p++ = ':';
  p = std::to_chars(p, out + 69, t).ptr;
  return static_cast<size_t>(p - out);
}

inline bool parse_cid(std::string_view cid, uint64_t& sender, uint64_t& n, uint64_t& t) {
  const char* p = cid.data();
  const char* end = p + cid.size();
  if (p != end && *p == 'g') ++p;
  auto r = std::from_chars(p, end, sender);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ':') return false;
  r = std::from_chars(r.ptr + 1, end, n);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ':') return false;
  r = std::from_chars(r.ptr + 1, end, t);
  return r.ec == std::errc() && r.ptr == end;
}

}  // namespace parley::bench
