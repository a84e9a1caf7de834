// Client requests: the envelope every frame shares ({"op":…, "id":…}), decoded with simdjson
// On-Demand, and the replies every request may get (ok / error). The decoder is a pure function
// of its input; it keeps only a reusable parser and buffer between calls (one per shard).
// The typed bodies (Request, RequestLimits) live in request.h; their decode is the second
// CommandDecoder::decode overload, implemented in src/proto/request.cc.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::proto {

enum class Op : uint8_t {
  kUnknown,
  kRegister, kLogin, kPing, kLogout,
  kSend, kTyping, kAck, kRead, kHistory,
  kGroupCreate, kGroupAdd, kGroupRemove, kGroupLeave, kGroupMembers, kGroups,
  kOnline, kWatch, kUnwatch,
  kFriendRequest, kFriendAccept, kFriendRemove, kFriends,
};
Op op_from_name(std::string_view name);
std::string_view op_name(Op op);
// register, login and ping: the only ops a connection may use before it logs in.
bool allowed_before_login(Op op);

enum class ErrorCode : uint8_t {
  kBadRequest, kUnauthorized, kForbidden, kNotFound, kConflict,
  kTooLarge, kRateLimited, kUnavailable, kInternal,
};
std::string_view to_string(ErrorCode code);
int http_status(ErrorCode code);

// A request's `id`: a string of at most 64 bytes or an integer in 0..2^53, echoed in replies.
struct RequestId {
  enum class Kind : uint8_t { kNone, kString, kNumber };
  Kind kind = Kind::kNone;
  std::string text;     // kString: the id, unescaped
  uint64_t number = 0;  // kNumber
};
inline constexpr size_t kMaxIdBytes = 64;
inline constexpr uint64_t kMaxIdNumber = uint64_t{1} << 53;

struct Envelope {
  Op op = Op::kUnknown;
  std::string_view op_text;  // as sent (valid until the next decode)
  RequestId id;
};

struct Request;
struct RequestLimits;
struct BroadcastReq;

// Why a frame is not a usable request: reply with `code` (bad_request, or too_large for an
// over-long body or meta) and `message` (a static string naming the field). `id` is echoed when
// the frame had a well-formed one.
struct DecodeError {
  std::string_view message;
  RequestId id;
  ErrorCode code = ErrorCode::kBadRequest;
};

// The outcome of reading one JSON value in full (src/proto/json_check.h).
enum class JsonCheck : uint8_t {
  kOk,
  kInvalid,  // not valid JSON: the frame is refused
  kTooDeep,  // nested past the decoders' depth bound; left partly read, so refused too
};

class CommandDecoder {
 public:
  CommandDecoder() = default;
  CommandDecoder(const CommandDecoder&) = delete;
  CommandDecoder& operator=(const CommandDecoder&) = delete;

  // Decodes the envelope of one client frame. Returns true and fills `out`, or false and fills
  // `err`. Input that is not valid UTF-8, not JSON, not an object, has trailing content, lacks a
  // string `op`, names an unknown op, or has an `id` of the wrong form is an error.
  bool decode(std::string_view json, Envelope& out, DecodeError& err);

  // Decodes the envelope and, for register, login, send, typing, ack, read and history, the
  // typed body (request.h has the rules), in one pass over the fields. Other ops get a
  // monostate body; their fields are not looked at yet. Returns true and fills `out`, or false
  // and fills `err`; envelope errors take precedence over body errors. Strings in `out.env`
  // stay valid until the next decode; everything in `out.body` is owned.
  bool decode(std::string_view json, Request& out, DecodeError& err, const RequestLimits& limits);

  // The JSON body of POST /v1/broadcast (an object with `body` and optional `type`; no op).
  bool decode_broadcast(std::string_view json, BroadcastReq& out, DecodeError& err,
                        const RequestLimits& limits);

 private:
  // What the field loop learned about the envelope; checked by finish() when the object ends.
  struct EnvelopeFields {
    bool have_op = false;
    bool op_is_string = false;
    bool id_bad = false;
  };
  // Copies `json` into padded_ and starts iterating it as an object; false (err set) if it is
  // not one.
  bool start(std::string_view json, simdjson::ondemand::document& doc,
             simdjson::ondemand::object& obj, DecodeError& err);
  // The values of the `op` and `id` fields (the last occurrence of each wins), read in full.
  static JsonCheck read_op(simdjson::ondemand::value v, EnvelopeFields& f, Envelope& out);
  static JsonCheck read_id(simdjson::ondemand::value v, EnvelopeFields& f, Envelope& out);
  // The checks once every field was seen: no trailing content, a well-formed id, a known op.
  static bool finish(simdjson::ondemand::document& doc, const EnvelopeFields& f, Envelope& out,
                     DecodeError& err);

  simdjson::ondemand::parser parser_;
  std::string padded_;  // input copied here with SIMDJSON_PADDING spare bytes
};

// {"op":"ok","id":…} with nothing else; `extra` (already-serialized `,"k":v` pairs) may follow.
std::string reply_ok(const RequestId& id, std::string_view extra = {});
// {"op":"error","id":…,"code":CODE,"message":TEXT}
std::string reply_error(const RequestId& id, ErrorCode code, std::string_view message);
// {"op":"pong","id":…}
std::string reply_pong(const RequestId& id);

}  // namespace parley::proto
