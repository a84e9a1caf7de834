// Server-to-client push frames (msg, receipt, typing, kicked), written with JsonWriter. Pure
// functions of their arguments; callable from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/proto/request.h"

namespace parley::proto {

// One message as pushed and as stored. Views: the caller keeps the bytes alive for the call.
struct MsgView {
  std::string_view from;
  Target::Kind kind;  // kUser: `to` names a user; kGroup: `group` names a group
  std::string_view to_or_group;
  uint64_t seq;
  uint64_t mid;  // written as a decimal string
  int64_t ts;    // ms since the epoch
  std::string_view cid;
  MsgType type;
  std::string_view body;
  std::string_view meta;  // raw JSON, written verbatim; empty = omitted
};

// {"op":"msg","from":…,"to":…|"group":…,"seq":…,"mid":"…","ts":…,"cid":…,"type":…,"body":…,
//  "meta":…}
std::string encode_msg(const MsgView& m);

// Appends the history entry for a stored msg frame: the same object without its leading
// "op":"msg" member. Pure string surgery on what encode_msg writes; false (nothing appended) for
// anything else.
bool msg_to_history_entry(std::string_view frame, std::string& out_appended);

// The top-level `seq`, `mid` and `ts` of a frame written by encode_msg; false if it has none.
// String search, not a JSON parse: for frames this server wrote (e.g. read back from the store).
bool parse_msg_seq(std::string_view frame, uint64_t& seq);
bool parse_msg_mid(std::string_view frame, uint64_t& mid);
bool parse_msg_ts(std::string_view frame, int64_t& ts);

// {"op":"receipt","peer"|"group":…,"user":…,"kind":"delivered"|"read","seq":…}
std::string encode_receipt(std::string_view peer, bool group, std::string_view user, bool read,
                           uint64_t seq);

// {"op":"typing","from":…,"to"|"group":…}
std::string encode_typing(std::string_view from, Target::Kind kind, std::string_view to_or_group);

// {"op":"kicked","reason":…}
std::string encode_kicked(std::string_view reason);

}  // namespace parley::proto
