// Typed request decoding: one pass over the frame's fields (their order is arbitrary, so each
// known key's value is read into a Fields slot as it comes), then a per-op step that checks the
// slots against the protocol's rules and builds the Request body.
#include "parley/proto/request.h"

#include <algorithm>
#include <numeric>
#include <tuple>

#include "json_check.h"

namespace parley::proto {
namespace {

namespace od = simdjson::ondemand;

// The keys any of the decoded ops reads.
enum class Key : uint8_t {
  kOther,
  kOp,
  kId,
  kUser,
  kPassword,
  kToken,
  kDevice,
  kAfter,
  kTo,
  kPeer,
  kGroup,
  kCid,
  kType,
  kBody,
  kMeta,
  kSeq,
  kBefore,
  kLimit,
  kMembers,
  kUsers,
  kFrom,
  kOwner,
};

Key key_of(std::string_view k) {
  switch (k.size()) {
    case 2:
      if (k == "op") return Key::kOp;
      if (k == "id") return Key::kId;
      if (k == "to") return Key::kTo;
      break;
    case 3:
      if (k == "cid") return Key::kCid;
      if (k == "seq") return Key::kSeq;
      break;
    case 4:
      if (k == "body") return Key::kBody;
      if (k == "type") return Key::kType;
      if (k == "user") return Key::kUser;
      if (k == "peer") return Key::kPeer;
      if (k == "meta") return Key::kMeta;
      if (k == "from") return Key::kFrom;
      break;
    case 5:
      if (k == "group") return Key::kGroup;
      if (k == "token") return Key::kToken;
      if (k == "after") return Key::kAfter;
      if (k == "owner") return Key::kOwner;
      if (k == "limit") return Key::kLimit;
      if (k == "users") return Key::kUsers;
      break;
    case 6:
      if (k == "device") return Key::kDevice;
      if (k == "before") return Key::kBefore;
      break;
    case 7:
      if (k == "members") return Key::kMembers;
      break;
    case 8:
      if (k == "password") return Key::kPassword;
      break;
    default:
      break;
  }
  return Key::kOther;
}

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

// The readers below read their value in full (json_check.h says why) and return what that found:
// anything but kOk refuses the frame at once. A well-formed value of the wrong type marks the
// field bad.

// A string field.
JsonCheck read_string(od::value v, Str& s) {
  std::string_view text;
  auto error = v.get_string().get(text);
  if (!error) {
    s = {Slot::kOk, text};
    return JsonCheck::kOk;
  }
  s = {Slot::kBad, {}};
  // A failed get_string leaves a value of another type unread.
  return error == simdjson::INCORRECT_TYPE ? check_value(v) : JsonCheck::kInvalid;
}

// A non-negative integer that fits in 64 bits; get_uint64 leaves anything else unread.
JsonCheck read_uint(od::value v, Num& n) {
  uint64_t x;
  if (!v.get_uint64().get(x)) {
    n = {Slot::kOk, x};
    return JsonCheck::kOk;
  }
  n = {Slot::kBad, 0};
  return check_value(v);
}

// "after":{"bob":5,"#team":40}. Keys that are not valid (group) names are ignored; a value that is
// not a non-negative integer makes the whole field bad. Deduplicated: the last occurrence wins.
JsonCheck read_after(od::value v, Fields& f) {
  f.after = Slot::kBad;
  f.after_entries.clear();
  od::object obj;
  if (v.get_object().get(obj)) return check_value(v);  // not an object: bad
  bool usable = true;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    od::json_type type;
    if (std::move(result).get(field) || field.unescaped_key().get(key) ||
        field.value().type().get(type)) {
      return JsonCheck::kInvalid;
    }
    Target t;
    if (!key.empty() && key.front() == '#') {
      t.kind = Target::Kind::kGroup;
      key.remove_prefix(1);
    } else {
      t.kind = Target::Kind::kUser;
    }
    bool named = valid_name(key);
    uint64_t seq;
    if (named && !field.value().get_uint64().get(seq)) {
      if (usable) {
        t.name.assign(key);
        f.after_entries.emplace_back(std::move(t), seq);
      }
      continue;
    }
    // Ignored keys' values, and a named entry whose value is not a seq (which makes the whole
    // field bad), are still read to their end.
    if (auto c = check_value(field.value()); c != JsonCheck::kOk) return c;
    if (named) usable = false;
  }
  if (!usable) {
    f.after_entries.clear();
    return JsonCheck::kOk;
  }
  auto& v_entries = f.after_entries;
  std::stable_sort(v_entries.begin(), v_entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.kind, a.first.name) < std::tie(b.first.kind, b.first.name);
  });
  size_t kept = 0;
  for (size_t i = 0; i < v_entries.size(); ++i) {
    if (i + 1 < v_entries.size() && v_entries[i + 1].first == v_entries[i].first) continue;
    if (kept != i) v_entries[kept] = std::move(v_entries[i]);
    ++kept;
  }
  v_entries.erase(v_entries.begin() + static_cast<ptrdiff_t>(kept), v_entries.end());
  f.after = Slot::kOk;
  return JsonCheck::kOk;
}

