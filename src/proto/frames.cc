#include "parley/proto/frames.h"

#include <cassert>
#include <charconv>

#include "parley/proto/json_writer.h"

namespace parley::proto {
namespace {

constexpr std::string_view kMsgPrefix = R"({"op":"msg",)";
constexpr std::string_view kSeqKey = R"(,"seq":)";

// "to":NAME or "group":NAME. kNone writes nothing (callers always know the kind).
void write_target(JsonWriter& w, Target::Kind kind, std::string_view name) {
  assert(kind != Target::Kind::kNone);
  if (kind == Target::Kind::kUser) w.field("to", name);
  if (kind == Target::Kind::kGroup) w.field("group", name);
}

}  // namespace

std::string encode_msg(const MsgView& m) {
  char mid[24];
  auto end = std::to_chars(mid, mid + sizeof mid, m.mid).ptr;
  std::string s;
  s.reserve(160 + m.from.size() + m.to_or_group.size() + m.cid.size() + m.body.size() +
            m.meta.size());
  JsonWriter w(s);
  w.begin_object().field("op", "msg").field("from", m.from);
  write_target(w, m.kind, m.to_or_group);
  w.field("seq", m.seq)
      .field("mid", std::string_view(mid, static_cast<size_t>(end - mid)))
      .field("ts", m.ts)
      .field("cid", m.cid)
      .field("type", to_string(m.type))
      .field("body", m.body);
  if (!m.meta.empty()) w.key("meta").raw(m.meta);
  w.end_object();
  return s;
}

bool msg_to_history_entry(std::string_view frame, std::string& out_appended) {
  // encode_msg always writes "from" after "op", so a real frame continues with a key.
  if (frame.size() < kMsgPrefix.size() + 2 || !frame.starts_with(kMsgPrefix) ||
      frame[kMsgPrefix.size()] != '"' || frame.back() != '}') {
    return false;
  }
  out_appended.push_back('{');
  out_appended.append(frame.substr(kMsgPrefix.size()));
  return true;
}

namespace {

// The number right after the first `key` in a frame written by encode_msg. Inside a JSON string
// every '"' is escaped, so a key pattern can only match a key; seq, mid and ts are written before
// meta (the only nested value), so the first match is the top-level one.
template <typename T>
bool number_after(std::string_view frame, std::string_view key, T& out) {
  auto at = frame.find(key);
  if (at == std::string_view::npos) return false;
  const char* first = frame.data() + at + key.size();
  auto [ptr, ec] = std::from_chars(first, frame.data() + frame.size(), out);
  return ec == std::errc{} && ptr != first;
}

}  // namespace

bool parse_msg_seq(std::string_view frame, uint64_t& seq) {
  return number_after(frame, kSeqKey, seq);
}

bool parse_msg_mid(std::string_view frame, uint64_t& mid) {
  return number_after(frame, R"(,"mid":")", mid);
}

bool parse_msg_ts(std::string_view frame, int64_t& ts) { return number_after(frame, R"(,"ts":)", ts); }

std::string encode_receipt(std::string_view peer, bool group, std::string_view user, bool read,
                           uint64_t seq) {
  std::string s;
  s.reserve(80 + peer.size() + user.size());
  JsonWriter w(s);
  w.begin_object()
      .field("op", "receipt")
      .field(group ? "group" : "peer", peer)
      .field("user", user)
      .field("kind", read ? "read" : "delivered")
      .field("seq", seq)
      .end_object();
  return s;
}

std::string encode_typing(std::string_view from, Target::Kind kind, std::string_view to_or_group) {
  std::string s;
  s.reserve(40 + from.size() + to_or_group.size());
  JsonWriter w(s);
  w.begin_object().field("op", "typing").field("from", from);
  write_target(w, kind, to_or_group);
  w.end_object();
  return s;
}

std::string encode_kicked(std::string_view reason) {
  std::string s;
  JsonWriter w(s);
  w.begin_object().field("op", "kicked").field("reason", reason).end_object();
  return s;
}

}  // namespace parley::proto
