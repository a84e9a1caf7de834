// The chat shard's implementation (private to src/chat): the state and operations of one
// shard. Split over several files by topic (chat.cc: accounts, sessions, 1:1; groups.cc: groups;
// presence.cc: presence and friends); everything here runs on the shard's own thread.
#pragma once

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "parley/auth/password.h"
#include "parley/chat/chat.h"
#include "parley/net/connection.h"
#include "parley/net/net_shard.h"
#include "parley/proto/frames.h"
#include "parley/proto/json_writer.h"
#include "parley/server/config.h"
#include "parley/server/log.h"
#include "parley/shard/shard.h"
#include "parley/store/store.h"
#include "parley/util/offload.h"
#include "pump.h"
#include "state.h"

namespace parley::chat {
namespace detail {


using proto::ErrorCode;
using proto::Op;
using proto::RequestId;
using store::ConvId;


inline constexpr size_t kTailFrames = 64;               // per user and conversation
inline constexpr uint8_t kMaxFailedLogins = 3;            // per connection, then it is closed
inline constexpr size_t kMaxQueuedDuringLogin = 256;    // requests pipelined behind a login
inline constexpr size_t kDedupeRemembered = 64;         // settled (sender, cid) pairs in memory
inline constexpr size_t kMaxQueuedBytes = 1 << 20;
// A device that has never logged in is remembered with a marker under this (impossible) pair.
inline const ConvId kDeviceMarker = ConvId::pair(0, 0);

inline int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline int64_t steady_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// ---- stored records (values; keys are in store/keys.h) -------------------------------------

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

// ---- cross-shard messages ------------------------------------------------------------------

struct AppendTask {
  ConvId conv;
  std::string from, to;
  uint64_t from_uid = 0, to_uid = 0;
  proto::SendReq send;
  int origin_shard = 0;
  net::ConnId origin;
};

struct Appended {
  ConvId conv;
  std::string from, to;
  uint64_t from_uid = 0, to_uid = 0;
  uint64_t seq = 0, mid = 0;
  int64_t ts = 0;
  std::string cid;
  std::string frame;
  net::ConnId origin;
  // Groups: the group, the members on the destination shard, and those who just left.
  std::string group;
  std::vector<std::string> members;
  std::vector<std::string> gone;
};

}  // namespace detail
using namespace detail;

// The store as the pump's frame source: a prefix scan from the first wanted seq.
class StoreFrames final : public FrameSource {
 public:
  explicit StoreFrames(const store::Store& st) : store_(st) {}
  bool read(const ConvId& conv, uint64_t from, uint64_t to,
            const std::function<bool(uint64_t, std::string_view)>& fn) override {
    return store_.scan(store::msg_prefix(conv), store::msg_key(conv, from),
                       [&](std::string_view key, std::string_view value) {
                         ConvId id;
                         uint64_t seq = 0;
                         if (!store::parse_msg_key(key, id, seq) || seq > to) return false;
                         return fn(seq, value);
                       });
  }

 private:
  const store::Store& store_;
};

// A connection as the pump's sink. Frames it pumps are replies in the output-limit sense:
// queued even at the limit, after which reading pauses and the pump waits for on_drain.
class ConnSink final : public FrameSink {
 public:
  explicit ConnSink(net::Connection& c) : c_(c) {}
  bool has_room() const override { return c_.open() && c_.out_room() > 0; }
  bool send(std::string_view frame) override {
    return c_.send(frame, net::SendKind::kReply) == net::SendStatus::kOk && has_room();
  }

 private:
  net::Connection& c_;
};

// ---- the shard's chat state ----------------------------------------------------------------

struct ChatShard::Impl {
  Impl(ChatShard& self, shard::Shard& shard, const Services& services)
      : self(self),
        shard(shard),
        svc(services),
        cfg(*services.config),
        batch(*services.store),
        backlog(*services.store),
        next_uid(services.first_uid + static_cast<uint64_t>(shard.id())),
        next_gid(services.first_gid + static_cast<uint64_t>(shard.id())) {}

  ChatShard& self;
  shard::Shard& shard;
  const Services& svc;
  const server::Config& cfg;
  store::ShardBatch batch;
  StoreFrames backlog;
  uint64_t next_uid;
  uint64_t mid_ms = 0, mid_counter = 0;

  std::unordered_map<std::string, User> users;              // owned users, by name
  std::unordered_map<std::string, uint64_t> uid_cache;      // any user's name -> uid
  std::unordered_map<std::string, ConvState> conv_states;   // owned conversations, by key

  ChatShard::Stats& stats() { return self.stats_; }
  int me() const { return shard.id(); }
  int shards() const { return svc.shards; }

  // ---- helpers ---------------------------------------------------------------------------

  static Session& session_of(net::Connection& c) {
    auto* s = static_cast<Session*>(c.context());
    if (s == nullptr) {
      c.set_context(std::make_unique<Session>());
      s = static_cast<Session*>(c.context());
    }
    return *s;
  }

  static net::Connection* find_conn(net::ConnId id) {
    net::NetShard* net = net::NetShard::current();
    return net == nullptr ? nullptr : net->find(id);
  }

  // Sends the reply of ticket `t` now if every earlier reply of this connection is out, else
  // parks it until they are. An empty frame means "this request has no reply".
  static void reply(net::Connection& c, const Ticket& t, std::string frame) {
    if (t.api) {
      (*t.api)(std::move(frame));
      return;
    }
    Session& s = session_of(c);
    if (t.n != s.next_out) {
      s.parked.emplace(t.n, std::move(frame));
      return;
    }
    if (!frame.empty()) c.send(frame);
    ++s.next_out;
    while (!s.parked.empty() && s.parked.begin()->first == s.next_out) {
      if (!s.parked.begin()->second.empty()) c.send(s.parked.begin()->second);
      s.parked.erase(s.parked.begin());
      ++s.next_out;
    }
  }
  static void reply_ok(net::Connection& c, const Ticket& t, std::string_view extra = {}) {
    reply(c, t, proto::reply_ok(t.id, extra));
  }
  static void reply_error(net::Connection& c, const Ticket& t, ErrorCode code,
                          std::string_view message) {
    reply(c, t, proto::reply_error(t.id, code, message));
  }
  // ack, read and typing answer only when they fail or carry an id.
  static void reply_quiet_ok(net::Connection& c, const Ticket& t) {
    reply(c, t, t.id.kind == RequestId::Kind::kNone ? std::string() : proto::reply_ok(t.id));
  }
  // The reply of a request whose connection may be gone by now (looked up again by id), or of an
  // HTTP API call. On the connection's shard.
  static void deliver(net::ConnId conn, const Ticket& t, std::string frame) {
    if (t.api) {
      (*t.api)(std::move(frame));
    } else if (net::Connection* c = find_conn(conn)) {
      reply(*c, t, std::move(frame));
    }
  }
  void reply_to(const Waiter& w, std::string frame) { deliver(w.conn, w.id, std::move(frame)); }

  User* find_user(std::string_view name) {
    auto it = users.find(std::string(name));
    return it == users.end() ? nullptr : &it->second;
  }

  // Posts one task per shard that owns any of `names`: fn(the names it owns) runs there.
  // `fn` is copied into each task.
  template <typename Fn>
  void post_per_owner(const std::vector<std::string>& names, Fn fn) {
    std::vector<std::vector<std::string>> per_shard(static_cast<size_t>(shards()));
    for (const std::string& n : names) {
      per_shard[static_cast<size_t>(owner_of_user(n, shards()))].push_back(n);
    }
    for (int k = 0; k < shards(); ++k) {
      auto& owned = per_shard[static_cast<size_t>(k)];
      if (owned.empty()) continue;
      shard.post(k, [owned = std::move(owned), fn]() mutable { fn(std::move(owned)); });
    }
  }

