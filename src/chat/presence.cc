// Presence: a user is online while any of its devices is connected. The user's shard sees the
// transitions and tells the directory on shard 0, which keeps the sorted set of online users
// (so `online` pages and counts without asking every shard). last_seen is persisted by the
// user's shard when its last device goes.
#include "impl.h"

namespace parley::chat {

void ChatShard::Impl::user_went_online(User& u) {
  shard.post(0, [name = u.name] { current_impl().online_dir.insert(name); });
}

void ChatShard::Impl::user_went_offline(User& u) {
  u.last_seen = wall_ms();
  batch.put(store::presence_key(u.uid), encode_u64(static_cast<uint64_t>(u.last_seen)));
  shard.post(0, [name = u.name] { current_impl().online_dir.erase(name); });
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
        net::Connection* c2 = find_conn(conn);
        if (c2 == nullptr) return;
        std::string extra = ",\"users\":[";
        for (size_t i = 0; i < p.users.size(); ++i) {
          if (i != 0) extra += ',';
          proto::append_json_string(extra, p.users[i]);
        }
        extra += "],\"count\":" + std::to_string(p.count);
        reply_ok(*c2, t, extra);
      });
}

}  // namespace parley::chat
