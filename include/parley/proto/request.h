// Typed client requests: the bodies of the ops the chat core handles, decoded together with the
// envelope in one pass over the frame by
//   CommandDecoder::decode(std::string_view json, Request&, DecodeError&, const RequestLimits&)
// (declared in command.h, implemented in src/proto/request.cc). Pure: no I/O, no chat state;
// whether a user, group or token exists is the chat core's question, not the decoder's.
//
// Rules, as in the protocol (violations: bad_request unless noted):
//   names     user and group names are 1-32 bytes of A-Z a-z 0-9 _ . -  (valid_name)
//   register  user, password (6-256 bytes)
//   login     password XOR token (both or neither: bad_request); user required with password and
//             checked when given with a token; password/token non-empty; device 1-64 bytes
//             (default "default"); after: an object of name -> non-negative integer, "#name"
//             for a group; keys that are not valid names are ignored, other values refused;
//             one entry per target (the last occurrence wins), sorted by (kind, name)
//   target    send/typing/ack/read/history: exactly one of `to` / `peer` (a user; both spellings
//             are accepted everywhere) or `group`
//   send      cid 1-64 bytes; type text (default), image, file or custom ("system" is the
//             server's); body a string of at most max_body bytes (too_large), non-empty for
//             text and custom, optional (empty) for image and file; meta any JSON value of at
//             most max_meta bytes of JSON text (too_large), nested at most kMaxMetaDepth deep,
//             kept verbatim (without surrounding whitespace); every scalar in it must parse
//             (numbers must fit a double)
//   ack/read  seq: a non-negative integer (required)
//   history   before (0 = not given) and limit: non-negative integers; limit defaults to 50
//             and is clamped to 1..200
//   lists     members / users: arrays of at most kMaxListNames valid names (counted as sent);
//             repeated names are dropped, the first occurrence of each kept in order
//   group_*   group (a valid name) required; members: optional for group_create (absent or [] =
//             none), required and non-empty for group_add / group_remove, not read otherwise
//   online    after: any string of at most 32 bytes (a cursor, "" = from the start); limit a
//             non-negative integer, default 100, clamped to 1..1000. (`after` is login's object
//             and online's string: each op refuses the other's type.)
//   watch     and unwatch: users required and non-empty
//   friend_*  friend_request / friend_accept / friend_remove: user (a valid name) required
//   groups, friends, ping, logout: no fields (body stays monostate)
// Unknown fields are ignored: skipped by simdjson, which checks only that their brackets nest
// (a mismatched bracket kind inside an ignored value may pass; `meta`, which is forwarded, is
// read in full). Malformed JSON in a field that is read: bad_request "not valid JSON", with no id.
// Duplicate keys: every occurrence is read and the last one wins, as for `op` and `id`; `to` and
// `peer` together count as two targets. Integers must be plain JSON integers that fit in 64 bits
// (no fraction, exponent or sign); anything else in an integer field is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "parley/proto/command.h"

namespace parley::proto {

inline constexpr size_t kMaxNameBytes = 32;
inline constexpr size_t kMinPasswordBytes = 6;
inline constexpr size_t kMaxPasswordBytes = 256;
inline constexpr size_t kMaxDeviceBytes = 64;
inline constexpr size_t kMaxCidBytes = 64;
inline constexpr uint32_t kDefaultHistoryLimit = 50;
inline constexpr uint32_t kMaxHistoryLimit = 200;
inline constexpr int kMaxMetaDepth = 64;  // nesting levels of arrays/objects inside `meta`

// 1-32 bytes of A-Z a-z 0-9 _ . -  (user and group names).
bool valid_name(std::string_view name);

// A conversation as a request names it: a user (`to` / `peer`) or a group (`group`).
struct Target {
  enum class Kind : uint8_t { kNone, kUser, kGroup };
  Kind kind = Kind::kNone;
  std::string name;

  friend bool operator==(const Target&, const Target&) = default;
};

enum class MsgType : uint8_t { kText, kImage, kFile, kCustom, kSystem };
std::string_view to_string(MsgType type);
// The types a client may send (text, image, file, custom); false for "system" and anything else.
bool parse_client_msg_type(std::string_view name, MsgType& type);

struct RegisterReq {
  std::string user, password;
};

struct LoginReq {
  std::string user;      // empty when logging in by token without one
  std::string password;  // exactly one of password / token is non-empty
  std::string token;
  std::string device = "default";
  std::vector<std::pair<Target, uint64_t>> after;  // "after":{"bob":5,"#team":40}
};

struct SendReq {
  Target target;
  std::string cid;
  MsgType type = MsgType::kText;
  std::string body;
  std::string meta;  // raw JSON text of `meta`, empty if absent
  std::string from;  // HTTP API only (POST /v1/messages): the sender; empty if absent
};

struct TypingReq {
  Target target;
};

// ack and read.
struct CursorReq {
  Target target;
  uint64_t seq = 0;
};

struct HistoryReq {
  Target target;
  uint64_t before = 0;                    // 0 = not given (from the head)
  uint32_t limit = kDefaultHistoryLimit;  // clamped to 1..kMaxHistoryLimit
};

// group_create, group_add, group_remove: `group` and `members` (names; create may omit it).
// group_leave, group_members: `group` only (members empty).
struct GroupReq {
  std::string group;
  std::vector<std::string> members;
  std::string owner;  // HTTP API only (POST /v1/groups with the api key); empty if absent
};
// online: `after` (exclusive, "" = from the start) and `limit` (default 100, clamped 1..1000).
struct OnlineReq {
  std::string after;
  uint32_t limit = 100;
};
// watch / unwatch: `users` (names, 1..1000 of them).
struct UsersReq {
  std::vector<std::string> users;
};
// friend_request, friend_accept, friend_remove: `user`.
struct UserReq {
  std::string user;
};
inline constexpr size_t kMaxListNames = 1000;  // members / users in one request

// The body of POST /v1/broadcast: {"body": string, "type": text|image|file|custom}. Decoded by
// CommandDecoder::decode_broadcast.
struct BroadcastReq {
  MsgType type = MsgType::kText;
  std::string body;
};

// Per-request size limits (config max_body, max_meta). Over them: too_large.
struct RequestLimits {
  size_t max_body = 16 * 1024;  // UTF-8 bytes of the unescaped body
  size_t max_meta = 4 * 1024;   // bytes of meta's JSON text, as sent
};

struct Request {
  Envelope env;  // op, op_text, id
  std::variant<std::monostate, RegisterReq, LoginReq, SendReq, TypingReq, CursorReq, HistoryReq,
               GroupReq, OnlineReq, UsersReq, UserReq>
      body;
};

}  // namespace parley::proto