  // The uid of any user (0: no such user). Users are never renamed or deleted, so a cached
  // answer stays right; a user created a moment ago is found in the store once committed.
  uint64_t resolve_uid(const std::string& name) {
    if (User* u = find_user(name)) return u->committed ? u->uid : 0;
    auto it = uid_cache.find(name);
    if (it != uid_cache.end()) return it->second;
    std::string value;
    UserRecord r;
    if (!svc.store->get(store::user_key(name), value) || !decode_user(value, r)) return 0;
    if (uid_cache.size() > 100000) uid_cache.clear();  // bounded; refilled on demand
    uid_cache.emplace(name, r.uid);
    return r.uid;
  }

  // A group request by someone who is not (or no longer) a member: forbidden if the group
  // exists, not_found otherwise.
  void reply_not_member(net::Connection& c, const Ticket& t, const std::string& group) {
    std::string value;
    bool exists = svc.store->get(store::group_key(group), value);
    reply_error(c, t, exists ? ErrorCode::kForbidden : ErrorCode::kNotFound,
                exists ? "not a member of this group" : "no such group");
  }

  uint64_t new_mid(uint64_t last) {
    // 42 bits of milliseconds, 10 of shard (the config allows up to 1024), 11 of counter:
    // unique server-wide, increasing in time; never below the conversation's last mid (a
    // clock that stepped back).
    uint64_t ms = static_cast<uint64_t>(wall_ms());
    if (ms <= mid_ms) {
      ms = mid_ms;
      if (++mid_counter >= (1u << 11)) {
        ++ms;
        mid_counter = 0;
      }
    } else {
      mid_counter = 0;
    }
    mid_ms = ms;
    uint64_t mid = (ms << 21) | (static_cast<uint64_t>(me() & 0x3ff) << 11) | mid_counter;
    return std::max(mid, last + 1);
  }

  ConvRef& ensure_conv(User& u, const ConvId& id, const std::string& peer, uint64_t peer_uid) {
    std::string key = id.bytes();
    auto it = u.convs.find(key);
    if (it != u.convs.end()) return it->second;
    ConvRef& ref = u.convs[key];
    ref.id = id;
    ref.key = key;
    ref.group = id.is_group();
    ref.name = peer;
    ref.peer_uid = peer_uid;
    if (ref.group) {
      u.by_group[peer] = key;
    } else {
      u.by_peer[peer] = key;
    }
    return ref;
  }

  void persist_conv_entry(const User& u, const ConvRef& ref) {
    batch.put(store::user_conv_key(u.uid, ref.id),
              encode_conv_entry(ref.name, ref.recv, ref.read, ref.group ? ref.floor : 0));
  }

  void persist_device_cursor(const User& u, const ConvRef& ref, const std::string& device,
                             uint64_t seq) {
    batch.put(store::device_key(u.uid, ref.id, device), encode_u64(seq));
  }

  // ---- recovery --------------------------------------------------------------------------

  bool load(std::string& error) {
    const store::Store& st = *svc.store;
    bool ok = st.scan("u", "", [&](std::string_view key, std::string_view value) {
      std::string name(key.substr(1));
      if (owner_of_user(name, shards()) != me()) return true;
      UserRecord r;
      if (!decode_user(value, r)) {
        log::warn("user record %s is unreadable; skipped", name.c_str());
        return true;
      }
      User& u = users[name];
      u.uid = r.uid;
      u.name = name;
      u.pwhash = std::move(r.pwhash);
      return true;
    });
    if (!ok) {
      error = "cannot read the user table";
      return false;
    }
    for (auto& [name, u] : users) {
      ok = ok && load_user(u);
      if (!ok) {
        error = "cannot read the state of user " + name;
        return false;
      }
    }
    stats().users = users.size();
    return load_groups(error);
  }

