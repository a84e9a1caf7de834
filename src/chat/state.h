// In-memory state of the chat core (private to src/chat). Everything here is owned by one shard
// and touched only on its thread; see include/parley/chat/chat.h for who owns what.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "parley/util/ring_queue.h"
#include "parley/util/token_bucket.h"
#include "parley/net/connection.h"
#include "parley/net/handler.h"
#include "parley/proto/command.h"
#include "parley/proto/request.h"
#include "parley/store/keys.h"

namespace parley::chat {

using Frame = std::shared_ptr<const std::string>;

// A conversation as one member sees it (on the member's owner shard).
struct ConvRef {
  store::ConvId id;
  std::string key;          // id.bytes(): the map key everywhere
  bool group = false;
  std::string name;         // the peer (1:1) or the group
  uint64_t peer_uid = 0;    // 1:1
  uint64_t head = 0;        // last seq this shard has heard of (committed)
  uint64_t recv = 0;        // this user's cursors
  uint64_t read = 0;
  uint64_t peer_recv = 0;   // 1:1: the other member's cursors
  uint64_t peer_read = 0;
  uint64_t floor = 0;       // seqs up to this one were trimmed by retention (as far as we know)
                            // or predate this member's join (groups)
  bool left = false;        // groups: no longer a member (kept until restart to finish delivery)
  util::RingQueue<std::pair<uint64_t, Frame>> tail;  // the newest frames, consecutive seqs
};

// A request's place in its connection's reply order: replies go out in request order even
// when an earlier request is answered later (by another shard, after a commit, ...).
// An HTTP API call has no connection: its reply frame goes to `api` instead (which may run on any
// shard; it posts the frame back to the shard that serves the HTTP request).
using ApiSink = std::function<void(std::string frame)>;

struct Ticket {
  proto::RequestId id;
  uint64_t n = 0;
  std::shared_ptr<const ApiSink> api;  // set for HTTP API calls only
};

// A request waiting for a result computed elsewhere (another shard, the store, a thread pool).
struct Waiter {
  net::ConnId conn;
  Ticket id;
};

// (sender, cid) -> the first message's reply. Pending while its append is in flight.
struct DedupeEntry {
  bool done = false;
  std::string conv;  // ConvId bytes
  uint64_t seq = 0;
  uint64_t mid = 0;
  int64_t ts = 0;
  int64_t expires_ms = 0;
  int64_t started_ns = 0;  // steady clock when the send arrived (for the send->ok histogram)
  std::vector<Waiter> waiters;
};

struct Device {
  bool known = false;                                // has logged in before (persisted marker)
  std::unordered_map<std::string, uint64_t> cursors;  // conv key -> acked seq
};

struct User {
  uint64_t uid = 0;
  std::string name;
  std::string pwhash;       // empty: token-only user (created by jwt_auto_create)
  bool committed = true;    // false while its registration is being written
  int64_t last_seen = 0;    // ms; 0 = never (persisted when the last device goes)
  enum class Friend : uint8_t { kOut = 1, kIn = 2, kMutual = 3 };
  struct FriendRef {
    uint64_t uid = 0;
    Friend state = Friend::kOut;
  };
  std::map<std::string, FriendRef> friends;  // by peer name
  // Connections (shard, id) watching this user's presence.
  std::vector<std::pair<int, net::ConnId>> watchers;
  std::unordered_map<std::string, ConvRef> convs;         // by conv key
  std::unordered_map<std::string, std::string> by_peer;   // peer name -> conv key (1:1)
  std::unordered_map<std::string, std::string> by_group;  // group name -> conv key
  std::unordered_map<std::string, Device> devices;
  std::unordered_map<std::string, net::ConnId> sessions;  // device -> its live connection
  // cid -> entry: every send in flight, and the latest kDedupeRemembered settled ones (in
  // `settled`, oldest first); older ones are looked up in the store.
  std::unordered_map<std::string, DedupeEntry> dedupe;
  util::RingQueue<std::string> settled;
  TokenBucket requests;     // every device's requests (cfg.user_rate_limit)
  TokenBucket login_guard;  // failed password logins (cfg.login_attempts); full after a success
};

// Per connection and conversation: what this connection has been sent.
struct ConvPump {
  uint64_t sent = 0;
  std::vector<uint64_t> skip;  // own messages (answered with ok), ascending
};

// The per-connection context; moves with the connection when it is handed to another shard.
struct Session final : net::ConnContext {
  enum class State : uint8_t { kAnon, kLoggingIn, kLive, kGone };
  State state = State::kAnon;
  std::string user;
  uint64_t uid = 0;
  std::string device;
  uint8_t failed_logins = 0;  // on this connection; kMaxFailedLogins closes it
  bool registering = false;  // a register is running: later requests wait (a login right
                             // behind it must find the account)
  util::RingQueue<std::pair<Ticket, proto::Request>> queued;  // arrived while a login or register ran
  size_t queued_bytes = 0;
  uint64_t tickets = 0;                     // requests received so far
  uint64_t next_out = 0;                    // the ticket whose reply goes out next
  std::map<uint64_t, std::string> parked;   // later replies that are ready early ("" = none)
  std::unordered_map<std::string, ConvPump> pump;  // by conv key
  std::set<std::string> watching;                  // users whose presence this one watches
};

// A group as its owner shard sees it.
struct GroupMember {
  uint64_t uid = 0;
  std::string name;
  bool owner = false;
  uint64_t since = 0;  // join order (the group's member counter when this one joined)
  uint64_t recv = 0;
  uint64_t read = 0;
  bool online = false;  // runtime: told by the member's shard; messages fan out to these
};

struct GroupState {
  std::string name;
  uint64_t gid = 0;
  store::ConvId conv;
  std::string key;                   // conv.bytes()
  uint64_t head = 0;
  uint64_t committed_head = 0;       // the last seq known to be in the store
  uint64_t last_mid = 0;
  uint64_t joins = 0;                // member counter (orders members by standing)
  int64_t created = 0;               // ms
  std::vector<GroupMember> members;  // oldest first
  bool committed = true;             // false while its creation is being written
  // Calls for the group that arrived while it was being created (a client may pipeline
  // `group_create` and a `send` to the group): run, in order, once the creation is settled.
  std::vector<std::function<void()>> parked;

  GroupMember* member(std::string_view user) {
    for (GroupMember& m : members) {
      if (m.name == user) return &m;
    }
    return nullptr;
  }
};

// A conversation as its owner shard sees it: where the next message goes.
struct ConvState {
  uint64_t head = 0;
  uint64_t last_mid = 0;
};

}  // namespace parley::chat
