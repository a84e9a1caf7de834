// Presence: a user is online while any of its devices is connected. The user's shard sees the
// transitions and tells the directory on shard 0, which keeps the sorted set of online users
// (so `online` pages and counts without asking every shard). last_seen is persisted by the
// user's shard when its last device goes.
#include "impl.h"

namespace parley::chat {

void ChatShard::Impl::user_went_online(User& u) {
  shard.post(0, [name = u.name] { current_impl().online_dir.insert(name); });
  tell_groups(u, true);
  notify_presence(u, true, wall_ms());
}

void ChatShard::Impl::user_went_offline(User& u) {
  u.last_seen = wall_ms();
  batch.put(store::presence_key(u.uid), encode_u64(static_cast<uint64_t>(u.last_seen)));
  shard.post(0, [name = u.name] { current_impl().online_dir.erase(name); });
  tell_groups(u, false);
  notify_presence(u, false, u.last_seen);
}

std::vector<bool> ChatShard::Impl::online_flags(const std::vector<std::string>& names) const {
  std::vector<bool> out;
  out.reserve(names.size());
  for (const std::string& n : names) out.push_back(online_dir.count(n) != 0);
  return out;
}

void ChatShard::Impl::do_online(net::Connection& c, const Ticket& t, const proto::OnlineReq& r) {
  struct Page {
    std::vector<std::string> users;
    size_t count = 0;
  };
  shard.ask(
      0,
      [after = r.after, limit = r.limit] {
        const auto& dir = current_impl().online_dir;
        Page p;
        p.count = dir.size();
        for (auto it = after.empty() ? dir.begin() : dir.upper_bound(after);
             it != dir.end() && p.users.size() < limit; ++it) {
          p.users.push_back(*it);
        }
        return p;
      },
      [conn = c.id(), t](Page p) {
        std::string extra = ",\"users\":[";
        for (size_t i = 0; i < p.users.size(); ++i) {
          if (i != 0) extra += ',';
          proto::append_json_string(extra, p.users[i]);
        }
        extra += "],\"count\":" + std::to_string(p.count);
        deliver(conn, t, proto::reply_ok(t.id, extra));
      });
}

}  // namespace parley::chat

