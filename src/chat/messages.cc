// 1:1 messages: send with dedupe, append on the conversation's shard, typing, acks and reads,
// history. Declarations and the state are in impl.h.
#include "impl.h"

namespace parley::chat {

void ChatShard::Impl::do_send(net::Connection& c, Session& s, User& u, const Ticket& id,
                              proto::SendReq& r) {
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

ConvState* ChatShard::Impl::conv_state(const ConvId& id, const std::string& key) {
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

void ChatShard::Impl::append(AppendTask t) {
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
  proto::MsgView m{a.from,      proto::Target::Kind::kUser,
                   a.to,        a.seq,
                   a.mid,       a.ts,
                   a.cid,       t.send.type,
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

void ChatShard::Impl::remember_settled(User& u, const std::string& cid) {
  // The oldest leaves before the newest comes in, so the ring never holds more than the bound.
  if (u.settled.size() == kDedupeRemembered) {
    auto old = u.dedupe.find(u.settled.front());
    if (old != u.dedupe.end() && old->second.done) u.dedupe.erase(old);
    u.settled.pop_front();
  }
  u.settled.push_back(cid);
}

void ChatShard::Impl::append_failed(const std::string& from, const std::string& cid, ErrorCode code,
                                    std::string_view message) {
  User* u = find_user(from);
  if (u == nullptr) return;
  auto it = u->dedupe.find(cid);
  if (it == u->dedupe.end() || it->second.done) return;
  for (const Waiter& w : it->second.waiters) {
    reply_to(w, proto::reply_error(w.id.id, code, message));
  }
  u->dedupe.erase(it);
}

void ChatShard::Impl::remember(ConvRef& ref, uint64_t seq, const Frame& frame) {
  if (seq <= ref.head) return;
  ref.head = seq;
  if (!ref.tail.empty() && ref.tail.back().first + 1 != seq) ref.tail.clear();
  if (ref.tail.size() == kTailFrames) ref.tail.pop_front();  // never more than the bound held
  ref.tail.emplace_back(seq, frame);
}

void ChatShard::Impl::appended(Appended& a) {
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

void ChatShard::Impl::sender_side(User& u, ConvRef& ref, const Appended& a) {
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

void ChatShard::Impl::do_typing(net::Connection& c, User& u, const Ticket& id,
                                proto::TypingReq& r) {
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

void ChatShard::Impl::push_to_user(const std::string& name, const std::string& frame,
                                   net::ConnId except) {
  User* u = find_user(name);
  if (u == nullptr) return;
  for (auto& [device, conn] : u->sessions) {
    if (conn == except) continue;
    if (net::Connection* c = find_conn(conn)) c->send(frame, net::SendKind::kEphemeral);
  }
}

void ChatShard::Impl::do_cursor(net::Connection& c, Session& s, User& u, const Ticket& id,
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
      push_to_user(u.name, proto::encode_receipt(ref.name, group, u.name, true, ref.read), c.id());
    }
    if (group) {
      // Other members read the cursors from group_members; the group's shard keeps them.
      shard.post(owner_of_user(ref.name, shards()), [g = ref.name, me_name = u.name, recv, rd] {
        current_impl().group_cursor(g, me_name, recv, rd);
      });
    } else if (ref.name != u.name) {
      shard.post(
          owner_of_user(ref.name, shards()),
          [peer = ref.name, me_name = u.name, key = ref.key, recv, rd, read_moved, seq = r.seq] {
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

void ChatShard::Impl::peer_cursor(const std::string& name, const std::string& who,
                                  const std::string& key, uint64_t recv, uint64_t read,
                                  bool read_moved, uint64_t seq) {
  User* u = find_user(name);
  if (u == nullptr) return;
  auto it = u->convs.find(key);
  if (it != u->convs.end()) {
    it->second.peer_recv = std::max(it->second.peer_recv, recv);
    it->second.peer_read = std::max(it->second.peer_read, read);
  }
  push_to_user(name, proto::encode_receipt(who, false, who, read_moved, seq));
}

void ChatShard::Impl::do_history(net::Connection& c, User& u, const Ticket& id,
                                 proto::HistoryReq& r) {
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

void ChatShard::Impl::send_history(net::Connection& c, const Ticket& id, const ConvRef& ref,
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

}  // namespace parley::chat