  bool load_user(User& u) {
    const store::Store& st = *svc.store;
    bool ok = st.scan(store::user_conv_prefix(u.uid), "",
                      [&](std::string_view key, std::string_view value) {
                        uint64_t uid;
                        ConvId id;
                        std::string peer;
                        uint64_t recv = 0, read = 0, floor = 0;
                        if (!store::parse_user_conv_key(key, uid, id) ||
                            !decode_conv_entry(value, peer, recv, read, &floor)) {
                          return true;
                        }
                        uint64_t peer_uid = id.is_group() ? 0 : (id.a == u.uid ? id.b : id.a);
                        ConvRef& ref = ensure_conv(u, id, peer, peer_uid);
                        ref.recv = recv;
                        ref.read = read;
                        ref.floor = floor;
                        return true;
                      });
    // A group entry whose member record is gone is stale (the member was removed while its
    // shard rewrote the entry): drop it rather than bring the group back.
    for (auto it = u.convs.begin(); it != u.convs.end();) {
      std::string member, error;
      if (it->second.group && !st.get(store::member_key(it->second.id, u.uid), member, &error) &&
          error.empty()) {
        batch.del(store::user_conv_key(u.uid, it->second.id));
        u.by_group.erase(it->second.name);
        it = u.convs.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [key, ref] : u.convs) {
      std::string k, v, error;
      uint64_t seq = 0;
      ConvId id;
      if (st.last(store::msg_prefix(ref.id), k, v, &error) && store::parse_msg_key(k, id, seq)) {
        ref.head = seq;
      } else if (!error.empty()) {
        return false;
      }
      if (!ref.group) {
        std::string peer_value, ignored;
        if (st.get(store::user_conv_key(ref.peer_uid, ref.id), peer_value)) {
          decode_conv_entry(peer_value, ignored, ref.peer_recv, ref.peer_read);
        }
      }
    }
    ok = ok && load_friends(u);
    std::string seen;
    uint64_t seen_ms = 0;
    if (st.get(store::presence_key(u.uid), seen) && decode_u64(seen, seen_ms)) {
      u.last_seen = static_cast<int64_t>(seen_ms);
    }
    ok = ok && st.scan(store::device_prefix(u.uid), "",
                       [&](std::string_view key, std::string_view value) {
                         uint64_t uid, seq;
                         ConvId id;
                         std::string_view device_view;
                         if (!store::parse_device_key(key, uid, id, device_view) ||
                             !decode_u64(value, seq)) {
                           return true;
                         }
                         Device& d = u.devices[std::string(device_view)];
                         if (id == kDeviceMarker) {
                           d.known = true;
                         } else {
                           d.cursors[id.bytes()] = seq;
                         }
                         return true;
                       });
    return ok;  // dedupe records stay in the store: a send looks its cid up there
  }

  // ---- housekeeping: retention and dedupe expiry ------------------------------------------

  static constexpr size_t kSweepBudget = 20000;  // stored messages examined per sweep

  // Every retention period (clamped to 1 s .. 60 s) this shard trims the conversations it is
  // responsible for and forgets expired dedupe entries of its users. A sweep examines a bounded
  // number of messages so it never holds the loop for long; what is left waits for the next.
  void start_sweeper() {
    uint64_t every = cfg.retention_ms == 0 ? 60000 : std::clamp<uint64_t>(cfg.retention_ms, 1000, 60000);
    auto* timer = new uv_timer_t;
    uv_timer_init(shard.loop(), timer);
    timer->data = this;
    uv_timer_start(timer, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->sweep(); }, every, every);
    uv_unref(reinterpret_cast<uv_handle_t*>(timer));
    shard.add_stop_hook([timer] {
      uv_close(reinterpret_cast<uv_handle_t*>(timer),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    });
  }

  // Expired dedupe records of this shard's users, deleted from the store: at most
  // kSweepBudget examined per sweep, resuming where the last one stopped (a user index into
  // `users` and a key; a rehash may make it skip or repeat a few users, which only delays
  // their turn). A cid with an entry in memory is in flight or settled recently: not touched.
  size_t dedupe_sweep_user = 0;
  std::string dedupe_sweep_key;

  void sweep_dedupe(int64_t now) {
    size_t budget = kSweepBudget;
    if (dedupe_sweep_user >= users.size()) dedupe_sweep_user = 0;
    auto it = std::next(users.begin(), static_cast<std::ptrdiff_t>(dedupe_sweep_user));
    for (size_t visited = 0; visited < users.size() && budget > 0; ++visited) {
      User& u = it->second;
      std::string from;
      from.swap(dedupe_sweep_key);
      svc.store->scan(  // a read error skips the user this time
          store::dedupe_prefix(u.uid), from,
          [&](std::string_view key, std::string_view value) {
            if (budget == 0) {
              dedupe_sweep_key.assign(key);
              return false;
            }
            --budget;
            uint64_t uid;
            std::string_view cid;
            DedupeEntry e;
            if (!store::parse_dedupe_key(key, uid, cid) || !decode_dedupe(value, e)) return true;
            if (e.expires_ms <= now && !u.dedupe.contains(std::string(cid))) batch.del(key);
            return true;
          });
      if (!dedupe_sweep_key.empty()) return;  // this user again, from that key, next time
      if (++it == users.end()) it = users.begin();
      dedupe_sweep_user = (dedupe_sweep_user + 1) % users.size();
    }
  }

  void sweep() {
    int64_t now = wall_ms();
    sweep_dedupe(now);
    if (cfg.retention_ms == 0 || cfg.retention_count == 0) return;  // one rule keeps everything
    size_t budget = kSweepBudget;
    for (auto& [name, u] : users) {
      for (auto& [key, ref] : u.convs) {
        // Each 1:1 conversation is trimmed once: by the shard of its lower-uid member.
        if (ref.group || ref.id.a != u.uid) continue;
        if (budget == 0) return;
        trim(u, ref, now - static_cast<int64_t>(cfg.retention_ms), budget);
      }
    }
    // Groups are trimmed by their own shard, below the committed head.
    for (auto& [name, g] : groups) {
      if (budget == 0) return;
      uint64_t upto = trim_log(g.conv, g.committed_head,
                               now - static_cast<int64_t>(cfg.retention_ms), budget);
      if (upto == 0) continue;
      std::vector<std::string> members;
      for (const GroupMember& m : g.members) members.push_back(m.name);
      announce_trim(members, g.key, upto);
    }
  }

  // Deletes the oldest messages that both rules let go: older than the cutoff and not among
  // the newest retention_count. The newest message always stays (it anchors the head seq).
  // Returns the last seq deleted (0: none). The caller tells the members' shards.
  uint64_t trim_log(const ConvId& conv, uint64_t head, int64_t cutoff_ms, size_t& budget) {
    if (head <= cfg.retention_count) return 0;
    uint64_t limit = head - cfg.retention_count;
    uint64_t upto = 0;
    // Point deletes through this tick's batch (not DeleteRange: Debian's RocksDB 7.8 asserts
    // on range tombstones combined with the memtable insert hint the store uses).
    svc.store->scan(store::msg_prefix(conv), "", [&](std::string_view key, std::string_view v) {
      ConvId id;
      uint64_t seq = 0;
      if (budget == 0 || !store::parse_msg_key(key, id, seq) || seq > limit) return false;
      --budget;
      if (frame_ts(v) >= cutoff_ms) return false;
      batch.del(key);
      upto = seq;
      return true;
    });
    return upto;
  }

  // Members' shards drop the trimmed frames from their tail caches and skip them.
  void announce_trim(const std::vector<std::string>& members, const std::string& key,
                     uint64_t upto) {
    post_per_owner(members, [key, upto](std::vector<std::string> names) {
      for (const std::string& n : names) current_impl().trimmed(n, key, upto);
    });
  }

  void trim(const User& u, const ConvRef& ref, int64_t cutoff_ms, size_t& budget) {
    uint64_t upto = trim_log(ref.id, ref.head, cutoff_ms, budget);
    if (upto == 0) return;
    std::vector<std::string> members{u.name};
    if (ref.name != u.name) members.push_back(ref.name);
    announce_trim(members, ref.key, upto);
  }

  void trimmed(const std::string& name, const std::string& key, uint64_t upto) {
    User* u = find_user(name);
    if (u == nullptr) return;
    auto it = u->convs.find(key);
    if (it == u->convs.end()) return;
    ConvRef& ref = it->second;
    ref.floor = std::max(ref.floor, upto);
    while (!ref.tail.empty() && ref.tail.front().first <= ref.floor) ref.tail.pop_front();
  }

  // ---- requests --------------------------------------------------------------------------

  void on_request(net::Connection& c, proto::Request& req) {
    Session& s = session_of(c);
    Ticket t{req.env.id, s.tickets++, nullptr};
    if (s.state == Session::State::kLoggingIn || s.registering) {
      if (s.queued.size() >= kMaxQueuedDuringLogin || s.queued_bytes > kMaxQueuedBytes) {
        c.close(1008, "too many requests during login");
        return;
      }
      s.queued_bytes += sizeof(proto::Request) + request_bytes(req);
      s.queued.emplace_back(std::move(t), std::move(req));
      return;
    }
    handle(c, s, t, req);
  }

  static size_t request_bytes(const proto::Request& req) {
    if (const auto* send = std::get_if<proto::SendReq>(&req.body)) {
      return send->body.size() + send->meta.size() + send->cid.size();
    }
    return 64;
  }

  // A frame that could not be decoded: its error reply takes its turn like any other.
  void on_bad_frame(net::Connection& c, std::string frame) {
    Session& s = session_of(c);
    reply(c, Ticket{{}, s.tickets++, nullptr}, std::move(frame));
  }

  void handle(net::Connection& c, Session& s, const Ticket& id, proto::Request& req) {
    Op op = req.env.op;
    if (op == Op::kPing) {
      reply(c, id, proto::reply_pong(id.id));
      return;
    }
    if (s.state != Session::State::kLive) {
      if (op == Op::kRegister) return do_register(c, id, std::get<proto::RegisterReq>(req.body));
      if (op == Op::kLogin) return do_login(c, s, id, std::get<proto::LoginReq>(req.body));
      reply_error(c, id, ErrorCode::kUnauthorized, "log in first");
      return;
    }
    User* u = find_user(s.user);
    if (u == nullptr) {  // cannot happen: a live session's user is owned here
      reply_error(c, id, ErrorCode::kInternal, "session without a user");
      return;
    }
    // All of a user's devices share one bucket (they all live on this shard). The back-end's
    // calls (api_conn) are not counted.
    if (&c != &api_conn() &&
        !u->requests.take(shard_clock_ms(), cfg.user_rate_limit, cfg.user_rate_burst)) {
      ++stats().user_rate_limited;
      reply_error(c, id, ErrorCode::kRateLimited, "over the request rate of this user's devices");
      return;
    }
    switch (op) {
      case Op::kRegister:
      case Op::kLogin:
        reply_error(c, id, ErrorCode::kBadRequest, "already logged in");
        return;
      case Op::kLogout:
        reply_ok(c, id);
        c.close(1000, "logged out");
        return;
      case Op::kSend:
        return do_send(c, s, *u, id, std::get<proto::SendReq>(req.body));
      case Op::kTyping:
        return do_typing(c, *u, id, std::get<proto::TypingReq>(req.body));
      case Op::kAck:
      case Op::kRead:
        return do_cursor(c, s, *u, id, std::get<proto::CursorReq>(req.body), op == Op::kRead);
      case Op::kHistory:
        return do_history(c, *u, id, std::get<proto::HistoryReq>(req.body));
      case Op::kGroupCreate:
      case Op::kGroupAdd:
      case Op::kGroupRemove:
      case Op::kGroupLeave:
      case Op::kGroupMembers:
        if (auto* g = std::get_if<proto::GroupReq>(&req.body)) return do_group_op(c, *u, id, op, *g);
        break;
      case Op::kGroups:
        return do_groups(c, *u, id);
      case Op::kWatch:
      case Op::kUnwatch:
        if (auto* w = std::get_if<proto::UsersReq>(&req.body)) {
          return do_watch(c, s, id, *w, op == Op::kWatch);
        }
        break;
      case Op::kFriendRequest:
      case Op::kFriendAccept:
      case Op::kFriendRemove:
        if (auto* f = std::get_if<proto::UserReq>(&req.body)) return do_friend(c, *u, id, op, *f);
        break;
      case Op::kFriends:
        return do_friends(c, *u, id);
      case Op::kOnline:
        if (auto* o = std::get_if<proto::OnlineReq>(&req.body)) return do_online(c, id, *o);
        return do_online(c, id, proto::OnlineReq{});
      default:
        reply_error(c, id, ErrorCode::kUnavailable,
                    std::string(proto::op_name(op)) + " is not available yet");
        return;
    }
    // A known op whose fields the decoder did not supply.
    reply_error(c, id, ErrorCode::kBadRequest, "missing or malformed fields");
  }

  // ---- register --------------------------------------------------------------------------

  // Runs `work` on libuv's thread pool (password hashing is deliberately slow: it must not
  // hold the loop), then `done` back on this shard.
  template <typename Work, typename Done>
  void offload(Work work, Done done) {
    parley::offload(shard.loop(), std::move(work), std::move(done));
  }

  // `forced`: registration by the back-end (api key), allowed even when it is closed.
  void do_register(net::Connection& c, const Ticket& id, proto::RegisterReq& r,
                   bool forced = false) {
    if (!cfg.open_registration && !forced) {
      reply_error(c, id, ErrorCode::kForbidden, "registration is closed");
      return;
    }
    auto hash = std::make_shared<std::string>();
    auth::ScryptParams params{cfg.scrypt_n, cfg.scrypt_r, cfg.scrypt_p};
    int origin = me();
    if (&c != &api_conn()) session_of(c).registering = true;  // until answer_register
    offload([hash, params, password = std::move(r.password)] {
              *hash = auth::hash_password(password, params);
            },
            [this, hash, origin, conn = c.id(), id, name = std::move(r.user)]() mutable {
              int owner = owner_of_user(name, shards());
              shard.post(owner, [hash, origin, conn, id, name = std::move(name)]() mutable {
                current_impl().create_user(std::move(name), std::move(*hash),
                                           [origin, conn, id](ErrorCode code, uint64_t uid) {
                                             answer_register(origin, conn, id, code, uid);
                                           });
              });
            });
  }

  static void answer_register(int origin, net::ConnId conn, Ticket id, ErrorCode code,
                              uint64_t uid) {
    std::string frame;
    if (code == ErrorCode::kInternal) {  // "no error"
      frame = proto::reply_ok(id.id, ",\"uid\":" + std::to_string(uid));
    } else if (code == ErrorCode::kConflict) {
      frame = proto::reply_error(id.id, code, "that name is taken");
    } else {
      frame = proto::reply_error(id.id, code, "the account could not be stored");
    }
    current_impl().shard.post(origin, [conn, id = std::move(id), frame = std::move(frame)]() mutable {
      deliver(conn, id, std::move(frame));
      // The connection's requests that waited for the account go on, in order.
      net::Connection* c = net::NetShard::current()->find(conn);
      auto* s = c == nullptr ? nullptr : static_cast<Session*>(c->context());
      if (s != nullptr && s->registering) {
        s->registering = false;
        current_impl().drain_queue(*c);
      }
    });
  }

  // On the user's owner shard. `done(kInternal, uid)` means success (see answer_register),
  // anything else is the error to report.
  template <typename Done>
  void create_user(std::string name, std::string pwhash, Done done) {
    if (users.count(name) != 0) {
      done(ErrorCode::kConflict, 0);
      return;
    }
    uint64_t uid = next_uid;
    next_uid += static_cast<uint64_t>(shards());
    User& u = users[name];
    u.uid = uid;
    u.name = name;
    u.pwhash = pwhash;
    u.committed = false;
    UserRecord rec{uid, wall_ms(), std::move(pwhash)};
    batch.put(store::user_key(name), encode_user(rec));
    batch.after_commit([this, name, uid, done = std::move(done)](bool ok) mutable {
      if (!ok) {
        ++stats().store_errors;
        users.erase(name);
        done(ErrorCode::kUnavailable, 0);
        return;
      }
      if (User* u = find_user(name)) u->committed = true;
      ++stats().registrations;
      stats().users = users.size();
      done(ErrorCode::kInternal, uid);
    });
  }

  // ---- login -----------------------------------------------------------------------------

  void do_login(net::Connection& c, Session& s, const Ticket& id, proto::LoginReq& r) {
    std::string name = r.user;
    bool by_token = !r.token.empty();
    if (by_token && !self.verify_token(r.token, name)) {
      ++stats().login_failures;
      reply_error(c, id, ErrorCode::kUnauthorized, "invalid token");
      return;
    }
    s.state = Session::State::kLoggingIn;
    int owner = owner_of_user(name, shards());
    if (owner == me()) {
      login_here(c, id, std::move(name), by_token, std::move(r));
      return;
    }
    c.handoff(owner, [id, name = std::move(name), by_token, r = std::move(r)](
                         net::Connection& moved) mutable {
      current_impl().login_here(moved, id, std::move(name), by_token, std::move(r));
    });
  }

  void login_here(net::Connection& c, const Ticket& id, std::string name, bool by_token,
                  proto::LoginReq r) {
    User* u = find_user(name);
    if (u != nullptr && !u->committed) u = nullptr;
    if (u == nullptr) {
      if (by_token && cfg.jwt_auto_create) {
        net::ConnId conn = c.id();
        create_user(name, "", [this, conn, id, name, r = std::move(r)](ErrorCode code,
                                                                       uint64_t) mutable {
          net::Connection* c2 = find_conn(conn);
          if (c2 == nullptr) return;
          if (code != ErrorCode::kInternal) return login_failed(*c2, id, code);
          attach(*c2, id, name, std::move(r));
        });
        return;
      }
      return login_failed(c, id, ErrorCode::kUnauthorized);
    }
    if (by_token) return attach(c, id, name, std::move(r));
    if (u->pwhash.empty()) return login_failed(c, id, ErrorCode::kUnauthorized);
    // Password guessing is paced per user and per address, before any hashing is spent on it.
    const uint64_t now = shard_clock_ms();
    if (u->login_guard.tokens(now, login_rate(), cfg.login_attempts) < 1 ||
        !address_may_log_in(c, now)) {
      ++stats().login_throttled;
      return login_failed(c, id, ErrorCode::kRateLimited);
    }
    auto good = std::make_shared<bool>(false);
    std::string password = std::move(r.password);  // (argument evaluation order is unspecified)
    offload([good, stored = u->pwhash, password = std::move(password)] {
              *good = auth::verify_password(password, stored);
            },
            [this, good, conn = c.id(), id, name, r = std::move(r)]() mutable {
              User* who = find_user(name);
              if (who != nullptr) {
                const uint64_t at = shard_clock_ms();
                if (*good) {
                  who->login_guard = TokenBucket{};
                } else {
                  who->login_guard.take(at, login_rate(), cfg.login_attempts);
                }
              }
              net::Connection* c2 = find_conn(conn);
              if (c2 == nullptr) return;
              if (!*good) return login_failed(*c2, id, ErrorCode::kUnauthorized);
              attach(*c2, id, name, std::move(r));
            });
  }

  double login_rate() const { return 1000.0 / static_cast<double>(cfg.login_attempt_interval_ms); }
  static uint64_t shard_clock_ms() { return net::NetShard::current()->clock().now_ms(); }

  // Failed logins from the connection's address: login_attempts x 4 in a burst (addresses are
  // shared behind NATs), then one per login_attempt_interval.
  bool address_may_log_in(net::Connection& c, uint64_t now) const {
    const auto& table = c.net().options().addresses;
    if (!table || c.address_slot() < 0) return true;
    return table->login_allowed(static_cast<uint32_t>(c.address_slot()), now,
                                cfg.login_attempt_interval_ms,
                                static_cast<uint32_t>(cfg.login_attempts) * 4);
  }

  void login_failed(net::Connection& c, const Ticket& id, ErrorCode code) {
    ++stats().login_failures;
    Session& s = session_of(c);
    s.state = Session::State::kAnon;
    reply_error(c, id, code,
                code == ErrorCode::kUnauthorized  ? "unknown user or wrong credentials"
                : code == ErrorCode::kRateLimited ? "too many failed logins; try again later"
                                                  : "the login could not be completed");
    if (code == ErrorCode::kUnauthorized) {
      const auto& table = c.net().options().addresses;
      if (table && c.address_slot() >= 0) {
        table->login_failed(static_cast<uint32_t>(c.address_slot()), shard_clock_ms(),
                            cfg.login_attempt_interval_ms);
      }
    }
    if (code == ErrorCode::kUnauthorized || code == ErrorCode::kRateLimited) {
      if (++s.failed_logins >= kMaxFailedLogins) {
        c.close(1008, "too many failed logins");
        return;
      }
    }
    drain_queue(c);
  }

  void attach(net::Connection& c, const Ticket& id, const std::string& name,
              proto::LoginReq r) {
    Session& s = session_of(c);
    User* u = find_user(name);
    if (u == nullptr || !c.open()) return login_failed(c, id, ErrorCode::kUnauthorized);
    auto old = u->sessions.find(r.device);
    if (old == u->sessions.end() && static_cast<int>(u->sessions.size()) >= cfg.max_devices) {
      return login_failed(c, id, ErrorCode::kForbidden);
    }
    if (old != u->sessions.end()) {
      if (net::Connection* prev = find_conn(old->second); prev != nullptr && prev != &c) {
        ++stats().kicked;
        session_of(*prev).state = Session::State::kGone;
        prev->send(proto::encode_kicked("replaced"), net::SendKind::kReply);
        prev->close(1000, "replaced by a new login");
      }
    }
    if (u->sessions.emplace(r.device, c.id()).second) {
      ++stats().sessions;
      if (u->sessions.size() == 1) user_went_online(*u);
    } else {
      u->sessions[r.device] = c.id();
    }
    s.state = Session::State::kLive;
    s.user = name;
    s.uid = u->uid;
    s.device = r.device;
    c.set_authenticated();
    ++stats().logins;

    refresh_group_heads(*u);
    // Where this connection starts in each conversation: `after`, else the device's cursor; a
    // device never seen before starts at the user's recv cursor (older messages are history).
    Device& dev = u->devices[r.device];
    if (!dev.known) {
      dev.known = true;
      batch.put(store::device_key(u->uid, kDeviceMarker, r.device), encode_u64(0));
      for (auto& [key, ref] : u->convs) {
        dev.cursors[key] = ref.recv;
        persist_device_cursor(*u, ref, r.device, ref.recv);
      }
    }
    s.pump.clear();
    for (auto& [key, ref] : u->convs) {
      auto cur = dev.cursors.find(key);
      s.pump[key].sent = cur == dev.cursors.end() ? 0 : std::min(cur->second, ref.head);
    }
    for (auto& [target, seq] : r.after) {
      auto& index = target.kind == proto::Target::Kind::kGroup ? u->by_group : u->by_peer;
      auto it = index.find(target.name);
      if (it == index.end()) continue;
      s.pump[it->second].sent = std::min(seq, u->convs[it->second].head);
    }

    std::string extra;
    proto::JsonWriter w(extra);
    extra += ",\"uid\":" + std::to_string(u->uid) + ",\"user\":";
    proto::append_json_string(extra, name);
    extra += ",\"token\":";
    proto::append_json_string(extra, mint_token(name));
    extra += ",\"device\":";
    proto::append_json_string(extra, r.device);
    extra += ",\"conversations\":[";
    bool first = true;
    for (auto& [key, ref] : u->convs) {
      if (ref.left) continue;
      if (!first) extra += ',';
      first = false;
      extra += ref.group ? "{\"group\":" : "{\"peer\":";
      proto::append_json_string(extra, ref.name);
      extra += ",\"head\":" + std::to_string(ref.head) + ",\"recv\":" + std::to_string(ref.recv) +
               ",\"read\":" + std::to_string(ref.read);
      if (!ref.group) {
        extra += ",\"peer_recv\":" + std::to_string(ref.peer_recv) +
                 ",\"peer_read\":" + std::to_string(ref.peer_read);
      }
      extra += '}';
    }
    extra += ']';
    reply_ok(c, id, extra);
    pump_all(*u, c, s);
    drain_queue(c);
  }

  // Runs the requests that arrived while the login was in progress, in order.
  void drain_queue(net::Connection& c) {
    Session& s = session_of(c);
    while (!s.queued.empty() && c.open() && s.state != Session::State::kLoggingIn &&
           !s.registering) {
      auto [t, req] = std::move(s.queued.front());
      s.queued.pop_front();
      handle(c, s, t, req);
    }
    if (s.queued.empty()) s.queued_bytes = 0;
  }

  void on_close(net::Connection& c) {
    auto* s = static_cast<Session*>(c.context());
    if (s == nullptr || s->state != Session::State::kLive) return;
    s->state = Session::State::kGone;
    forget_watches(c, *s);
    User* u = find_user(s->user);
    if (u == nullptr) return;
    auto it = u->sessions.find(s->device);
    if (it != u->sessions.end() && it->second == c.id()) {
      u->sessions.erase(it);
      --stats().sessions;
      if (u->sessions.empty()) user_went_offline(*u);
    }
  }

  // ---- delivery pump ---------------------------------------------------------------------

  void pump_all(User& u, net::Connection& c, Session& s) {
    for (auto& [key, ref] : u.convs) {
      if (!pump(ref, c, s)) return;
    }
  }

  void pump_sessions(User& u, ConvRef& ref) {
    for (auto& [device, conn] : u.sessions) {
      net::Connection* c = find_conn(conn);
      if (c == nullptr) continue;
      pump(ref, *c, session_of(*c));
    }
  }

  // Sends this connection what it has not been sent of one conversation while its output has
  // room: from the tail cache when the frames are there, else from the store. Returns false
  // when the connection has no room left (or is gone).
  bool pump(ConvRef& ref, net::Connection& c, Session& s) {
    if (s.state != Session::State::kLive || !c.open()) return false;
    ConnSink sink(c);
    PumpCounters counters;
    PumpResult r = pump_conversation(ref, s.pump[ref.key], backlog, sink, counters);
    stats().messages_delivered += counters.sent;
    if (r == PumpResult::kReadError) {
      ++stats().store_errors;
      log::error("reading a conversation backlog failed; delivery to %s waits for the next event",
                 s.user.c_str());
    }
    return r == PumpResult::kCaughtUp;
  }

  void on_drain(net::Connection& c) {
    auto* s = static_cast<Session*>(c.context());
    if (s == nullptr || s->state != Session::State::kLive) return;
    if (User* u = find_user(s->user)) pump_all(*u, c, *s);
  }

  // ---- sending ---------------------------------------------------------------------------

  void do_send(net::Connection& c, Session& s, User& u, const Ticket& id, proto::SendReq& r) {
    bool group = r.target.kind == proto::Target::Kind::kGroup;
    auto d = u.dedupe.find(r.cid);
    if (d != u.dedupe.end()) {
      DedupeEntry& e = d->second;
      if (!e.done) {
        e.waiters.push_back({c.id(), id});
        return;
      }
      if (e.expires_ms > wall_ms()) {
        ++stats().dedupe_hits;
        reply_ok(c, id, ok_send_extra(r.cid, e.mid, e.seq, e.ts));
        return;
      }
      u.dedupe.erase(d);
    } else if (std::string stored, error;
               svc.store->get(store::dedupe_key(u.uid, r.cid), stored, &error)) {
      DedupeEntry e;  // settled long enough ago to have left memory
      if (decode_dedupe(stored, e) && e.expires_ms > wall_ms()) {
        ++stats().dedupe_hits;
        reply_ok(c, id, ok_send_extra(r.cid, e.mid, e.seq, e.ts));
        return;
      }
    } else if (!error.empty()) {  // cannot tell whether it is a resend: do not store it twice
      ++stats().store_errors;
      reply_error(c, id, ErrorCode::kUnavailable, "the store could not be read");
      return;
    }
    if (group) {
      // Membership is checked on the group's shard; its answer settles the dedupe entry.
      DedupeEntry& e = u.dedupe[r.cid];
      e.started_ns = steady_ns();
      e.waiters.push_back({c.id(), id});
      AppendTask t;
      t.from = u.name;
      t.from_uid = u.uid;
      t.to = r.target.name;
      t.send = std::move(r);
      t.origin_shard = me();
      t.origin = c.id();
      int owner = owner_of_user(t.to, shards());
      shard.post(owner, [t = std::move(t)]() mutable { current_impl().group_send(std::move(t)); });
      return;
    }
    uint64_t peer_uid = resolve_uid(r.target.name);
    if (peer_uid == 0) {
      reply_error(c, id, ErrorCode::kNotFound, "no such user");
      return;
    }
    if (cfg.friends_only && r.target.name != u.name) {
      auto f = u.friends.find(r.target.name);
      if (f == u.friends.end() || f->second.state != User::Friend::kMutual) {
        reply_error(c, id, ErrorCode::kForbidden, "messages go to friends only");
        return;
      }
    }
    DedupeEntry& e = u.dedupe[r.cid];
    e.started_ns = steady_ns();
    e.waiters.push_back({c.id(), id});
    AppendTask t;
    t.conv = ConvId::pair(u.uid, peer_uid);
    t.from = u.name;
    t.from_uid = u.uid;
    t.to = r.target.name;
    t.to_uid = peer_uid;
    t.send = std::move(r);
    t.origin_shard = me();
    t.origin = c.id();
    (void)s;
    int owner = owner_of_conv(t.conv, shards());
    shard.post(owner, [t = std::move(t)]() mutable { current_impl().append(std::move(t)); });
  }

  // On the conversation's owner shard.
  // The conversation's head, loaded once from the store. nullptr if the store could not be
  // read: guessing 0 would hand out seqs that already exist.
  ConvState* conv_state(const ConvId& id, const std::string& key) {
    auto it = conv_states.find(key);
    if (it != conv_states.end()) return &it->second;
    ConvState cs;
    std::string k, v, error;
    ConvId parsed;
    if (svc.store->last(store::msg_prefix(id), k, v, &error)) {
      if (!store::parse_msg_key(k, parsed, cs.head)) return nullptr;
      cs.last_mid = frame_mid(v);
    } else if (!error.empty()) {
      return nullptr;
    }
    return &conv_states.emplace(key, cs).first->second;
  }

  void append(AppendTask t) {
    std::string key = t.conv.bytes();
    ConvState* state = conv_state(t.conv, key);
    if (state == nullptr) {
      ++stats().store_errors;
      int origin = t.origin_shard;
      shard.post(origin, [from = std::move(t.from), cid = std::move(t.send.cid)] {
        current_impl().append_failed(from, cid);
      });
      return;
    }
    ConvState& cs = *state;
    Appended a;
    a.conv = t.conv;
    a.seq = ++cs.head;
    a.mid = new_mid(cs.last_mid);
    cs.last_mid = a.mid;
    a.ts = wall_ms();
    a.from = std::move(t.from);
    a.to = std::move(t.to);
    a.from_uid = t.from_uid;
    a.to_uid = t.to_uid;
    a.cid = t.send.cid;
    a.origin = t.origin;
    proto::MsgView m{a.from,      proto::Target::Kind::kUser, a.to,       a.seq,
                     a.mid,       a.ts,                       a.cid,      t.send.type,
                     t.send.body, t.send.meta};
    a.frame = proto::encode_msg(m);
    batch.put(store::msg_key(t.conv, a.seq), a.frame);
    DedupeEntry e;
    e.conv = key;
    e.seq = a.seq;
    e.mid = a.mid;
    e.ts = a.ts;
    e.expires_ms = a.ts + static_cast<int64_t>(cfg.dedupe_window_ms);
    batch.put(store::dedupe_key(a.from_uid, a.cid), encode_dedupe(e));
    if (a.seq == 1) {  // a new conversation enters both members' lists
      batch.put(store::user_conv_key(a.from_uid, t.conv), encode_conv_entry(a.to, 0, 0));
      batch.put(store::user_conv_key(a.to_uid, t.conv), encode_conv_entry(a.from, 0, 0));
    }
    ++stats().messages_stored;
    batch.after_commit([this, key, a = std::move(a), origin = t.origin_shard](bool ok) mutable {
      if (!ok) {
        ++stats().store_errors;
        ConvState& st = conv_states[key];
        st.head = std::min(st.head, a.seq - 1);
        shard.post(origin, [from = std::move(a.from), cid = std::move(a.cid)] {
          current_impl().append_failed(from, cid);
        });
        return;
      }
      int s1 = owner_of_user(a.from, shards());
      int s2 = owner_of_user(a.to, shards());
      if (s2 != s1) {
        Appended copy = a;
        shard.post(s2, [copy = std::move(copy)]() mutable { current_impl().appended(copy); });
      }
      shard.post(s1, [a = std::move(a)]() mutable { current_impl().appended(a); });
    });
  }

  // A settled cid stays in memory until kDedupeRemembered later ones have settled; then a resend
  // finds it in the store.
  static void remember_settled(User& u, const std::string& cid) {
    u.settled.push_back(cid);
    if (u.settled.size() <= kDedupeRemembered) return;
    auto old = u.dedupe.find(u.settled.front());
    if (old != u.dedupe.end() && old->second.done) u.dedupe.erase(old);
    u.settled.pop_front();
  }

  void append_failed(const std::string& from, const std::string& cid,
                     ErrorCode code = ErrorCode::kUnavailable,
                     std::string_view message = "the message was not stored") {
    User* u = find_user(from);
    if (u == nullptr) return;
    auto it = u->dedupe.find(cid);
    if (it == u->dedupe.end() || it->second.done) return;
    for (const Waiter& w : it->second.waiters) {
      reply_to(w, proto::reply_error(w.id.id, code, message));
    }
    u->dedupe.erase(it);
  }

  // A committed message moves the member's head and joins the tail cache (kept consecutive).
  static void remember(ConvRef& ref, uint64_t seq, const Frame& frame) {
    if (seq <= ref.head) return;
    ref.head = seq;
    if (!ref.tail.empty() && ref.tail.back().first + 1 != seq) ref.tail.clear();
    ref.tail.emplace_back(seq, frame);
    if (ref.tail.size() > kTailFrames) ref.tail.pop_front();
  }

  // On a member's owner shard: a message was committed to one of its conversations.
  void appended(Appended& a) {
    Frame frame = std::make_shared<const std::string>(std::move(a.frame));
    for (int role = 0; role < 2; ++role) {
      const std::string& name = role == 0 ? a.from : a.to;
      if (role == 1 && a.to == a.from) break;
      if (owner_of_user(name, shards()) != me()) continue;
      User* u = find_user(name);
      if (u == nullptr) continue;
      const std::string& peer = role == 0 ? a.to : a.from;
      uint64_t peer_uid = role == 0 ? a.to_uid : a.from_uid;
      ConvRef& ref = ensure_conv(*u, a.conv, peer, peer_uid);
      remember(ref, a.seq, frame);
      if (role == 0) sender_side(*u, ref, a);
      pump_sessions(*u, ref);
    }
  }

  // The sender's cursors move past its own message; the sending connection gets `ok` (and no
  // `msg` copy), so do any retries that waited on the same cid.
  void sender_side(User& u, ConvRef& ref, const Appended& a) {
    if (a.seq > ref.recv || a.seq > ref.read) {
      ref.recv = std::max(ref.recv, a.seq);
      ref.read = std::max(ref.read, a.seq);
      persist_conv_entry(u, ref);
    }
    if (net::Connection* c = find_conn(a.origin)) {
      Session& s = session_of(*c);
      if (s.state == Session::State::kLive && s.user == u.name) {
        ConvPump& p = s.pump[ref.key];
        if (p.sent + 1 == a.seq) {
          p.sent = a.seq;
        } else if (p.sent < a.seq) {
          p.skip.push_back(a.seq);
        }
      }
    }
    DedupeEntry& e = u.dedupe[a.cid];
    if (!e.done) remember_settled(u, a.cid);
    e.done = true;
    e.conv = ref.key;
    e.seq = a.seq;
    e.mid = a.mid;
    e.ts = a.ts;
    e.expires_ms = a.ts + static_cast<int64_t>(cfg.dedupe_window_ms);
    std::vector<Waiter> waiters;
    waiters.swap(e.waiters);
    for (const Waiter& w : waiters) {
      reply_to(w, proto::reply_ok(w.id.id, ok_send_extra(a.cid, a.mid, a.seq, a.ts)));
    }
    if (e.started_ns != 0) {
      stats().send_latency.observe(static_cast<uint64_t>(steady_ns() - e.started_ns));
      e.started_ns = 0;
    }
  }

  // ---- typing ----------------------------------------------------------------------------

  void do_typing(net::Connection& c, User& u, const Ticket& id, proto::TypingReq& r) {
    if (r.target.kind == proto::Target::Kind::kGroup) {
      if (u.by_group.count(r.target.name) == 0) {
        reply_not_member(c, id, r.target.name);
        return;
      }
      reply_quiet_ok(c, id);
      std::string frame = proto::encode_typing(u.name, proto::Target::Kind::kGroup, r.target.name);
      int owner = owner_of_user(r.target.name, shards());
      shard.post(owner, [group = r.target.name, from = u.name, frame = std::move(frame)]() mutable {
        current_impl().group_typing(group, from, std::move(frame));
      });
      return;
    }
    if (resolve_uid(r.target.name) == 0) {
      reply_error(c, id, ErrorCode::kNotFound, "no such user");
      return;
    }
    reply_quiet_ok(c, id);
    if (r.target.name == u.name) return;
    std::string frame = proto::encode_typing(u.name, proto::Target::Kind::kUser, r.target.name);
    int owner = owner_of_user(r.target.name, shards());
    shard.post(owner, [to = std::move(r.target.name), frame = std::move(frame)] {
                 current_impl().push_to_user(to, frame);
               });
  }

  // Ephemeral frames (typing, receipts) to every online device of a user owned here.
  void push_to_user(const std::string& name, const std::string& frame,
                    net::ConnId except = {}) {
    User* u = find_user(name);
    if (u == nullptr) return;
    for (auto& [device, conn] : u->sessions) {
      if (conn == except) continue;
      if (net::Connection* c = find_conn(conn)) c->send(frame, net::SendKind::kEphemeral);
    }
  }

  // ---- ack / read ------------------------------------------------------------------------

  void do_cursor(net::Connection& c, Session& s, User& u, const Ticket& id,
                 proto::CursorReq& r, bool read) {
    bool group = r.target.kind == proto::Target::Kind::kGroup;
    auto& index = group ? u.by_group : u.by_peer;
    auto it = index.find(r.target.name);
    if (group && it == index.end()) {
      reply_not_member(c, id, r.target.name);
      return;
    }
    if (it == index.end()) {
      bool exists = resolve_uid(r.target.name) != 0;
      reply_error(c, id, exists ? ErrorCode::kBadRequest : ErrorCode::kNotFound,
                  exists ? "no messages in that conversation yet" : "no such user");
      return;
    }
    ConvRef& ref = u.convs[it->second];
    if (r.seq > ref.head) {
      reply_error(c, id, ErrorCode::kBadRequest, "seq is beyond the conversation's head");
      return;
    }
    Device& dev = u.devices[s.device];
    uint64_t& dc = dev.cursors[ref.key];
    if (r.seq > dc) {
      dc = r.seq;
      persist_device_cursor(u, ref, s.device, dc);
    }
    bool recv_moved = r.seq > ref.recv;
    bool read_moved = read && r.seq > ref.read;
    if (recv_moved) ref.recv = r.seq;
    if (read_moved) ref.read = r.seq;
    if (recv_moved || read_moved) {
      persist_conv_entry(u, ref);
      ++stats().receipts;
      uint64_t recv = ref.recv, rd = ref.read;
      if (read_moved) {
        // The reader's other devices learn the read position too.
        push_to_user(u.name, proto::encode_receipt(ref.name, group, u.name, true, ref.read),
                     c.id());
      }
      if (group) {
        // Other members read the cursors from group_members; the group's shard keeps them.
        shard.post(owner_of_user(ref.name, shards()),
                   [g = ref.name, me_name = u.name, recv, rd] {
                     current_impl().group_cursor(g, me_name, recv, rd);
                   });
      } else if (ref.name != u.name) {
        shard.post(owner_of_user(ref.name, shards()),
                   [peer = ref.name, me_name = u.name, key = ref.key, recv, rd, read_moved,
                    seq = r.seq] {
                     current_impl().peer_cursor(peer, me_name, key, recv, rd, read_moved, seq);
                   });
      }
    }
    // Cursors are as durable as messages: the answer waits for the commit that holds them.
    if (!batch.pending()) {
      reply_quiet_ok(c, id);
      return;
    }
    batch.after_commit([this, conn = c.id(), id](bool ok) {
      if (ok) {
        net::Connection* c2 = find_conn(conn);
        if (c2 != nullptr) reply_quiet_ok(*c2, id);
      } else {
        ++stats().store_errors;
        deliver(conn, id,
                proto::reply_error(id.id, ErrorCode::kUnavailable, "the cursor could not be stored"));
      }
    });
  }

  // On the other member's shard: `who` moved its cursors in the conversation `key`.
  void peer_cursor(const std::string& name, const std::string& who, const std::string& key,
                   uint64_t recv, uint64_t read, bool read_moved, uint64_t seq) {
    User* u = find_user(name);
    if (u == nullptr) return;
    auto it = u->convs.find(key);
    if (it != u->convs.end()) {
      it->second.peer_recv = std::max(it->second.peer_recv, recv);
      it->second.peer_read = std::max(it->second.peer_read, read);
    }
    push_to_user(name, proto::encode_receipt(who, false, who, read_moved, seq));
  }

  // ---- history ---------------------------------------------------------------------------

  void do_history(net::Connection& c, User& u, const Ticket& id, proto::HistoryReq& r) {
    if (r.target.kind == proto::Target::Kind::kGroup) {
      auto g = u.by_group.find(r.target.name);
      if (g == u.by_group.end()) return reply_not_member(c, id, r.target.name);
      return send_history(c, id, u.convs[g->second], r);
    }
    auto it = u.by_peer.find(r.target.name);
    if (it == u.by_peer.end()) {
      if (resolve_uid(r.target.name) == 0) {
        reply_error(c, id, ErrorCode::kNotFound, "no such user");
      } else {
        reply_ok(c, id, ",\"messages\":[]");
      }
      return;
    }
    send_history(c, id, u.convs[it->second], r);
  }

  void send_history(net::Connection& c, const Ticket& id, const ConvRef& ref,
                    const proto::HistoryReq& r) {
    uint64_t head = ref.head;
    if (ref.group) {
      // Group messages reach only online members' shards, so an offline member's head may lag:
      // the log's last key is the truth (one seek).
      std::string k, v;
      ConvId parsed;
      uint64_t last = 0;
      if (svc.store->last(store::msg_prefix(ref.id), k, v) && store::parse_msg_key(k, parsed, last)) {
        head = std::max(head, last);
      }
    }
    uint64_t before = r.before == 0 ? head + 1 : std::min(r.before, head + 1);
    uint64_t from = before > r.limit ? before - r.limit : 1;
    std::vector<std::string> frames;
    bool ok = svc.store->scan(store::msg_prefix(ref.id), store::msg_key(ref.id, from),
                              [&](std::string_view key, std::string_view value) {
                                ConvId cid;
                                uint64_t seq = 0;
                                if (!store::parse_msg_key(key, cid, seq) || seq >= before) {
                                  return false;
                                }
                                frames.emplace_back(value);
                                return true;
                              });
    if (!ok) {
      ++stats().store_errors;
      reply_error(c, id, ErrorCode::kUnavailable, "history could not be read");
      return;
    }
    std::string extra = ",\"messages\":[";
    bool first = true;
    for (auto f = frames.rbegin(); f != frames.rend(); ++f) {
      if (!first) extra += ',';
      first = false;
      if (!proto::msg_to_history_entry(*f, extra)) extra += "null";
    }
    extra += ']';
    reply_ok(c, id, extra);
  }

  // ---- groups (groups.cc) ----------------------------------------------------------------
  std::unordered_map<std::string, GroupState> groups;  // owned groups, by name
  uint64_t next_gid = 0;

  bool load_groups(std::string& error);
  static void respond(int origin, net::ConnId conn, Ticket t, std::string frame);
  void do_group_op(net::Connection& c, User& u, const Ticket& t, proto::Op op, proto::GroupReq& r);
  void do_groups(net::Connection& c, User& u, const Ticket& t);
  void group_send(AppendTask t);
  void group_typing(const std::string& group, const std::string& from, std::string frame);
  void group_cursor(const std::string& group, const std::string& user, uint64_t recv,
                    uint64_t read);
  void group_appended(Appended& a);
  // On the group's shard: applies a membership change or answers a query; see groups.cc.
  struct GroupCall {
    proto::Op op;
    std::string group;
    uint64_t uid = 0;
    std::string user;
    std::vector<std::pair<uint64_t, std::string>> members;  // resolved uids
    int origin = 0;
    net::ConnId conn;
    Ticket ticket;
    bool admin = false;  // the back-end (api key): acts with the group owner's rights
  };
  void group_call(GroupCall call);
  uint64_t append_to_group(GroupState& g, const std::string& from, uint64_t from_uid,
                           const proto::SendReq& send, Appended& out);
  void system_message(GroupState& g, const std::string& by, std::string_view event,
                      const std::vector<std::string>& users, std::string_view text,
                      std::vector<std::string> gone, std::vector<std::string> extra_recipients,
                      std::function<void(bool)> done);
  void fan_out(Appended a, const std::vector<std::string>& recipients);
  void tell_group(User& u, const std::string& group, bool online);
  void tell_groups(User& u, bool online);
  void member_presence(const std::string& group, const std::string& name, bool online);
  void group_head(const std::string& name, const std::string& group, const std::string& key,
                  uint64_t head);
  void refresh_group_heads(User& u);

  // ---- presence (presence.cc) ------------------------------------------------------------
  std::set<std::string> online_dir;  // shard 0 only: every online user, sorted by bytes
  void user_went_online(User& u);
  void user_went_offline(User& u);
  std::vector<bool> online_flags(const std::vector<std::string>& names) const;
  void do_online(net::Connection& c, const Ticket& t, const proto::OnlineReq& r);
  void notify_presence(User& u, bool online, int64_t ts);
  bool load_friends(User& u);
  struct PresenceInfo;
  void gather_presence(const std::vector<std::string>& names, std::function<void(User&)> with,
                       std::function<void(std::vector<PresenceInfo>)> done);
  void do_watch(net::Connection& c, Session& s, const Ticket& t, const proto::UsersReq& r,
                bool watch);
  void drop_watcher(const std::string& name, int sh, net::ConnId conn);
  void forget_watches(net::Connection& c, Session& s);
  void do_friend(net::Connection& c, User& u, const Ticket& t, proto::Op op,
                 const proto::UserReq& r);
  void friend_update(const std::string& name, const std::string& other, uint64_t other_uid,
                     uint8_t state);
  void do_friends(net::Connection& c, User& u, const Ticket& t);

  // ---- HTTP API (api.cc) -----------------------------------------------------------------
  // Stands in for the client connection in handle() during an API call. Never on the network:
  // its id resolves to nothing, and every reply goes to the ticket's ApiSink.
  std::unique_ptr<net::Connection> api_conn_;
  net::Connection& api_conn();
  std::shared_ptr<const ApiSink> sink_here(ChatShard::ApiDone done);
  void api_as(const std::string& user, proto::Request& req, std::shared_ptr<const ApiSink> sink);
  void api_token(const std::string& user, std::string password,
                 std::shared_ptr<const ApiSink> sink);
  void api_presence(const std::string& user, std::shared_ptr<const ApiSink> sink);
  std::string mint_token(const std::string& user) const {
    int64_t now_s = wall_ms() / 1000;
    return auth::jwt_sign(svc.jwt, user, now_s, now_s + static_cast<int64_t>(cfg.token_ttl_s));
  }

  static Impl& current_impl() { return *ChatShard::current()->impl_; }
};

}  // namespace parley::chat