// Removes repeated names, keeping the first occurrence of each in its place. O(n log n): lists
// may hold kMaxListNames names.
void drop_duplicates(std::vector<std::string_view>& names) {
  if (names.size() < 2) return;
  std::vector<uint32_t> order(names.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return names[a] < names[b]; });
  std::vector<bool> repeated(names.size(), false);
  for (size_t i = 1; i < order.size(); ++i) {
    if (names[order[i]] == names[order[i - 1]]) repeated[order[i]] = true;
  }
  size_t kept = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!repeated[i]) names[kept++] = names[i];
  }
  names.resize(kept);
}

// "members":["bob","carol"] / "users":[…]. An element that is not a valid name, or one past
// kMaxListNames, makes the field bad; the array is still read to its end (json_check.h says why;
// the fuzzer found `"users":["a b""x","id":"w","users":["bob"]}` accepted, its `id` and `users`
// read as fields of the frame, when the rest of such an array was skipped).
JsonCheck read_names(od::value v, Names& n) {
  n.slot = Slot::kBad;
  n.too_many = false;
  n.list.clear();
  od::array arr;
  if (v.get_array().get(arr)) return check_value(v);  // not an array: bad
  bool usable = true;
  for (auto result : arr) {
    od::value element;
    od::json_type type;
    if (std::move(result).get(element) || element.type().get(type)) return JsonCheck::kInvalid;
    // Every element is read in full, even after the list turned out unusable: skipping leaves
    // simdjson unable to tell a broken separator (`"a","p":W…`) from the array's end (found by
    // the fuzzer: such a frame was accepted as a ping).
    if (type != od::json_type::string) {
      if (auto c = check_value(element); c != JsonCheck::kOk) return c;
      usable = false;
      continue;
    }
    std::string_view name;
    if (element.get_string().get(name)) return JsonCheck::kInvalid;
    if (!usable) continue;
    if (!valid_name(name)) {
      usable = false;
    } else if (n.list.size() == kMaxListNames) {
      n.too_many = true;
      usable = false;
    } else {
      n.list.push_back(name);
    }
  }
  if (!usable) {
    n.list.clear();
    return JsonCheck::kOk;
  }
  drop_duplicates(n.list);
  n.slot = Slot::kOk;
  return JsonCheck::kOk;
}

// `after`, whose type depends on the op (which may not have been seen yet): a string is online's
// cursor, anything else is read as login's object.
JsonCheck read_after_field(od::value v, od::json_type type, Fields& f) {
  if (type == od::json_type::string) {
    f.after = Slot::kBad;
    f.after_entries.clear();
    return read_string(v, f.after_text);
  }
  f.after_text = {Slot::kBad, {}};
  return read_after(v, f);
}

bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// `meta`: read in full in place, then its text taken from the input: from its first byte to the next
// token (the iterator's position once the value is consumed), without trailing whitespace.
JsonCheck read_meta(od::value v, od::document& doc, Fields& f) {
  f.meta = Slot::kBad;
  f.meta_text = {};
  std::string_view first = v.raw_json_token();
  int levels;
  if (auto c = check_value(v, levels); c != JsonCheck::kOk) return c;
  const char* end;
  if (doc.current_location().get(end) || end < first.data()) return JsonCheck::kInvalid;
  if (levels > kMaxMetaDepth) return JsonCheck::kOk;  // bad: nested too deeply
  std::string_view text(first.data(), static_cast<size_t>(end - first.data()));
  while (!text.empty() && json_space(text.back())) text.remove_suffix(1);
  f.meta_text = text;
  f.meta = Slot::kOk;
  return JsonCheck::kOk;
}

bool fail(DecodeError& err, std::string_view message, ErrorCode code = ErrorCode::kBadRequest) {
  err.message = message;
  err.code = code;
  return false;
}

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

