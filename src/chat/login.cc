// Accounts and sessions: register, login (with the hand-off to the owner shard), attach and
// close. Declarations and the state are in impl.h.
#include "impl.h"

namespace parley::chat {

void ChatShard::Impl::do_register(net::Connection& c, const Ticket& id, proto::RegisterReq& r,
                                  bool forced) {
  if (!cfg.open_registration && !forced) {
    reply_error(c, id, ErrorCode::kForbidden, "registration is closed");
    return;
  }
  auto hash = std::make_shared<std::string>();
  auth::ScryptParams params{cfg.scrypt_n, cfg.scrypt_r, cfg.scrypt_p};
  int origin = me();
  if (&c != &api_conn()) session_of(c).registering = true;  // until answer_register
  offload([hash, params,
           password = std::move(r.password)] { *hash = auth::hash_password(password, params); },
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

void ChatShard::Impl::answer_register(int origin, net::ConnId conn, Ticket id, ErrorCode code,
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

void ChatShard::Impl::do_login(net::Connection& c, Session& s, const Ticket& id,
                               proto::LoginReq& r) {
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
  c.handoff(owner, [id, name = std::move(name), by_token,
                    r = std::move(r)](net::Connection& moved) mutable {
    current_impl().login_here(moved, id, std::move(name), by_token, std::move(r));
  });
}

void ChatShard::Impl::login_here(net::Connection& c, const Ticket& id, std::string name,
                                 bool by_token, proto::LoginReq r) {
  User* u = find_user(name);
  if (u != nullptr && !u->committed) u = nullptr;
  if (u == nullptr) {
    if (by_token && cfg.jwt_auto_create) {
      net::ConnId conn = c.id();
      create_user(name, "",
                  [this, conn, id, name, r = std::move(r)](ErrorCode code, uint64_t) mutable {
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
  offload([good, stored = u->pwhash,
           password = std::move(password)] { *good = auth::verify_password(password, stored); },
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

bool ChatShard::Impl::address_may_log_in(net::Connection& c, uint64_t now) const {
  const auto& table = c.net().options().addresses;
  if (!table || c.address_slot() < 0) return true;
  return table->login_allowed(static_cast<uint32_t>(c.address_slot()), now,
                              cfg.login_attempt_interval_ms,
                              static_cast<uint32_t>(cfg.login_attempts) * 4);
}

void ChatShard::Impl::login_failed(net::Connection& c, const Ticket& id, ErrorCode code) {
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

void ChatShard::Impl::attach(net::Connection& c, const Ticket& id, const std::string& name,
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

void ChatShard::Impl::drain_queue(net::Connection& c) {
  Session& s = session_of(c);
  while (!s.queued.empty() && c.open() && s.state != Session::State::kLoggingIn && !s.registering) {
    auto [t, req] = std::move(s.queued.front());
    s.queued.pop_front();
    handle(c, s, t, req);
  }
  if (s.queued.empty()) {
    s.queued_bytes = 0;
    s.queued.release();  // a burst behind a login leaves no buffer behind
  }
}

void ChatShard::Impl::on_close(net::Connection& c) {
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

}  // namespace parley::chat
