// Typed request decoding: one pass over the frame's fields (their order is arbitrary, so each
// known key's value is read into a Fields slot as it comes), then a per-op step that checks the
// slots against the protocol's rules and builds the Request body (request_build.cc).
#include "parley/proto/request.h"

#include <algorithm>
#include <numeric>
#include <tuple>

#include "json_check.h"
#include "request_fields.h"

namespace parley::proto {
namespace {

namespace od = simdjson::ondemand;
using namespace detail;  // Fields and its slots, fail, build_request_body

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
  return build_request_body(f, limits, out, err);
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