bool build_body(Fields& f, const RequestLimits& limits, Request& out, DecodeError& err) {
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

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view to_string(MsgType type) {
  switch (type) {
    case MsgType::kText:
      return "text";
    case MsgType::kImage:
      return "image";
    case MsgType::kFile:
      return "file";
    case MsgType::kCustom:
      return "custom";
    case MsgType::kSystem:
      return "system";
  }
  return "text";
}

bool parse_client_msg_type(std::string_view name, MsgType& type) {
  for (MsgType t : {MsgType::kText, MsgType::kImage, MsgType::kFile, MsgType::kCustom}) {
    if (to_string(t) == name) {
      type = t;
      return true;
    }
  }
  return false;
}

bool CommandDecoder::decode(std::string_view json, Request& out, DecodeError& err,
                            const RequestLimits& limits) {
  out = Request{};
  err = DecodeError{};
  od::document doc;
  od::object obj;
  if (!start(json, doc, obj, err)) return false;
  EnvelopeFields env;
  Fields f;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    od::json_type type;
    // Every value must at least start like one, so that a failed read below leaves a value the
    // loop can skip (and `"k":]` is refused rather than skipped).
    if (std::move(result).get(field) || field.unescaped_key().get(key) ||
        field.value().type().get(type)) {
      return fail(err, "not valid JSON");
    }
    od::value v = field.value();
    JsonCheck c = JsonCheck::kOk;
    // clang-format off
    switch (key_of(key)) {
      case Key::kOther: c = check_value(v); break;
      case Key::kOp: c = read_op(v, env, out.env); break;
      case Key::kId: c = read_id(v, env, out.env); break;
      case Key::kUser: c = read_string(v, f.user); break;
      case Key::kPassword: c = read_string(v, f.password); break;
      case Key::kToken: c = read_string(v, f.token); break;
      case Key::kDevice: c = read_string(v, f.device); break;
      case Key::kTo: c = read_string(v, f.to); break;
      case Key::kPeer: c = read_string(v, f.peer); break;
      case Key::kGroup: c = read_string(v, f.group); break;
      case Key::kCid: c = read_string(v, f.cid); break;
      case Key::kType: c = read_string(v, f.type); break;
      case Key::kBody: c = read_string(v, f.body); break;
      case Key::kFrom: c = read_string(v, f.from); break;
      case Key::kOwner: c = read_string(v, f.owner); break;
      case Key::kAfter: c = read_after_field(v, type, f); break;
      case Key::kMembers: c = read_names(v, f.members); break;
      case Key::kUsers: c = read_names(v, f.users); break;
      case Key::kSeq: c = read_uint(v, f.seq); break;
      case Key::kBefore: c = read_uint(v, f.before); break;
      case Key::kLimit: c = read_uint(v, f.limit); break;
      case Key::kMeta:
        c = read_meta(v, doc, f);
        if (c == JsonCheck::kInvalid) return fail(err, "meta is not valid JSON");
        break;
    }
    // clang-format on
    if (c != JsonCheck::kOk) return fail(err, json_check_message(c));
  }
  if (!finish(doc, env, out.env, err)) return false;
  return build_body(f, limits, out, err);
}

bool CommandDecoder::decode_broadcast(std::string_view json, BroadcastReq& out, DecodeError& err,
                                      const RequestLimits& limits) {
  out = BroadcastReq{};
  err = DecodeError{};
  od::document doc;
  od::object obj;
  if (!start(json, doc, obj, err)) return false;
  Str body, type;
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    od::json_type jt;
    if (std::move(result).get(field) || field.unescaped_key().get(key) ||
        field.value().type().get(jt)) {
      return fail(err, "not valid JSON");
    }
    od::value v = field.value();
    JsonCheck c;
    if (key == "body") {
      c = read_string(v, body);
    } else if (key == "type") {
      c = read_string(v, type);
    } else {
      c = check_value(v);
    }
    if (c != JsonCheck::kOk) return fail(err, json_check_message(c));
  }
  const char* trailing;
  if (!doc.is_alive()) return fail(err, "not valid JSON");
  if (!doc.current_location().get(trailing)) return fail(err, "trailing content after the JSON object");
  if (type.slot != Slot::kAbsent &&
      (type.slot != Slot::kOk || !parse_client_msg_type(type.text, out.type))) {
    return fail(err, "type must be text, image, file or custom");
  }
  if (body.slot != Slot::kOk || body.text.empty()) return fail(err, "body must be a non-empty string");
  if (body.text.size() > limits.max_body) {
    return fail(err, "body is longer than max_body", ErrorCode::kTooLarge);
  }
  out.body.assign(body.text);
  return true;
}

}  // namespace parley::proto
