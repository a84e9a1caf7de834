// The chat shard at start (recovery from the store) and its housekeeping (retention trims,
// dedupe expiry). Declarations and the state are in impl.h.
#include "impl.h"

namespace parley::chat {

bool ChatShard::Impl::load(std::string& error) {
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

bool ChatShard::Impl::load_user(User& u) {
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
  ok = ok &&
       st.scan(store::device_prefix(u.uid), "", [&](std::string_view key, std::string_view value) {
         uint64_t uid, seq;
         ConvId id;
         std::string_view device_view;
         if (!store::parse_device_key(key, uid, id, device_view) || !decode_u64(value, seq)) {
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

void ChatShard::Impl::start_sweeper() {
  uint64_t every =
      cfg.retention_ms == 0 ? 60000 : std::clamp<uint64_t>(cfg.retention_ms, 1000, 60000);
  auto* timer = new uv_timer_t;
  uv_timer_init(shard.loop(), timer);
  timer->data = this;
  uv_timer_start(
      timer, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->sweep(); }, every, every);
  uv_unref(reinterpret_cast<uv_handle_t*>(timer));
  shard.add_stop_hook([timer] {
    uv_close(reinterpret_cast<uv_handle_t*>(timer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  });
}

void ChatShard::Impl::sweep_dedupe(int64_t now) {
  size_t budget = kSweepBudget;
  if (dedupe_sweep_user >= users.size()) dedupe_sweep_user = 0;
  auto it = std::next(users.begin(), static_cast<std::ptrdiff_t>(dedupe_sweep_user));
  for (size_t visited = 0; visited < users.size() && budget > 0; ++visited) {
    User& u = it->second;
    std::string from;
    from.swap(dedupe_sweep_key);
    svc.store->scan(  // a read error skips the user this time
        store::dedupe_prefix(u.uid), from, [&](std::string_view key, std::string_view value) {
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

void ChatShard::Impl::sweep() {
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
    uint64_t upto =
        trim_log(g.conv, g.committed_head, now - static_cast<int64_t>(cfg.retention_ms), budget);
    if (upto == 0) continue;
    std::vector<std::string> members;
    for (const GroupMember& m : g.members) members.push_back(m.name);
    announce_trim(members, g.key, upto);
  }
}

uint64_t ChatShard::Impl::trim_log(const ConvId& conv, uint64_t head, int64_t cutoff_ms,
                                   size_t& budget) {
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

void ChatShard::Impl::announce_trim(const std::vector<std::string>& members, const std::string& key,
                                    uint64_t upto) {
  post_per_owner(members, [key, upto](std::vector<std::string> names) {
    for (const std::string& n : names) current_impl().trimmed(n, key, upto);
  });
}

void ChatShard::Impl::trim(const User& u, const ConvRef& ref, int64_t cutoff_ms, size_t& budget) {
  uint64_t upto = trim_log(ref.id, ref.head, cutoff_ms, budget);
  if (upto == 0) return;
  std::vector<std::string> members{u.name};
  if (ref.name != u.name) members.push_back(ref.name);
  announce_trim(members, ref.key, upto);
}

void ChatShard::Impl::trimmed(const std::string& name, const std::string& key, uint64_t upto) {
  User* u = find_user(name);
  if (u == nullptr) return;
  auto it = u->convs.find(key);
  if (it == u->convs.end()) return;
  ConvRef& ref = it->second;
  ref.floor = std::max(ref.floor, upto);
  while (!ref.tail.empty() && ref.tail.front().first <= ref.floor) ref.tail.pop_front();
}

}  // namespace parley::chat
