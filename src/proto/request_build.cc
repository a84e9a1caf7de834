// The per-op step of request decoding: the fields one pass over the frame collected
// (request_fields.h) are checked against the protocol's rules and built into the Request body.
#include <algorithm>
#include <string>
#include <utility>

#include "request_fields.h"

namespace parley::proto::detail {
namespace {

bool length_in(std::string_view s, size_t min, size_t max) {
  return s.size() >= min && s.size() <= max;
}

// send, typing, ack, read, history: exactly one of to / peer / group, holding a valid name.
bool build_target(const Fields& f, Target& t, DecodeError& err) {
  int given = (f.to.slot != Slot::kAbsent) + (f.peer.slot != Slot::kAbsent) +
              (f.group.slot != Slot::kAbsent);
  if (given == 0) return fail(err, "missing target: give to (or peer) or group");
  if (given > 1) return fail(err, "give only one of to, peer and group");
  if (f.group.slot != Slot::kAbsent) {
    if (f.group.slot != Slot::kOk || !valid_name(f.group.text)) {
      return fail(err, "group must be a group name (1-32 of A-Z a-z 0-9 _ . -)");
    }
    t = {Target::Kind::kGroup, std::string(f.group.text)};
    return true;
  }
  const Str& user = f.to.slot != Slot::kAbsent ? f.to : f.peer;
  if (user.slot != Slot::kOk || !valid_name(user.text)) {
    return fail(err, f.to.slot != Slot::kAbsent
                         ? "to must be a user name (1-32 of A-Z a-z 0-9 _ . -)"
                         : "peer must be a user name (1-32 of A-Z a-z 0-9 _ . -)");
  }
  t = {Target::Kind::kUser, std::string(user.text)};
  return true;
}

bool build_register(const Fields& f, Request& out, DecodeError& err) {
  if (f.user.slot != Slot::kOk || !valid_name(f.user.text)) {
    return fail(err, "user must be a user name (1-32 of A-Z a-z 0-9 _ . -)");
  }
  if (f.password.slot != Slot::kOk ||
      !length_in(f.password.text, kMinPasswordBytes, kMaxPasswordBytes)) {
    return fail(err, "password must be a string of 6-256 bytes");
  }
  out.body = RegisterReq{std::string(f.user.text), std::string(f.password.text)};
  return true;
}

bool build_login(Fields& f, Request& out, DecodeError& err) {
  bool by_password = f.password.slot != Slot::kAbsent;
  bool by_token = f.token.slot != Slot::kAbsent;
  if (by_password && by_token) return fail(err, "give password or token, not both");
  if (!by_password && !by_token) return fail(err, "login needs a password or a token");
  LoginReq req;
  if (by_password) {
    if (f.password.slot != Slot::kOk || f.password.text.empty()) {
      return fail(err, "password must be a non-empty string");
    }
    if (f.user.slot == Slot::kAbsent) return fail(err, "user is required with password");
    req.password.assign(f.password.text);
  } else {
    if (f.token.slot != Slot::kOk || f.token.text.empty()) {
      return fail(err, "token must be a non-empty string");
    }
    req.token.assign(f.token.text);
  }
  if (f.user.slot != Slot::kAbsent) {
    if (f.user.slot != Slot::kOk || !valid_name(f.user.text)) {
      return fail(err, "user must be a user name (1-32 of A-Z a-z 0-9 _ . -)");
    }
    req.user.assign(f.user.text);
  }
  if (f.device.slot != Slot::kAbsent) {
    if (f.device.slot != Slot::kOk || !length_in(f.device.text, 1, kMaxDeviceBytes)) {
      return fail(err, "device must be a string of 1-64 bytes");
    }
    req.device.assign(f.device.text);
  }
  if (f.after == Slot::kBad) {
    return fail(err, "after must be an object of name: non-negative integer");
  }
  req.after = std::move(f.after_entries);
  out.body = std::move(req);
  return true;
}

// A name field that may be absent; `message` must be a literal (DecodeError keeps a view).
bool optional_name(const Str& field, std::string& out, DecodeError& err, std::string_view message) {
  if (field.slot == Slot::kAbsent) return true;
  if (field.slot != Slot::kOk || !valid_name(field.text)) return fail(err, message);
  out.assign(field.text);
  return true;
}

bool build_send(const Fields& f, const RequestLimits& limits, Request& out, DecodeError& err) {
  SendReq req;
  if (!build_target(f, req.target, err)) return false;
  if (f.cid.slot != Slot::kOk || !length_in(f.cid.text, 1, kMaxCidBytes)) {
    return fail(err, "cid must be a string of 1-64 bytes");
  }
  if (f.type.slot != Slot::kAbsent) {
    if (f.type.slot == Slot::kOk && f.type.text == "system") {
      return fail(err, "type system is reserved for the server");
    }
    if (f.type.slot != Slot::kOk || !parse_client_msg_type(f.type.text, req.type)) {
      return fail(err, "type must be text, image, file or custom");
    }
  }
  bool body_optional = req.type == MsgType::kImage || req.type == MsgType::kFile;
  if (f.body.slot == Slot::kBad) return fail(err, "body must be a string");
  if (f.body.text.size() > limits.max_body) {
    return fail(err, "body is longer than max_body", ErrorCode::kTooLarge);
  }
  if (f.body.text.empty() && !body_optional) {
    return fail(err, "body must be a non-empty string for types text and custom");
  }
  if (f.meta == Slot::kBad) return fail(err, "meta is nested too deeply");
  if (f.meta_text.size() > limits.max_meta) {
    return fail(err, "meta is longer than max_meta", ErrorCode::kTooLarge);
  }
  if (!optional_name(f.from, req.from, err, "from must be a user name")) return false;
  req.cid.assign(f.cid.text);
  req.body.assign(f.body.text);
  req.meta.assign(f.meta_text);
  out.body = std::move(req);
  return true;
}

bool build_typing(const Fields& f, Request& out, DecodeError& err) {
  TypingReq req;
  if (!build_target(f, req.target, err)) return false;
  out.body = std::move(req);
  return true;
}

bool build_cursor(const Fields& f, Request& out, DecodeError& err) {
  CursorReq req;
  if (!build_target(f, req.target, err)) return false;
  if (f.seq.slot != Slot::kOk) return fail(err, "seq must be a non-negative integer");
  req.seq = f.seq.value;
  out.body = std::move(req);
  return true;
}

bool build_history(const Fields& f, Request& out, DecodeError& err) {
  HistoryReq req;
  if (!build_target(f, req.target, err)) return false;
  if (f.before.slot == Slot::kBad) return fail(err, "before must be a non-negative integer");
  if (f.limit.slot == Slot::kBad) return fail(err, "limit must be a non-negative integer");
  req.before = f.before.value;
  if (f.limit.slot == Slot::kOk) {
    req.limit = static_cast<uint32_t>(std::clamp<uint64_t>(f.limit.value, 1, kMaxHistoryLimit));
  }
  out.body = std::move(req);
  return true;
}

constexpr uint32_t kMaxOnlineLimit = 1000;  // online's limit is clamped to 1..this
static_assert(kMaxListNames == 1000, "the messages below name the limit");

bool build_group_name(const Fields& f, GroupReq& req, DecodeError& err) {
  if (f.group.slot != Slot::kOk || !valid_name(f.group.text)) {
    return fail(err, "group must be a group name (1-32 of A-Z a-z 0-9 _ . -)");
  }
  req.group.assign(f.group.text);
  return optional_name(f.owner, req.owner, err, "owner must be a user name");
}

// The messages for one list field (DecodeError keeps a view, so they must be literals).
struct NamesMessages {
  std::string_view bad, too_many, empty;
};
constexpr NamesMessages kMembersMessages{
    "members must be an array of user names (1-32 of A-Z a-z 0-9 _ . -)",
    "members must list at most 1000 names",
    "members must be a non-empty array of user names (1-32 of A-Z a-z 0-9 _ . -)"};
constexpr NamesMessages kUsersMessages{
    "users must be an array of user names (1-32 of A-Z a-z 0-9 _ . -)",
    "users must list at most 1000 names",
    "users must be a non-empty array of user names (1-32 of A-Z a-z 0-9 _ . -)"};

// `members` / `users`. An absent list is refused only when `required`, which also refuses an
// empty one.
bool build_names(const Names& n, const NamesMessages& messages, bool required,
                 std::vector<std::string>& out, DecodeError& err) {
  if (n.slot == Slot::kBad) return fail(err, n.too_many ? messages.too_many : messages.bad);
  if (required && n.list.empty()) return fail(err, messages.empty);
  out.assign(n.list.begin(), n.list.end());
  return true;
}

// group_create (members optional), group_add / group_remove (members required), group_leave /
// group_members (group only; `members` is then an unknown field).
bool build_group(const Fields& f, Request& out, DecodeError& err) {
  GroupReq req;
  if (!build_group_name(f, req, err)) return false;
  switch (out.env.op) {
    case Op::kGroupCreate:
      if (!build_names(f.members, kMembersMessages, false, req.members, err)) return false;
      break;
    case Op::kGroupAdd:
    case Op::kGroupRemove:
      if (!build_names(f.members, kMembersMessages, true, req.members, err)) return false;
      break;
    default:
      break;
  }
  out.body = std::move(req);
  return true;
}

bool build_online(const Fields& f, Request& out, DecodeError& err) {
  OnlineReq req;
  if (f.after_text.slot == Slot::kBad || f.after_text.text.size() > kMaxNameBytes) {
    return fail(err, "after must be a string of at most 32 bytes");
  }
  if (f.limit.slot == Slot::kBad) return fail(err, "limit must be a non-negative integer");
  req.after.assign(f.after_text.text);
  if (f.limit.slot == Slot::kOk) {
    req.limit = static_cast<uint32_t>(std::clamp<uint64_t>(f.limit.value, 1, kMaxOnlineLimit));
  }
  out.body = std::move(req);
  return true;
}

bool build_users(const Fields& f, Request& out, DecodeError& err) {
  UsersReq req;
  if (!build_names(f.users, kUsersMessages, true, req.users, err)) return false;
  out.body = std::move(req);
  return true;
}

bool build_user(const Fields& f, Request& out, DecodeError& err) {
  if (f.user.slot != Slot::kOk || !valid_name(f.user.text)) {
    return fail(err, "user must be a user name (1-32 of A-Z a-z 0-9 _ . -)");
  }
  out.body = UserReq{std::string(f.user.text)};
  return true;
}

}  // namespace

bool build_request_body(Fields& f, const RequestLimits& limits, Request& out, DecodeError& err) {
  switch (out.env.op) {
    case Op::kRegister:
      return build_register(f, out, err);
    case Op::kLogin:
      return build_login(f, out, err);
    case Op::kSend:
      return build_send(f, limits, out, err);
    case Op::kTyping:
      return build_typing(f, out, err);
    case Op::kAck:
    case Op::kRead:
      return build_cursor(f, out, err);
    case Op::kHistory:
      return build_history(f, out, err);
    case Op::kGroupCreate:
    case Op::kGroupAdd:
    case Op::kGroupRemove:
    case Op::kGroupLeave:
    case Op::kGroupMembers:
      return build_group(f, out, err);
    case Op::kOnline:
      return build_online(f, out, err);
    case Op::kWatch:
    case Op::kUnwatch:
      return build_users(f, out, err);
    case Op::kFriendRequest:
    case Op::kFriendAccept:
    case Op::kFriendRemove:
      return build_user(f, out, err);
    default:
      return true;  // ping, logout, groups, friends: no fields
  }
}

}  // namespace parley::proto::detail
