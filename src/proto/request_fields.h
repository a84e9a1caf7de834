// The fields of a request frame as the decoder's single pass collects them, and the per-op step
// that checks them against the protocol's rules and builds the Request (request_build.cc).
// Internal to src/proto: request.cc fills a Fields, build_request_body reads it.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "parley/proto/request.h"

namespace parley::proto::detail {

// A field's state after the pass: not there, there with a usable value, or there but unusable.
enum class Slot : uint8_t { kAbsent, kOk, kBad };

struct Str {
  Slot slot = Slot::kAbsent;
  std::string_view text;  // unescaped, in the parser's string buffer (valid during the decode)
};

struct Num {
  Slot slot = Slot::kAbsent;
  uint64_t value = 0;
};

// A list of names (`members`, `users`): kOk only for an array of at most kMaxListNames valid
// names, deduplicated (the first occurrence of each kept, in order).
struct Names {
  Slot slot = Slot::kAbsent;
  bool too_many = false;               // kBad because the array is longer than kMaxListNames
  std::vector<std::string_view> list;  // unescaped, in the parser's string buffer
};

// Everything the pass collected. Later occurrences of a key overwrite earlier ones.
struct Fields {
  Str user, password, token, device, to, peer, group, cid, type, body;
  Str from, owner;  // HTTP API only (send's sender, group_create's owner, given with the api key)
  Num seq, before, limit;
  Names members, users;
  // `after` is an object for login and a string (a name cursor) for online: a string value fills
  // after_text and makes `after` bad, any other value does the opposite.
  Slot after = Slot::kAbsent;
  std::vector<std::pair<Target, uint64_t>> after_entries;
  Str after_text;
  Slot meta = Slot::kAbsent;   // kBad: nested deeper than kMaxMetaDepth
  std::string_view meta_text;  // raw JSON, in the padded input
};

inline bool fail(DecodeError& err, std::string_view message, ErrorCode code = ErrorCode::kBadRequest) {
  err.message = message;
  err.code = code;
  return false;
}

// The op's fields, checked and built into out's body (out.env.op says which op).
bool build_request_body(Fields& f, const RequestLimits& limits, Request& out, DecodeError& err);

}  // namespace parley::proto::detail
