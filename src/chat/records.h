// The stored records' values (keys are in store/keys.h) and small frame helpers, shared by the
// chat shard's files. Private to src/chat.
#pragma once

#include <string>
#include <string_view>

#include "parley/proto/frames.h"
#include "parley/proto/json_writer.h"
#include "parley/store/keys.h"
#include "state.h"

namespace parley::chat {

struct UserRecord {
  uint64_t uid = 0;
  int64_t created = 0;
  std::string pwhash;
};

inline std::string encode_user(const UserRecord& r) {
  store::Writer w;
  w.put_u64(r.uid);
  w.put_i64(r.created);
  w.put_str(r.pwhash);
  return w.take();
}

inline bool decode_user(std::string_view v, UserRecord& r) {
  store::Reader in(v);
  std::string_view hash;
  if (!in.u64(r.uid) || !in.i64(r.created) || !in.str(hash)) return false;
  r.pwhash.assign(hash);
  return true;
}

// The user's conversation list entry: the peer (or group) name and the user's cursors.
// `floor`: seqs up to it are not this member's (a group joined later); absent = 0.
inline std::string encode_conv_entry(std::string_view name, uint64_t recv, uint64_t read,
                                     uint64_t floor = 0) {
  store::Writer w;
  w.put_str(name);
  w.put_u64(recv);
  w.put_u64(read);
  if (floor != 0) w.put_u64(floor);
  return w.take();
}

inline bool decode_conv_entry(std::string_view v, std::string& name, uint64_t& recv,
                              uint64_t& read, uint64_t* floor = nullptr) {
  store::Reader in(v);
  std::string_view n;
  if (!in.str(n) || !in.u64(recv) || !in.u64(read)) return false;
  name.assign(n);
  uint64_t f = 0;
  if (floor != nullptr) *floor = in.u64(f) ? f : 0;
  return true;
}

struct GroupRecord {
  uint64_t gid = 0;
  int64_t created = 0;
  uint64_t joins = 0;
};

inline std::string encode_group(const GroupRecord& r) {
  store::Writer w;
  w.put_u64(r.gid);
  w.put_i64(r.created);
  w.put_u64(r.joins);
  return w.take();
}

inline bool decode_group(std::string_view v, GroupRecord& r) {
  store::Reader in(v);
  return in.u64(r.gid) && in.i64(r.created) && in.u64(r.joins);
}

inline std::string encode_member(const GroupMember& m) {
  store::Writer w;
  w.put_str(m.name);
  w.put_u64(m.owner ? 1 : 0);
  w.put_u64(m.since);
  w.put_u64(m.recv);
  w.put_u64(m.read);
  return w.take();
}

inline bool decode_member(std::string_view v, GroupMember& m) {
  store::Reader in(v);
  std::string_view name;
  uint64_t owner = 0;
  if (!in.str(name) || !in.u64(owner) || !in.u64(m.since) || !in.u64(m.recv) || !in.u64(m.read)) {
    return false;
  }
  m.name.assign(name);
  m.owner = owner != 0;
  return true;
}

inline std::string encode_u64(uint64_t n) {
  store::Writer w;
  w.put_u64(n);
  return w.take();
}

inline bool decode_u64(std::string_view v, uint64_t& n) {
  store::Reader in(v);
  return in.u64(n);
}

inline std::string encode_dedupe(const DedupeEntry& e) {
  store::Writer w;
  w.put_str(e.conv);
  w.put_u64(e.seq);
  w.put_u64(e.mid);
  w.put_i64(e.ts);
  w.put_i64(e.expires_ms);
  return w.take();
}

inline bool decode_dedupe(std::string_view v, DedupeEntry& e) {
  store::Reader in(v);
  std::string_view conv;
  if (!in.str(conv) || !in.u64(e.seq) || !in.u64(e.mid) || !in.i64(e.ts) ||
      !in.i64(e.expires_ms)) {
    return false;
  }
  e.conv.assign(conv);
  e.done = true;
  return true;
}

// The mid and ts of a stored frame (0 if unreadable).
inline uint64_t frame_mid(std::string_view frame) {
  uint64_t mid = 0;
  return proto::parse_msg_mid(frame, mid) ? mid : 0;
}

inline int64_t frame_ts(std::string_view frame) {
  int64_t ts = 0;
  return proto::parse_msg_ts(frame, ts) ? ts : 0;
}

inline std::string ok_send_extra(std::string_view cid, uint64_t mid, uint64_t seq, int64_t ts) {
  std::string extra = ",\"cid\":";
  proto::append_json_string(extra, cid);
  extra += ",\"mid\":\"" + std::to_string(mid) + "\",\"seq\":" + std::to_string(seq) +
           ",\"ts\":" + std::to_string(ts);
  return extra;
}

}  // namespace parley::chat