namespace parley::chat {

// One user's presence as `watch` and `friends` report it.
struct ChatShard::Impl::PresenceInfo {
  std::string user;
  bool online = false;
  int64_t last_seen = 0;
};

namespace {

std::string presence_frame(std::string_view user, bool online, int64_t ts) {
  std::string f = "{\"op\":\"presence\",\"user\":";
  proto::append_json_string(f, user);
  f += std::string(",\"online\":") + (online ? "true" : "false") + ",\"ts\":" + std::to_string(ts) + "}";
  return f;
}

std::string friend_value(std::string_view peer, User::Friend state) {
  store::Writer w;
  w.put_str(peer);
  w.put_u64(static_cast<uint64_t>(state));
  return w.take();
}

using PresenceInfo = ChatShard::Impl::PresenceInfo;

void append_presence(std::string& out, const PresenceInfo& p) {
  out += "{\"user\":";
  proto::append_json_string(out, p.user);
  out += std::string(",\"online\":") + (p.online ? "true" : "false") + ",\"last_seen\":";
  out += p.last_seen == 0 ? std::string("null") : std::to_string(p.last_seen);
  out += '}';
}

}  // namespace

// Pushes a presence change to the user's watchers and friends (on their shards).
void ChatShard::Impl::notify_presence(User& u, bool online, int64_t ts) {
  std::string frame = presence_frame(u.name, online, ts);
  for (auto& [sh, conn] : u.watchers) {
    shard.post(sh, [conn = conn, frame] {
      if (net::Connection* c = find_conn(conn)) c->send(frame, net::SendKind::kEphemeral);
    });
  }
  std::vector<std::string> friends;
  for (auto& [name, f] : u.friends) {
    if (f.state == User::Friend::kMutual) friends.push_back(name);
  }
  // The friend's own side decides: one that just ended the friendship hears nothing.
  post_per_owner(friends, [who = u.name, frame](std::vector<std::string> names) {
    Impl& impl = current_impl();
    for (const std::string& n : names) {
      User* f = impl.find_user(n);
      if (f == nullptr) continue;
      auto it = f->friends.find(who);
      if (it != f->friends.end() && it->second.state == User::Friend::kMutual) {
        impl.push_to_user(n, frame);
      }
    }
  });
}

bool ChatShard::Impl::load_friends(User& u) {
  return svc.store->scan(store::friend_prefix(u.uid), "", [&](std::string_view key, std::string_view v) {
    uint64_t uid = 0, peer = 0;
    store::Reader in(v);
    std::string_view name;
    uint64_t state = 0;
    if (!store::parse_friend_key(key, uid, peer) || !in.str(name) || !in.u64(state)) return true;
    if (state < 1 || state > 3) return true;
    u.friends[std::string(name)] = {peer, static_cast<User::Friend>(state)};
    return true;
  });
}

// Asks each user's shard for its presence (and runs `with` on it there first, e.g. to add a
// watcher); calls done(list in the order of `names`) back here.
void ChatShard::Impl::gather_presence(
    const std::vector<std::string>& names,
    std::function<void(User&)> with,
    std::function<void(std::vector<PresenceInfo>)> done) {
  struct Gather {
    std::vector<PresenceInfo> out;
    size_t pending = 0;
    std::function<void(std::vector<PresenceInfo>)> done;
  };
  auto g = std::make_shared<Gather>();
  g->out.resize(names.size());
  g->done = std::move(done);
  std::vector<std::vector<size_t>> per_shard(static_cast<size_t>(shards()));
  for (size_t i = 0; i < names.size(); ++i) {
    per_shard[static_cast<size_t>(owner_of_user(names[i], shards()))].push_back(i);
  }
  for (auto& idx : per_shard) g->pending += idx.empty() ? 0 : 1;
  if (g->pending == 0) return g->done({});
  for (int k = 0; k < shards(); ++k) {
    auto& idx = per_shard[static_cast<size_t>(k)];
    if (idx.empty()) continue;
    std::vector<std::string> batch_names;
    for (size_t i : idx) batch_names.push_back(names[i]);
    shard.ask(
        k,
        [batch_names = std::move(batch_names), with] {
          std::vector<PresenceInfo> res;
          for (const std::string& n : batch_names) {
            PresenceInfo p{n, false, 0};
            if (User* u = current_impl().find_user(n)) {
              if (with) with(*u);
              p.online = !u->sessions.empty();
              p.last_seen = u->last_seen;
            }
            res.push_back(std::move(p));
          }
          return res;
        },
        [g, idx](std::vector<PresenceInfo> res) {
          for (size_t j = 0; j < idx.size() && j < res.size(); ++j) g->out[idx[j]] = std::move(res[j]);
          if (--g->pending == 0) g->done(std::move(g->out));
        });
  }
}

void ChatShard::Impl::do_watch(net::Connection& c, Session& s, const Ticket& t,
                               const proto::UsersReq& r, bool watch) {
  if (!watch) {
    for (const std::string& name : r.users) {
      if (s.watching.erase(name) == 0) continue;
      shard.post(owner_of_user(name, shards()), [name, sh = me(), conn = c.id()] {
        current_impl().drop_watcher(name, sh, conn);
      });
    }
    return reply_ok(c, t);
  }
  std::vector<std::string> fresh;
  for (const std::string& name : r.users) {
    if (resolve_uid(name) == 0) return reply_error(c, t, ErrorCode::kNotFound, "no such user: " + name);
    if (s.watching.count(name) == 0) fresh.push_back(name);
  }
  if (s.watching.size() + fresh.size() > static_cast<size_t>(cfg.max_watch)) {
    return reply_error(c, t, ErrorCode::kTooLarge, "more watched users than max_watch");
  }
  for (const std::string& name : fresh) s.watching.insert(name);
  std::set<std::string> add(fresh.begin(), fresh.end());
  int sh = me();
  net::ConnId conn = c.id();
  gather_presence(
      r.users,
      [add, sh, conn](User& u) {
        if (add.count(u.name) != 0) u.watchers.emplace_back(sh, conn);
      },
      [conn, t](std::vector<PresenceInfo> list) {
        std::string extra = ",\"presence\":[";
        for (size_t i = 0; i < list.size(); ++i) {
          if (i != 0) extra += ',';
          append_presence(extra, list[i]);
        }
        extra += ']';
        deliver(conn, t, proto::reply_ok(t.id, extra));
      });
}

void ChatShard::Impl::drop_watcher(const std::string& name, int sh, net::ConnId conn) {
  User* u = find_user(name);
  if (u == nullptr) return;
  std::erase_if(u->watchers, [&](const auto& w) { return w.first == sh && w.second == conn; });
}

void ChatShard::Impl::forget_watches(net::Connection& c, Session& s) {
  for (const std::string& name : s.watching) {
    shard.post(owner_of_user(name, shards()), [name, sh = me(), conn = c.id()] {
      current_impl().drop_watcher(name, sh, conn);
    });
  }
  s.watching.clear();
}

// ---- friends -------------------------------------------------------------------------------

void ChatShard::Impl::do_friend(net::Connection& c, User& u, const Ticket& t, proto::Op op,
                                const proto::UserReq& r) {
  const std::string& peer = r.user;
  auto answer_after_commit = [this, conn = c.id(), t] {
    batch.after_commit([conn, t](bool ok) {
      deliver(conn, t,
              ok ? proto::reply_ok(t.id)
                 : proto::reply_error(t.id, ErrorCode::kUnavailable, "the change could not be stored"));
    });
  };
  auto it = u.friends.find(peer);
  int peer_shard = owner_of_user(peer, shards());
  if (op == Op::kFriendRemove) {
    if (it == u.friends.end()) return reply_error(c, t, ErrorCode::kNotFound, "not a friend");
    batch.del(store::friend_key(u.uid, it->second.uid));
    u.friends.erase(it);
    shard.post(peer_shard, [peer, me_name = u.name] { current_impl().friend_update(peer, me_name, 0, 0); });
    return answer_after_commit();
  }
  if (peer == u.name) return reply_error(c, t, ErrorCode::kBadRequest, "that is you");
  bool accept = op == Op::kFriendAccept ||
                (it != u.friends.end() && it->second.state == User::Friend::kIn);
  if (op == Op::kFriendAccept && (it == u.friends.end() || it->second.state != User::Friend::kIn)) {
    return reply_error(c, t, ErrorCode::kNotFound, "no pending request from that user");
  }
  if (it != u.friends.end() && it->second.state == User::Friend::kMutual) return reply_ok(c, t);
  uint64_t peer_uid = it != u.friends.end() ? it->second.uid : resolve_uid(peer);
  if (peer_uid == 0) return reply_error(c, t, ErrorCode::kNotFound, "no such user");
  User::Friend mine = accept ? User::Friend::kMutual : User::Friend::kOut;
  u.friends[peer] = {peer_uid, mine};
  batch.put(store::friend_key(u.uid, peer_uid), friend_value(peer, mine));
  uint8_t theirs = static_cast<uint8_t>(accept ? User::Friend::kMutual : User::Friend::kIn);
  shard.post(peer_shard, [peer, me_name = u.name, me_uid = u.uid, theirs] {
    current_impl().friend_update(peer, me_name, me_uid, theirs);
  });
  answer_after_commit();
}

// On `name`'s shard: `other` changed their side; state 0 = the friendship is gone.
void ChatShard::Impl::friend_update(const std::string& name, const std::string& other,
                                    uint64_t other_uid, uint8_t state) {
  User* u = find_user(name);
  if (u == nullptr) return;
  auto it = u->friends.find(other);
  if (state == 0) {
    if (it == u->friends.end()) return;
    batch.del(store::friend_key(u->uid, it->second.uid));
    u->friends.erase(it);
    return;
  }
  auto st = static_cast<User::Friend>(state);
  if (it != u->friends.end() && it->second.state == User::Friend::kMutual) return;
  u->friends[other] = {other_uid, st};
  batch.put(store::friend_key(u->uid, other_uid), friend_value(other, st));
  int64_t now = wall_ms();
  if (st == User::Friend::kIn) {
    std::string f = "{\"op\":\"friend_request\",\"from\":";
    proto::append_json_string(f, other);
    f += ",\"ts\":" + std::to_string(now) + "}";
    push_to_user(name, f);
  } else {
    std::string f = "{\"op\":\"friend_accepted\",\"user\":";
    proto::append_json_string(f, other);
    f += "}";
    push_to_user(name, f);
  }
}

void ChatShard::Impl::do_friends(net::Connection& c, User& u, const Ticket& t) {
  std::vector<std::string> mutual, in, out;
  for (auto& [name, f] : u.friends) {
    if (f.state == User::Friend::kMutual) mutual.push_back(name);
    if (f.state == User::Friend::kIn) in.push_back(name);
    if (f.state == User::Friend::kOut) out.push_back(name);
  }
  auto names_json = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i != 0) s += ',';
      proto::append_json_string(s, v[i]);
    }
    return s + "]";
  };
  std::string pending = ",\"pending\":{\"in\":" + names_json(in) + ",\"out\":" + names_json(out) + "}";
  gather_presence(mutual, nullptr, [conn = c.id(), t, pending](std::vector<PresenceInfo> list) {
    std::string extra = ",\"friends\":[";
    for (size_t i = 0; i < list.size(); ++i) {
      if (i != 0) extra += ',';
      append_presence(extra, list[i]);
    }
    extra += ']' + pending;
    deliver(conn, t, proto::reply_ok(t.id, extra));
  });
}

