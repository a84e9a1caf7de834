// Typed request decoding: one pass over the frame's fields (their order is arbitrary, so each
// known key's value is read into a Fields slot as it comes), then a per-op step that checks the
// slots against the protocol's rules and builds the Request body.
#include "parley/proto/request.h"

#include <algorithm>
#include <numeric>
#include <tuple>

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
      break;
    case 5:
      if (k == "group") return Key::kGroup;
      if (k == "token") return Key::kToken;
      if (k == "after") return Key::kAfter;
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

enum class MetaCheck : uint8_t { kOk, kInvalid, kTooDeep };

// Everything the pass collected. Later occurrences of a key overwrite earlier ones.
struct Fields {
  Str user, password, token, device, to, peer, group, cid, type, body;
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

// The readers below return false when the JSON itself is malformed: the frame is then refused at
// once, because after an error in the middle of a value the iterator cannot be trusted to skip
// the rest correctly. A well-formed value of the wrong type is left unconsumed (the loop skips it)
// and marks the field bad.

// A string field.
bool read_string(od::value v, Str& s) {
  std::string_view text;
  auto error = v.get_string().get(text);
  if (!error) {
    s = {Slot::kOk, text};
    return true;
  }
  s = {Slot::kBad, {}};
  return error == simdjson::INCORRECT_TYPE;
}

// A non-negative integer that fits in 64 bits. Anything else is left for the loop to skip.
void read_uint(od::value v, Num& n) {
  uint64_t x;
  if (v.get_uint64().get(x)) {
    n = {Slot::kBad, 0};
  } else {
    n = {Slot::kOk, x};
  }
}

// "after":{"bob":5,"#team":40}. Keys that are not valid (group) names are ignored; a value that is
// not a non-negative integer makes the whole field bad. Deduplicated: the last occurrence wins.
bool read_after(od::value v, Fields& f) {
  f.after = Slot::kBad;
  f.after_entries.clear();
  od::object obj;
  if (v.get_object().get(obj)) return true;  // not an object: skipped
  for (auto result : obj) {
    od::field field;
    std::string_view key;
    od::json_type type;
    uint64_t seq;
    if (std::move(result).get(field) || field.unescaped_key().get(key) ||
        field.value().type().get(type)) {
      return false;
    }
    Target t;
    if (!key.empty() && key.front() == '#') {
      t.kind = Target::Kind::kGroup;
      key.remove_prefix(1);
    } else {
      t.kind = Target::Kind::kUser;
    }
    if (!valid_name(key)) continue;
    // A well-formed value that is not an integer: stop here, the loop skips the rest.
    if (field.value().get_uint64().get(seq)) return true;
    t.name.assign(key);
    f.after_entries.emplace_back(std::move(t), seq);
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
  return true;
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

MetaCheck walk(od::value v, int depth);

// "members":["bob","carol"] / "users":[…]. An element that is not a valid name, or one past
// kMaxListNames, makes the field bad; the array is still walked to its end (later elements only
// skipped), because simdjson, skipping the rest of an array left halfway, does not check the
// commas between its elements and can lose its place (found by the fuzzer:
// `"users":["a b""x","id":"w","users":["bob"]}` was accepted, its `id` and `users` read as
// fields of the frame).
bool read_names(od::value v, Names& n) {
  n.slot = Slot::kBad;
  n.too_many = false;
  n.list.clear();
  od::array arr;
  if (v.get_array().get(arr)) return true;  // not an array: skipped
  bool usable = true;
  for (auto result : arr) {
    od::value element;
    od::json_type type;
    if (std::move(result).get(element) || element.type().get(type)) return false;
    // Every element is read in full, even after the list turned out unusable: skipping leaves
    // simdjson unable to tell a broken separator (`"a","p":W…`) from the array's end (found by
    // the fuzzer: such a frame was accepted as a ping).
    if (type != od::json_type::string) {
      if (walk(element, 1) != MetaCheck::kOk) return false;
      usable = false;
      continue;
    }
    std::string_view name;
    if (element.get_string().get(name)) return false;
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
    return true;
  }
  drop_duplicates(n.list);
  n.slot = Slot::kOk;
  return true;
}

// `after`, whose type depends on the op (which may not have been seen yet): a string is online's
// cursor, anything else is read as login's object.
bool read_after_field(od::value v, od::json_type type, Fields& f) {
  if (type == od::json_type::string) {
    f.after = Slot::kBad;
    f.after_entries.clear();
    return read_string(v, f.after_text);
  }
  f.after_text = {Slot::kBad, {}};
  return read_after(v, f);
}

// Reads every part of `v` so that all of it is checked (skipping only checks the brackets).
// Stops at the first problem. kTooDeep leaves a well-formed value unconsumed, which the caller's
// loop skips; kInvalid means the frame must be refused (numbers that do not fit a double
// included).
MetaCheck walk(od::value v, int depth) {
  od::json_type type;
  if (v.type().get(type)) return MetaCheck::kInvalid;
  switch (type) {
    case od::json_type::object: {
      if (depth >= kMaxMetaDepth) return MetaCheck::kTooDeep;
      od::object obj;
      if (v.get_object().get(obj)) return MetaCheck::kInvalid;
      for (auto result : obj) {
        od::field field;
        std::string_view key;
        if (std::move(result).get(field) || field.unescaped_key().get(key)) {
          return MetaCheck::kInvalid;
        }
        if (auto c = walk(field.value(), depth + 1); c != MetaCheck::kOk) return c;
      }
      return MetaCheck::kOk;
    }
    case od::json_type::array: {
      if (depth >= kMaxMetaDepth) return MetaCheck::kTooDeep;
      od::array arr;
      if (v.get_array().get(arr)) return MetaCheck::kInvalid;
      for (auto result : arr) {
        od::value element;
        if (std::move(result).get(element)) return MetaCheck::kInvalid;
        if (auto c = walk(element, depth + 1); c != MetaCheck::kOk) return c;
      }
      return MetaCheck::kOk;
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s) ? MetaCheck::kInvalid : MetaCheck::kOk;
    }
    case od::json_type::number: {
      double d;
      return v.get_double().get(d) ? MetaCheck::kInvalid : MetaCheck::kOk;
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b) ? MetaCheck::kInvalid : MetaCheck::kOk;
    }
    case od::json_type::null: {
      bool is_null = false;
      return v.is_null().get(is_null) || !is_null ? MetaCheck::kInvalid : MetaCheck::kOk;
    }
  }
  return MetaCheck::kInvalid;
}

bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// `meta`: walked in place, then its text taken from the input: from its first byte to the next
// token (the iterator's position once the value is consumed), without trailing whitespace.
MetaCheck read_meta(od::value v, od::document& doc, Fields& f) {
  f.meta = Slot::kBad;
  f.meta_text = {};
  std::string_view first = v.raw_json_token();
  MetaCheck check = walk(v, 0);
  if (check != MetaCheck::kOk) return check;
  const char* end;
  if (doc.current_location().get(end) || end < first.data()) return MetaCheck::kInvalid;
  std::string_view text(first.data(), static_cast<size_t>(end - first.data()));
  while (!text.empty() && json_space(text.back())) text.remove_suffix(1);
  f.meta_text = text;
  f.meta = Slot::kOk;
  return MetaCheck::kOk;
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
  return true;
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
    bool well_formed = true;
    // clang-format off
    switch (key_of(key)) {
      case Key::kOther: break;  // skipped (its brackets checked) as the loop moves on
      case Key::kOp: read_op(v, env, out.env); break;
      case Key::kId: read_id(v, env, out.env); break;
      case Key::kUser: well_formed = read_string(v, f.user); break;
      case Key::kPassword: well_formed = read_string(v, f.password); break;
      case Key::kToken: well_formed = read_string(v, f.token); break;
      case Key::kDevice: well_formed = read_string(v, f.device); break;
      case Key::kTo: well_formed = read_string(v, f.to); break;
      case Key::kPeer: well_formed = read_string(v, f.peer); break;
      case Key::kGroup: well_formed = read_string(v, f.group); break;
      case Key::kCid: well_formed = read_string(v, f.cid); break;
      case Key::kType: well_formed = read_string(v, f.type); break;
      case Key::kBody: well_formed = read_string(v, f.body); break;
      case Key::kAfter: well_formed = read_after_field(v, type, f); break;
      case Key::kMembers: well_formed = read_names(v, f.members); break;
      case Key::kUsers: well_formed = read_names(v, f.users); break;
      case Key::kSeq: read_uint(v, f.seq); break;
      case Key::kBefore: read_uint(v, f.before); break;
      case Key::kLimit: read_uint(v, f.limit); break;
      case Key::kMeta:
        if (read_meta(v, doc, f) == MetaCheck::kInvalid) {
          return fail(err, "meta is not valid JSON");
        }
        break;
    }
    // clang-format on
    if (!well_formed) return fail(err, "not valid JSON");
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
    bool well_formed = true;
    if (key == "body") {
      well_formed = read_string(v, body);
    } else if (key == "type") {
      well_formed = read_string(v, type);
    }
    if (!well_formed) return fail(err, "not valid JSON");
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
