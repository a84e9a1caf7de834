// Groups: owned by the shard of name_hash(group). A group is one log (stored once) and a member
// list; members are cursors into the log. Membership changes are `system` messages in the log.
// A message fans out as one cross-shard task per destination shard naming that shard's
// members, which update their heads and pump to their online devices.
#include "impl.h"

namespace parley::chat {

uint64_t max_gid(const store::Store& st, std::string& error) {
  uint64_t best = 0;
  bool ok = st.scan(std::string(1, store::table::kGroupRec), "",
                    [&](std::string_view, std::string_view value) {
                      GroupRecord r;
                      if (decode_group(value, r)) best = std::max(best, r.gid);
                      return true;
                    });
  if (!ok) error = "cannot read the group table";
  return best;
}

bool ChatShard::Impl::load_groups(std::string& error) {
  const store::Store& st = *svc.store;
  bool ok = st.scan(std::string(1, store::table::kGroupRec), "",
                    [&](std::string_view key, std::string_view value) {
                      std::string name(key.substr(1));
                      if (owner_of_user(name, shards()) != me()) return true;
                      GroupRecord r;
                      if (!decode_group(value, r)) return true;
                      GroupState& g = groups[name];
                      g.name = name;
                      g.gid = r.gid;
                      g.conv = ConvId::group(r.gid);
                      g.key = g.conv.bytes();
                      g.joins = r.joins;
                      g.created = r.created;
                      return true;
                    });
  for (auto& entry : groups) {
    if (!ok) break;
    GroupState& g = entry.second;  // (a structured binding cannot be captured under clang 14)
    ok = st.scan(store::member_prefix(g.conv), "", [&](std::string_view key, std::string_view v) {
      ConvId id;
      uint64_t uid = 0;
      GroupMember m;
      if (!store::parse_member_key(key, id, uid) || !decode_member(v, m)) return true;
      m.uid = uid;
      g.members.push_back(std::move(m));
      return true;
    });
    std::sort(g.members.begin(), g.members.end(),
              [](const GroupMember& a, const GroupMember& b) { return a.since < b.since; });
    std::string k, v, err;
    ConvId id;
    if (st.last(store::msg_prefix(g.conv), k, v, &err)) {
      ok = ok && store::parse_msg_key(k, id, g.head);
      g.committed_head = g.head;
      g.last_mid = frame_mid(v);
    } else if (!err.empty()) {
      ok = false;
    }
  }
  if (!ok) error = "cannot read the groups";
  return ok;
}

void ChatShard::Impl::respond(int origin, net::ConnId conn, Ticket t, std::string frame) {
  current_impl().shard.post(origin, [conn, t = std::move(t), frame = std::move(frame)]() mutable {
    deliver(conn, t, std::move(frame));
  });
}

// ---- requests on the member's shard --------------------------------------------------------

void ChatShard::Impl::do_group_op(net::Connection& c, User& u, const Ticket& t, proto::Op op,
                                  proto::GroupReq& r) {
  GroupCall call;
  call.op = op;
  call.group = r.group;
  call.uid = u.uid;
  call.user = u.name;
  call.origin = me();
  call.conn = c.id();
  call.ticket = t;
  for (const std::string& name : r.members) {
    if (name == u.name && op == Op::kGroupCreate) continue;  // the creator is in anyway
    uint64_t uid = resolve_uid(name);
    if (uid == 0) {
      reply_error(c, t, ErrorCode::kNotFound, "no such user: " + name);
      return;
    }
    call.members.emplace_back(uid, name);
  }
  if (op == Op::kGroupCreate &&
      call.members.size() + 1 > static_cast<size_t>(cfg.max_group_size)) {
    reply_error(c, t, ErrorCode::kTooLarge, "more members than max_group_size");
    return;
  }
  if (op == Op::kGroupCreate) {  // counted from the groups this shard knows the user is in
    auto in = std::count_if(u.convs.begin(), u.convs.end(),
                            [](const auto& kv) { return kv.second.group && !kv.second.left; });
    if (in >= cfg.max_groups) {
      reply_error(c, t, ErrorCode::kTooLarge, "in max_groups groups already");
      return;
    }
  }
  int owner = owner_of_user(call.group, shards());
  shard.post(owner, [call = std::move(call)]() mutable { current_impl().group_call(std::move(call)); });
}

// `groups`: the caller's groups with its cursors (known here) and, from each group's shard, its
// role and member count.
void ChatShard::Impl::do_groups(net::Connection& c, User& u, const Ticket& t) {
  struct Entry {
    std::string group;
    uint64_t head, recv, read;
    std::string role;
    size_t members = 0;
  };
  struct Gather {
    std::vector<Entry> entries;
    size_t pending = 0;
    net::ConnId conn;
    Ticket ticket;
  };
  auto g = std::make_shared<Gather>();
  g->conn = c.id();
  g->ticket = t;
  for (auto& [key, ref] : u.convs) {
    if (ref.group && !ref.left) g->entries.push_back({ref.name, ref.head, ref.recv, ref.read, "", 0});
  }
  auto finish = [](Gather& g) {
    std::sort(g.entries.begin(), g.entries.end(),
              [](const Entry& a, const Entry& b) { return a.group < b.group; });
    std::string extra = ",\"groups\":[";
    bool first = true;
    for (const Entry& e : g.entries) {
      if (e.role.empty()) continue;  // left meanwhile
      if (!first) extra += ',';
      first = false;
      extra += "{\"group\":";
      proto::append_json_string(extra, e.group);
      extra += ",\"role\":\"" + e.role + "\",\"head\":" + std::to_string(e.head) +
               ",\"recv\":" + std::to_string(e.recv) + ",\"read\":" + std::to_string(e.read) +
               ",\"members\":" + std::to_string(e.members) + "}";
    }
    extra += ']';
    deliver(g.conn, g.ticket, proto::reply_ok(g.ticket.id, extra));
  };
  g->pending = g->entries.size();
  if (g->pending == 0) return finish(*g);
  std::string user = u.name;
  for (size_t i = 0; i < g->entries.size(); ++i) {
    int owner = owner_of_user(g->entries[i].group, shards());
    shard.ask(
        owner,
        [group = g->entries[i].group, user] {
          std::pair<std::string, size_t> out;
          auto& gs = current_impl().groups;
          auto it = gs.find(group);
          if (it == gs.end()) return out;
          if (GroupMember* m = it->second.member(user)) {
            out.first = m->owner ? "owner" : "member";
            out.second = it->second.members.size();
          }
          return out;
        },
        [g, i, finish](std::pair<std::string, size_t> r) {
          g->entries[i].role = std::move(r.first);
          g->entries[i].members = r.second;
          if (--g->pending == 0) finish(*g);
        });
  }
}

// ---- on the group's shard ------------------------------------------------------------------

void ChatShard::Impl::group_call(GroupCall call) {
  auto answer = [&](std::string frame) {
    respond(call.origin, call.conn, call.ticket, std::move(frame));
  };
  auto fail = [&](ErrorCode code, std::string_view message) {
    answer(proto::reply_error(call.ticket.id, code, message));
  };
  auto it = groups.find(call.group);
  if (call.op == Op::kGroupCreate) {
    if (it != groups.end()) return fail(ErrorCode::kConflict, "that group name is taken");
    GroupState& g = groups[call.group];
    g.name = call.group;
    g.gid = next_gid;
    next_gid += static_cast<uint64_t>(shards());
    g.conv = ConvId::group(g.gid);
    g.key = g.conv.bytes();
    g.committed = false;
    std::vector<std::string> names{call.user};
    g.members.push_back({call.uid, call.user, true, g.joins++, 0, 0});
    for (auto& [uid, name] : call.members) {
      g.members.push_back({uid, name, false, g.joins++, 0, 0});
      names.push_back(name);
    }
    g.created = wall_ms();
    batch.put(store::group_key(g.name), encode_group({g.gid, g.created, g.joins}));
    for (const GroupMember& m : g.members) batch.put(store::member_key(g.conv, m.uid), encode_member(m));
    std::string text = call.user + " created " + g.name;
    system_message(g, call.user, "create", names, text, {}, {},
                   [this, call, name = g.name](bool ok) {
                     std::vector<std::function<void()>> parked;
                     if (auto g = groups.find(name); g != groups.end()) {
                       parked.swap(g->second.parked);
                       g->second.committed = true;
                     }
                     if (!ok) {
                       groups.erase(name);
                       respond(call.origin, call.conn, call.ticket,
                               proto::reply_error(call.ticket.id, ErrorCode::kUnavailable,
                                                  "the group could not be stored"));
                     } else {
                       std::string extra = ",\"group\":";
                       proto::append_json_string(extra, name);
                       respond(call.origin, call.conn, call.ticket,
                               proto::reply_ok(call.ticket.id, extra));
                     }
                     for (auto& run : parked) run();  // after the answer: in arrival order
                   });
    return;
  }
  if (it != groups.end() && !it->second.committed) {
    it->second.parked.push_back([this, call]() mutable { group_call(std::move(call)); });
    return;
  }
  if (it == groups.end()) return fail(ErrorCode::kNotFound, "no such group");
  GroupState& g = it->second;
  if (call.admin) {  // the back-end acts as the owner
    auto owner = std::find_if(g.members.begin(), g.members.end(),
                              [](const GroupMember& m) { return m.owner; });
    if (owner == g.members.end()) return fail(ErrorCode::kNotFound, "the group has no members");
    call.user = owner->name;
    call.uid = owner->uid;
  }
  GroupMember* self = g.member(call.user);
  if (self == nullptr) return fail(ErrorCode::kForbidden, "not a member of this group");
  auto ok_after_commit = [this, call](bool ok) {
    respond(call.origin, call.conn, call.ticket,
            ok ? proto::reply_ok(call.ticket.id)
               : proto::reply_error(call.ticket.id, ErrorCode::kUnavailable,
                                    "the change could not be stored"));
  };
  switch (call.op) {
    case Op::kGroupMembers: {
      // Online flags come from the presence directory (shard 0); the list is built there.
      std::vector<GroupMember> members = g.members;
      std::vector<std::string> names;
      for (const GroupMember& m : members) names.push_back(m.name);
      shard.ask(
          0, [names = std::move(names)] { return current_impl().online_flags(names); },
          [call, members = std::move(members)](std::vector<bool> online) {
            std::string extra = ",\"members\":[";
            for (size_t i = 0; i < members.size(); ++i) {
              const GroupMember& m = members[i];
              if (i != 0) extra += ',';
              extra += "{\"user\":";
              proto::append_json_string(extra, m.name);
              extra += std::string(",\"role\":\"") + (m.owner ? "owner" : "member") +
                       "\",\"recv\":" + std::to_string(m.recv) +
                       ",\"read\":" + std::to_string(m.read) +
                       ",\"online\":" + (i < online.size() && online[i] ? "true" : "false") + "}";
            }
            extra += ']';
            respond(call.origin, call.conn, call.ticket, proto::reply_ok(call.ticket.id, extra));
          });
      return;
    }
    case Op::kGroupAdd: {
      if (!self->owner) return fail(ErrorCode::kForbidden, "only the owner adds members");
      std::vector<std::string> added;
      for (auto& [uid, name] : call.members) {
        if (g.member(name) != nullptr) continue;
        added.push_back(name);
      }
      if (added.empty()) return answer(proto::reply_ok(call.ticket.id));
      if (g.members.size() + added.size() > static_cast<size_t>(cfg.max_group_size)) {
        return fail(ErrorCode::kTooLarge, "the group would exceed max_group_size");
      }
      for (auto& [uid, name] : call.members) {
        if (std::find(added.begin(), added.end(), name) == added.end()) continue;
        g.members.push_back({uid, name, false, g.joins++, 0, 0});
        batch.put(store::member_key(g.conv, uid), encode_member(g.members.back()));
      }
      batch.put(store::group_key(g.name), encode_group({g.gid, g.created, g.joins}));
      std::string text = call.user + " added " + std::to_string(added.size()) + " member" +
                         (added.size() == 1 ? "" : "s");
      return system_message(g, call.user, "add", added, text, {}, {}, ok_after_commit);
    }
    case Op::kGroupRemove: {
      if (!self->owner) return fail(ErrorCode::kForbidden, "only the owner removes members");
      std::vector<std::string> removed;
      for (auto& [uid, name] : call.members) {
        if (name == call.user) return fail(ErrorCode::kBadRequest, "use group_leave to leave");
        if (g.member(name) == nullptr) return fail(ErrorCode::kNotFound, "not a member: " + name);
        removed.push_back(name);
      }
      if (removed.empty()) return answer(proto::reply_ok(call.ticket.id));
      std::string text = call.user + " removed " + std::to_string(removed.size()) + " member" +
                         (removed.size() == 1 ? "" : "s");
      // The removed members get this message too; afterwards they are out.
      std::vector<std::string> before;
      for (const GroupMember& m : g.members) before.push_back(m.name);
      for (auto& [uid, name] : call.members) {
        batch.del(store::member_key(g.conv, uid));
        batch.del(store::user_conv_key(uid, g.conv));
        std::erase_if(g.members, [&n = name](const GroupMember& m) { return m.name == n; });
      }
      return system_message(g, call.user, "remove", removed, text, removed, before,
                            ok_after_commit);
    }
    case Op::kGroupLeave: {
      bool was_owner = self->owner;
      uint64_t uid = self->uid;
      std::vector<std::string> before;
      for (const GroupMember& m : g.members) before.push_back(m.name);
      batch.del(store::member_key(g.conv, uid));
      batch.del(store::user_conv_key(uid, g.conv));
      std::erase_if(g.members, [&](const GroupMember& m) { return m.name == call.user; });
      std::string text = call.user + " left";
      if (!was_owner || g.members.empty()) {
        return system_message(g, call.user, "leave", {call.user}, text, {call.user}, before,
                              ok_after_commit);
      }
      // The longest-standing member becomes the owner.
      GroupMember& heir = g.members.front();
      heir.owner = true;
      batch.put(store::member_key(g.conv, heir.uid), encode_member(heir));
      system_message(g, call.user, "leave", {call.user}, text, {call.user}, before, nullptr);
      return system_message(g, call.user, "owner", {heir.name}, heir.name + " is now the owner",
                            {}, {}, ok_after_commit);
    }
    default:
      return fail(ErrorCode::kBadRequest, "not a group operation");
  }
}

// Appends to the group's log in this tick's batch (message, and the sender's dedupe record when
// it has a cid). Returns the seq; `out` is ready to fan out after the commit.
uint64_t ChatShard::Impl::append_to_group(GroupState& g, const std::string& from,
                                          uint64_t from_uid, const proto::SendReq& send,
                                          Appended& out) {
  out.conv = g.conv;
  out.group = g.name;
  out.seq = ++g.head;
  out.mid = new_mid(g.last_mid);
  g.last_mid = out.mid;
  out.ts = wall_ms();
  out.from = from;
  out.from_uid = from_uid;
  out.cid = send.cid;
  proto::MsgView m{from,    proto::Target::Kind::kGroup, g.name,    out.seq,
                   out.mid, out.ts,                      send.cid,  send.type,
                   send.body, send.meta};
  out.frame = proto::encode_msg(m);
  batch.put(store::msg_key(g.conv, out.seq), out.frame);
  if (!send.cid.empty()) {
    DedupeEntry e;
    e.conv = g.key;
    e.seq = out.seq;
    e.mid = out.mid;
    e.ts = out.ts;
    e.expires_ms = out.ts + static_cast<int64_t>(cfg.dedupe_window_ms);
    batch.put(store::dedupe_key(from_uid, send.cid), encode_dedupe(e));
  }
  ++stats().messages_stored;
  return out.seq;
}

// A membership change as a `system` message: written with the change, fanned out after the
// commit to the members (and to `extra_recipients`: those who were members a moment ago).
// New members' list entries start at this message.
void ChatShard::Impl::system_message(GroupState& g, const std::string& by, std::string_view event,
                                     const std::vector<std::string>& users, std::string_view text,
                                     std::vector<std::string> gone,
                                     std::vector<std::string> extra_recipients,
                                     std::function<void(bool)> done) {
  proto::SendReq send;
  send.type = proto::MsgType::kSystem;
  send.body = std::string(text);
  std::string meta = "{\"event\":";
  proto::append_json_string(meta, event);
  meta += ",\"users\":[";
  for (size_t i = 0; i < users.size(); ++i) {
    if (i != 0) meta += ',';
    proto::append_json_string(meta, users[i]);
  }
  meta += "],\"by\":";
  proto::append_json_string(meta, by);
  meta += '}';
  send.meta = std::move(meta);
  Appended a;
  uint64_t seq = append_to_group(g, by, 0, send, a);
  if (event == "create" || event == "add") {
    for (const std::string& name : users) {
      GroupMember* m = g.member(name);
      if (m != nullptr) {
        batch.put(store::user_conv_key(m->uid, g.conv), encode_conv_entry(g.name, 0, 0, seq - 1));
      }
    }
  }
  a.gone = std::move(gone);
  std::vector<std::string> recipients = std::move(extra_recipients);
  if (recipients.empty()) {
    for (const GroupMember& m : g.members) recipients.push_back(m.name);
  }
  std::string key = g.key;
  std::string name = g.name;
  batch.after_commit([this, a = std::move(a), recipients = std::move(recipients), done, key,
                      name](bool ok) mutable {
    if (!ok) {
      ++stats().store_errors;
      if (auto it = groups.find(name); it != groups.end()) {
        it->second.head = std::min(it->second.head, a.seq - 1);
      }
    } else if (auto it = groups.find(name); it != groups.end()) {
      it->second.committed_head = std::max(it->second.committed_head, a.seq);
      fan_out(std::move(a), recipients);
    }
    if (done) done(ok);
  });
}

void ChatShard::Impl::fan_out(Appended a, const std::vector<std::string>& recipients) {
  post_per_owner(recipients, [a = std::move(a)](std::vector<std::string> names) {
    Appended copy = a;
    copy.members = std::move(names);
    current_impl().group_appended(copy);
  });
}

// A group send arrived from the sender's shard (its dedupe entry is pending there).
void ChatShard::Impl::group_send(AppendTask t) {
  auto it = groups.find(t.to);
  auto fail = [&](ErrorCode code, std::string_view message) {
    shard.post(t.origin_shard, [from = t.from, cid = t.send.cid, code, message = std::string(message)] {
      current_impl().append_failed(from, cid, code, message);
    });
  };
  if (it != groups.end() && !it->second.committed) {
    it->second.parked.push_back([this, t]() mutable { group_send(std::move(t)); });
    return;
  }
  if (it == groups.end()) return fail(ErrorCode::kNotFound, "no such group");
  GroupState& g = it->second;
  if (g.member(t.from) == nullptr) return fail(ErrorCode::kForbidden, "not a member of this group");
  Appended a;
  append_to_group(g, t.from, t.from_uid, t.send, a);
  a.origin = t.origin;
  std::string name = g.name;
  batch.after_commit([this, a = std::move(a), name, origin = t.origin_shard](bool ok) mutable {
    auto it = groups.find(name);
    if (!ok || it == groups.end()) {
      ++stats().store_errors;
      if (it != groups.end()) it->second.head = std::min(it->second.head, a.seq - 1);
      shard.post(origin, [from = a.from, cid = a.cid] {
        current_impl().append_failed(from, cid, ErrorCode::kUnavailable, "the message was not stored");
      });
      return;
    }
    // Recipients are chosen now, at the commit: a member that came online before it is either
    // in this list or got a committed head that includes this message (member_presence).
    GroupState& g = it->second;
    g.committed_head = std::max(g.committed_head, a.seq);
    std::vector<std::string> recipients;
    for (const GroupMember& m : g.members) {
      if (m.online || m.name == a.from) recipients.push_back(m.name);
    }
    fan_out(std::move(a), recipients);
  });
}

void ChatShard::Impl::group_typing(const std::string& group, const std::string& from,
                                   std::string frame) {
  auto it = groups.find(group);
  if (it == groups.end() || it->second.member(from) == nullptr) return;
  std::vector<std::string> online;
  for (const GroupMember& m : it->second.members) {
    if (m.name != from && m.online) online.push_back(m.name);
  }
  post_per_owner(online, [frame = std::move(frame)](std::vector<std::string> names) {
    for (const std::string& n : names) current_impl().push_to_user(n, frame);
  });
}

// A member's cursors moved (on its shard); the group keeps them for group_members.
void ChatShard::Impl::group_cursor(const std::string& group, const std::string& user,
                                   uint64_t recv, uint64_t read) {
  auto it = groups.find(group);
  if (it == groups.end()) return;
  GroupMember* m = it->second.member(user);
  if (m == nullptr) return;
  if (recv <= m->recv && read <= m->read) return;
  m->recv = std::max(m->recv, recv);
  m->read = std::max(m->read, read);
  batch.put(store::member_key(it->second.conv, m->uid), encode_member(*m));
}

// ---- on a member's shard -------------------------------------------------------------------

void ChatShard::Impl::group_appended(Appended& a) {
  Frame frame = std::make_shared<const std::string>(std::move(a.frame));
  for (const std::string& name : a.members) {
    User* u = find_user(name);
    if (u == nullptr) continue;
    bool fresh = u->convs.find(a.conv.bytes()) == u->convs.end();
    ConvRef& ref = ensure_conv(*u, a.conv, a.group, 0);
    if (fresh) {
      ref.floor = a.seq - 1;  // a new member starts at its join message
      if (!u->sessions.empty()) tell_group(*u, a.group, true);
    }
    if (ref.left && std::find(a.gone.begin(), a.gone.end(), name) == a.gone.end()) {
      ref.left = false;  // added back
      ref.floor = std::max(ref.floor, a.seq - 1);
      u->by_group[a.group] = ref.key;
    }
    remember(ref, a.seq, frame);
    if (name == a.from && !a.cid.empty()) {
      sender_side(*u, ref, a);
      // The sender's cursors moved past its own message: the group keeps them too.
      shard.post(owner_of_user(a.group, shards()),
                 [group = a.group, name, recv = ref.recv, read = ref.read] {
                   current_impl().group_cursor(group, name, recv, read);
                 });
    }
    if (std::find(a.gone.begin(), a.gone.end(), name) != a.gone.end()) {
      ref.left = true;
      u->by_group.erase(a.group);
    }
    pump_sessions(*u, ref);
  }
}

// ---- which members are online (messages fan out to those only) ----------------------------

// On the member's shard: tells the group's shard that this member came online or went away.
void ChatShard::Impl::tell_group(User& u, const std::string& group, bool online) {
  shard.post(owner_of_user(group, shards()), [group, name = u.name, online] {
    current_impl().member_presence(group, name, online);
  });
}

void ChatShard::Impl::tell_groups(User& u, bool online) {
  for (auto& [key, ref] : u.convs) {
    if (ref.group && !ref.left) tell_group(u, ref.name, online);
  }
}

// On the group's shard. A member coming online is sent the committed head, so whatever was
// committed while it was offline (and not fanned out to it) is pumped from the store.
void ChatShard::Impl::member_presence(const std::string& group, const std::string& name,
                                      bool online) {
  auto it = groups.find(group);
  if (it == groups.end()) return;
  GroupMember* m = it->second.member(name);
  if (m == nullptr) return;
  m->online = online;
  if (!online) return;
  shard.post(owner_of_user(name, shards()),
             [name, group, key = it->second.key, head = it->second.committed_head] {
               current_impl().group_head(name, group, key, head);
             });
}

// On the member's shard: the group's committed head.
void ChatShard::Impl::group_head(const std::string& name, const std::string& group,
                                 const std::string& key, uint64_t head) {
  User* u = find_user(name);
  if (u == nullptr) return;
  auto it = u->convs.find(key);
  if (it == u->convs.end() || it->second.left || head <= it->second.head) return;
  ConvRef& ref = it->second;
  ref.head = head;
  ref.tail.clear();  // no longer consecutive up to head: the pump reads the gap from the store
  (void)group;
  pump_sessions(*u, ref);
}

// At login: group heads may be behind (offline members are not sent group messages); the
// store has the committed ones.
void ChatShard::Impl::refresh_group_heads(User& u) {
  for (auto& [key, ref] : u.convs) {
    if (!ref.group || ref.left) continue;
    std::string k, v;
    ConvId id;
    uint64_t seq = 0;
    if (svc.store->last(store::msg_prefix(ref.id), k, v) && store::parse_msg_key(k, id, seq) &&
        seq > ref.head) {
      ref.head = seq;
      ref.tail.clear();
    }
  }
}

}  // namespace parley::chat

