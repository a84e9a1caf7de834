// The chat shard's implementation (private to src/chat): the state and operations of one
// shard, declared here and defined by topic: chat.cc (the shard's entry points), recovery.cc
// (start and housekeeping), requests.cc (dispatch, login queue, delivery pump), login.cc
// (accounts and sessions), messages.cc (1:1 send, typing, cursors, history), groups.cc,
// presence.cc (presence and friends), api.cc (the HTTP API); records.h holds the stored
// values. Everything here runs on the shard's own thread.
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
#include "records.h"
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

// Stored records: records.h.

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

  bool load(std::string& error);

  bool load_user(User& u);

  // ---- housekeeping: retention and dedupe expiry ------------------------------------------

  static constexpr size_t kSweepBudget = 20000;  // stored messages examined per sweep

  // Every retention period (clamped to 1 s .. 60 s) this shard trims the conversations it is
  // responsible for and forgets expired dedupe entries of its users. A sweep examines a bounded
  // number of messages so it never holds the loop for long; what is left waits for the next.
  void start_sweeper();

  // Expired dedupe records of this shard's users, deleted from the store: at most
  // kSweepBudget examined per sweep, resuming where the last one stopped (a user index into
  // `users` and a key; a rehash may make it skip or repeat a few users, which only delays
  // their turn). A cid with an entry in memory is in flight or settled recently: not touched.
  size_t dedupe_sweep_user = 0;
  std::string dedupe_sweep_key;

  void sweep_dedupe(int64_t now);

  void sweep();

  // Deletes the oldest messages that both rules let go: older than the cutoff and not among
  // the newest retention_count. The newest message always stays (it anchors the head seq).
  // Returns the last seq deleted (0: none). The caller tells the members' shards.
  uint64_t trim_log(const ConvId& conv, uint64_t head, int64_t cutoff_ms, size_t& budget);

  // Members' shards drop the trimmed frames from their tail caches and skip them.
  void announce_trim(const std::vector<std::string>& members, const std::string& key,
                     uint64_t upto);

  void trim(const User& u, const ConvRef& ref, int64_t cutoff_ms, size_t& budget);

  void trimmed(const std::string& name, const std::string& key, uint64_t upto);

  // ---- requests --------------------------------------------------------------------------

  void on_request(net::Connection& c, proto::Request& req);

  static size_t request_bytes(const proto::Request& req);

  // A frame that could not be decoded: its error reply takes its turn like any other.
  void on_bad_frame(net::Connection& c, std::string frame);

  void handle(net::Connection& c, Session& s, const Ticket& id, proto::Request& req);

  // ---- register --------------------------------------------------------------------------

  // Runs `work` on libuv's thread pool (password hashing is deliberately slow: it must not
  // hold the loop), then `done` back on this shard.
  template <typename Work, typename Done>
  void offload(Work work, Done done) {
    parley::offload(shard.loop(), std::move(work), std::move(done));
  }

  // `forced`: registration by the back-end (api key), allowed even when it is closed.
  void do_register(net::Connection& c, const Ticket& id, proto::RegisterReq& r,
                   bool forced = false);

  static void answer_register(int origin, net::ConnId conn, Ticket id, ErrorCode code,
                              uint64_t uid);

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

  void do_login(net::Connection& c, Session& s, const Ticket& id, proto::LoginReq& r);

  void login_here(net::Connection& c, const Ticket& id, std::string name, bool by_token,
                  proto::LoginReq r);

  double login_rate() const { return 1000.0 / static_cast<double>(cfg.login_attempt_interval_ms); }
  static uint64_t shard_clock_ms() { return net::NetShard::current()->clock().now_ms(); }

  // Failed logins from the connection's address: login_attempts x 4 in a burst (addresses are
  // shared behind NATs), then one per login_attempt_interval.
  bool address_may_log_in(net::Connection& c, uint64_t now) const;

  void login_failed(net::Connection& c, const Ticket& id, ErrorCode code);

  void attach(net::Connection& c, const Ticket& id, const std::string& name,
              proto::LoginReq r);

  // Runs the requests that arrived while the login was in progress, in order.
  void drain_queue(net::Connection& c);

  void on_close(net::Connection& c);

  // ---- delivery pump ---------------------------------------------------------------------

  void pump_all(User& u, net::Connection& c, Session& s);

  void pump_sessions(User& u, ConvRef& ref);

  // Sends this connection what it has not been sent of one conversation while its output has
  // room: from the tail cache when the frames are there, else from the store. Returns false
  // when the connection has no room left (or is gone).
  bool pump(ConvRef& ref, net::Connection& c, Session& s);

  void on_drain(net::Connection& c);

  // ---- sending ---------------------------------------------------------------------------

  void do_send(net::Connection& c, Session& s, User& u, const Ticket& id, proto::SendReq& r);

  // On the conversation's owner shard.
  // The conversation's head, loaded once from the store. nullptr if the store could not be
  // read: guessing 0 would hand out seqs that already exist.
  ConvState* conv_state(const ConvId& id, const std::string& key);

  void append(AppendTask t);

  // A settled cid stays in memory until kDedupeRemembered later ones have settled; then a resend
  // finds it in the store.
  static void remember_settled(User& u, const std::string& cid);

  void append_failed(const std::string& from, const std::string& cid,
                     ErrorCode code = ErrorCode::kUnavailable,
                     std::string_view message = "the message was not stored");

  // A committed message moves the member's head and joins the tail cache (kept consecutive).
  static void remember(ConvRef& ref, uint64_t seq, const Frame& frame);

  // On a member's owner shard: a message was committed to one of its conversations.
  void appended(Appended& a);

  // The sender's cursors move past its own message; the sending connection gets `ok` (and no
  // `msg` copy), so do any retries that waited on the same cid.
  void sender_side(User& u, ConvRef& ref, const Appended& a);

  // ---- typing ----------------------------------------------------------------------------

  void do_typing(net::Connection& c, User& u, const Ticket& id, proto::TypingReq& r);

  // Ephemeral frames (typing, receipts) to every online device of a user owned here.
  void push_to_user(const std::string& name, const std::string& frame,
                    net::ConnId except = {});

  // ---- ack / read ------------------------------------------------------------------------

  void do_cursor(net::Connection& c, Session& s, User& u, const Ticket& id,
                 proto::CursorReq& r, bool read);

  // On the other member's shard: `who` moved its cursors in the conversation `key`.
  void peer_cursor(const std::string& name, const std::string& who, const std::string& key,
                   uint64_t recv, uint64_t read, bool read_moved, uint64_t seq);

  // ---- history ---------------------------------------------------------------------------

  void do_history(net::Connection& c, User& u, const Ticket& id, proto::HistoryReq& r);

  void send_history(net::Connection& c, const Ticket& id, const ConvRef& ref,
                    const proto::HistoryReq& r);

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