// ---- broadcast -----------------------------------------------------------------------------

void ChatShard::broadcast(const proto::BroadcastReq& req, std::function<void(size_t)> done) {
  std::string frame = "{\"op\":\"msg\",\"broadcast\":true,\"type\":";
  proto::append_json_string(frame, proto::to_string(req.type));
  frame += ",\"body\":";
  proto::append_json_string(frame, req.body);
  frame += ",\"ts\":" + std::to_string(wall_ms()) + "}";
  struct Gather {
    size_t pending = 0;
    size_t reached = 0;
    std::function<void(size_t)> done;
  };
  auto g = std::make_shared<Gather>();
  shard::Shard& me = impl_->shard;
  g->pending = static_cast<size_t>(me.set().size());
  g->done = std::move(done);
  for (int k = 0; k < me.set().size(); ++k) {
    me.ask(
        k,
        [frame] {
          size_t n = 0;
          for (auto& [name, u] : Impl::current_impl().users) {
            for (auto& [device, conn] : u.sessions) {
              net::Connection* c = Impl::find_conn(conn);
              if (c != nullptr && c->send(frame, net::SendKind::kEphemeral) != net::SendStatus::kClosed) ++n;
            }
          }
          return n;
        },
        [g](size_t n) {
          g->reached += n;
          if (--g->pending == 0 && g->done) g->done(g->reached);
        });
  }
}

}  // namespace parley::chat


namespace parley::chat {

void ChatShard::Impl::api_presence(const std::string& user, std::shared_ptr<const ApiSink> sink) {
  User* u = find_user(user);
  if (u == nullptr || !u->committed) {
    (*sink)(proto::reply_error({}, ErrorCode::kNotFound, "no such user"));
    return;
  }
  std::string object;
  append_presence(object, PresenceInfo{u->name, !u->sessions.empty(), u->last_seen});
  // The object's fields, spliced into the ok frame.
  (*sink)(proto::reply_ok({}, "," + object.substr(1, object.size() - 2)));
}

}  // namespace parley::chat
