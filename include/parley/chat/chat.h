// The chat core of one shard: accounts and sessions, 1:1 conversations, delivery by cursor
// pumping, acks, read receipts and history (PROTOCOL.md "Identity and sessions" through
// "History"). One ChatShard per shard thread; it touches only its own state and talks to other
// shards by posting tasks.
//
// Ownership (DESIGN.md "Threads and ownership"):
//   user u          -> shard owner_of_user(u.name): the user's sessions (all its connections are
//                      handed here at login), devices, cursors, conversation list, dedupe table.
//   conversation c  -> shard owner_of_conv(c): its head seq and last mid; it appends messages.
// A send travels sender's shard -> conversation's shard (append in this tick's batch, commit)
// -> every member's shard ("appended": update head, tail cache, pump to sessions, reply ok).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "parley/auth/jwt.h"
#include "parley/proto/request.h"
#include "parley/store/keys.h"
#include "parley/util/histogram.h"

namespace parley::net {
class Connection;
}
namespace parley::shard {
class Shard;
}
namespace parley::store {
class Store;
}
namespace parley::server {
struct Config;
}

namespace parley::chat {

// Process-wide, read-only after start: shared by every shard.
struct Services {
  const server::Config* config = nullptr;
  store::Store* store = nullptr;
  auth::JwtKey jwt{std::string()};
  int shards = 1;
  uint64_t first_uid = 1;  // users created from now on get uids >= this (see ChatShard::load)
  uint64_t first_gid = 1;  // the same for groups
};

// Stable over restarts (not std::hash): a user's and a conversation's owner shard.
uint64_t name_hash(std::string_view name);
int owner_of_user(std::string_view name, int shards);
int owner_of_conv(const store::ConvId& conv, int shards);

// Scans the user table once and returns the largest uid in use (0 if none).
uint64_t max_uid(const store::Store& store, std::string& error);
uint64_t max_gid(const store::Store& store, std::string& error);

class ChatShard {
 public:
  ChatShard(shard::Shard& shard, const Services& services);
  ~ChatShard();
  ChatShard(const ChatShard&) = delete;
  ChatShard& operator=(const ChatShard&) = delete;

  // The chat shard running on this thread, or nullptr.
  static ChatShard* current();

  // Recovery: loads every user this shard owns with its conversation list, cursors, devices
  // and dedupe entries from the store. Returns false (with `error`) if the store cannot be read.
  bool load(std::string& error);

  // A decoded request from a client connection (WebSocket or TCP).
  void on_request(net::Connection& c, proto::Request& req);
  // The error reply to a frame that did not decode (sent in its turn among the replies).
  void on_bad_frame(net::Connection& c, std::string frame);
  // True while the connection's login is in progress (its requests wait for the outcome).
  bool logging_in(net::Connection& c) const;
  void on_close(net::Connection& c);
  void on_drain(net::Connection& c);

  // Pushes an ephemeral {"op":"msg","broadcast":true,...} to every logged-in connection on every
  // shard (not stored). `done(n)` runs here with the number of connections it was queued for.
  void broadcast(const proto::BroadcastReq& req, std::function<void(size_t)> done);

  // ---- HTTP API (api.cc) -------------------------------------------------------------------
  // Each call runs one operation for the HTTP API and then calls `done` on this shard with the
  // reply frame a client connection would get ({"op":"ok",...} or {"op":"error",...}, no id).
  using ApiDone = std::function<void(std::string frame)>;
  // As `user`, who must exist: send, history, group_create/add/remove/leave/members, groups,
  // friends. Anything else is bad_request.
  void api_as(std::string user, proto::Request req, ApiDone done);
  // group_add, group_remove or group_members with the owner's rights (back-end, api key).
  void api_group_admin(proto::Op op, proto::GroupReq req, ApiDone done);
  // Registers a user; `api_key` lets it through when registration is closed. ok has `uid`.
  void api_register(proto::RegisterReq req, bool api_key, ApiDone done);
  // Checks a password and mints a token: ok has `token` and `uid`.
  void api_token(std::string user, std::string password, ApiDone done);
  // One user's presence: ok has `user`, `online`, `last_seen`; not_found for an unknown user.
  void api_presence(std::string user, ApiDone done);
  // The online list, as the `online` op answers it.
  void api_online(proto::OnlineReq req, ApiDone done);
  // The user a valid token (signature, alg, exp) names; false for anything else.
  bool verify_token(std::string_view token, std::string& user) const;
  const Services& services() const;

  struct Stats {
    uint64_t logins = 0, login_failures = 0, login_throttled = 0, registrations = 0;
    uint64_t user_rate_limited = 0;
    uint64_t messages_stored = 0, messages_delivered = 0, receipts = 0;
    uint64_t dedupe_hits = 0, store_errors = 0, kicked = 0;
    uint64_t users = 0, sessions = 0;
    uint64_t commits = 0;                // this shard's group commits (one per busy tick)
    LatencyHistogram commit_latency;     // each of them, store write included
    LatencyHistogram send_latency;       // send received -> ok sent (on the sender's shard)
  };
  const Stats& stats() const { return stats_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  Stats stats_;
};

}  // namespace parley::chat
