#include "parley/proto/command.h"

#include <array>
#include <cstring>

#include "json_check.h"
#include "parley/proto/json_writer.h"

namespace parley::proto {
namespace {

struct OpName {
  std::string_view name;
  Op op;
};

constexpr std::array kOps = {
    OpName{"register", Op::kRegister},         OpName{"login", Op::kLogin},
    OpName{"ping", Op::kPing},                 OpName{"logout", Op::kLogout},
    OpName{"send", Op::kSend},                 OpName{"typing", Op::kTyping},
    OpName{"ack", Op::kAck},                   OpName{"read", Op::kRead},
    OpName{"history", Op::kHistory},           OpName{"group_create", Op::kGroupCreate},
    OpName{"group_add", Op::kGroupAdd},        OpName{"group_remove", Op::kGroupRemove},
    OpName{"group_leave", Op::kGroupLeave},    OpName{"group_members", Op::kGroupMembers},
    OpName{"groups", Op::kGroups},             OpName{"online", Op::kOnline},
    OpName{"watch", Op::kWatch},               OpName{"unwatch", Op::kUnwatch},
    OpName{"friend_request", Op::kFriendRequest}, OpName{"friend_accept", Op::kFriendAccept},
    OpName{"friend_remove", Op::kFriendRemove}, OpName{"friends", Op::kFriends},
};

// Reads an `id` value in full. `valid` tells whether it has a form the protocol allows.
JsonCheck parse_id(simdjson::ondemand::value v, RequestId& id, bool& valid) {
  valid = false;
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return JsonCheck::kInvalid;
  if (type == simdjson::ondemand::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return JsonCheck::kInvalid;
    if (s.size() > kMaxIdBytes) return JsonCheck::kOk;
    id.kind = RequestId::Kind::kString;
    id.text.assign(s);
    valid = true;
    return JsonCheck::kOk;
  }
  uint64_t n;
  // get_uint64 refuses negatives, fractions and exponents that do not give an integer, and
  // leaves them (and values of other types) unread.
  if (type != simdjson::ondemand::json_type::number || v.get_uint64().get(n)) {
    return check_value(v);
  }
  if (n <= kMaxIdNumber) {
    id.kind = RequestId::Kind::kNumber;
    id.number = n;
    valid = true;
  }
  return JsonCheck::kOk;
}

void write_id(JsonWriter& w, const RequestId& id) {
  switch (id.kind) {
    case RequestId::Kind::kNone:
      break;
    case RequestId::Kind::kString:
      w.field("id", std::string_view(id.text));
      break;
    case RequestId::Kind::kNumber:
      w.field("id", id.number);
      break;
  }
}

}  // namespace

Op op_from_name(std::string_view name) {
  for (const auto& o : kOps) {
    if (o.name == name) return o.op;
  }
  return Op::kUnknown;
}

std::string_view op_name(Op op) {
  for (const auto& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "unknown";
}

bool allowed_before_login(Op op) {
  return op == Op::kRegister || op == Op::kLogin || op == Op::kPing;
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest: return "bad_request";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest: return 400;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

bool CommandDecoder::start(std::string_view json, simdjson::ondemand::document& doc,
                           simdjson::ondemand::object& obj, DecodeError& err) {
  padded_.resize(json.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(padded_.data(), json.data(), json.size());
  if (parser_.iterate(padded_.data(), json.size(), padded_.size()).get(doc)) {
    err.message = "not valid JSON";
    return false;
  }
  if (doc.get_object().get(obj)) {
    err.message = "a request must be a JSON object";
    return false;
  }
  return true;
}

JsonCheck CommandDecoder::read_op(simdjson::ondemand::value v, EnvelopeFields& f,
                                  Envelope& out) {
  f.have_op = true;
  std::string_view op;
  auto error = v.get_string().get(op);
  f.op_is_string = !error;
  if (!error) {
    out.op_text = op;
    return JsonCheck::kOk;
  }
  return error == simdjson::INCORRECT_TYPE ? check_value(v) : JsonCheck::kInvalid;
}

JsonCheck CommandDecoder::read_id(simdjson::ondemand::value v, EnvelopeFields& f,
                                  Envelope& out) {
  RequestId id;
  bool valid;
  JsonCheck c = parse_id(v, id, valid);
  out.id = valid ? std::move(id) : RequestId{};
  f.id_bad = !valid;
  return c;
}

bool CommandDecoder::finish(simdjson::ondemand::document& doc, const EnvelopeFields& f,
                            Envelope& out, DecodeError& err) {
  if (!doc.is_alive()) {  // an unrecoverable error inside a value the loop read or skipped
    err.message = "not valid JSON";
    return false;
  }
  const char* trailing;
  if (!doc.current_location().get(trailing)) {
    err.message = "trailing content after the JSON object";
    return false;
  }
  if (f.id_bad) {
    err.message = "id must be a string of at most 64 bytes or an integer in 0..2^53";
    return false;
  }
  err.id = out.id;
  if (!f.have_op || !f.op_is_string) {
    err.message = "missing string field op";
    return false;
  }
  out.op = op_from_name(out.op_text);
  if (out.op == Op::kUnknown) {
    err.message = "unknown op";
    return false;
  }
  return true;
}

bool CommandDecoder::decode(std::string_view json, Envelope& out, DecodeError& err) {
  out = Envelope{};
  err = DecodeError{};
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (!start(json, doc, obj, err)) return false;
  EnvelopeFields f;
  for (auto result : obj) {
    simdjson::ondemand::field field;
    std::string_view key;
    simdjson::ondemand::json_type type;
    // A value must at least start like one for a failed read or a skip to stay in step.
    if (std::move(result).get(field) || field.unescaped_key().get(key) ||
        field.value().type().get(type)) {
      err.message = "not valid JSON";
      return false;
    }
    JsonCheck c;
    if (key == "op") {
      c = read_op(field.value(), f, out);
    } else if (key == "id") {
      c = read_id(field.value(), f, out);
    } else {
      c = check_value(field.value());
    }
    if (c != JsonCheck::kOk) {
      err.message = json_check_message(c);
      return false;
    }
  }
  return finish(doc, f, out, err);
}

std::string reply_ok(const RequestId& id, std::string_view extra) {
  std::string s;
  s.reserve(32 + extra.size());
  JsonWriter w(s);
  w.begin_object().field("op", "ok");
  write_id(w, id);
  s += extra;
  w.end_object();
  return s;
}

std::string reply_error(const RequestId& id, ErrorCode code, std::string_view message) {
  std::string s;
  JsonWriter w(s);
  w.begin_object().field("op", "error");
  write_id(w, id);
  w.field("code", to_string(code)).field("message", message).end_object();
  return s;
}

std::string reply_pong(const RequestId& id) {
  std::string s;
  JsonWriter w(s);
  w.begin_object().field("op", "pong");
  write_id(w, id);
  w.end_object();
  return s;
}

}  // namespace parley::proto
