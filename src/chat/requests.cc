// Requests on the shard that holds the connection: queueing behind a login, dispatch by op,
// and the delivery pump. Declarations and the state are in impl.h.
#include "impl.h"

namespace parley::chat {

void ChatShard::Impl::on_request(net::Connection& c, proto::Request& req) {
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

size_t ChatShard::Impl::request_bytes(const proto::Request& req) {
  if (const auto* send = std::get_if<proto::SendReq>(&req.body)) {
    return send->body.size() + send->meta.size() + send->cid.size();
  }
  return 64;
}

void ChatShard::Impl::on_bad_frame(net::Connection& c, std::string frame) {
  Session& s = session_of(c);
  reply(c, Ticket{{}, s.tickets++, nullptr}, std::move(frame));
}

void ChatShard::Impl::handle(net::Connection& c, Session& s, const Ticket& id,
                             proto::Request& req) {
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

void ChatShard::Impl::pump_all(User& u, net::Connection& c, Session& s) {
  for (auto& [key, ref] : u.convs) {
    if (!pump(ref, c, s)) return;
  }
}

void ChatShard::Impl::pump_sessions(User& u, ConvRef& ref) {
  for (auto& [device, conn] : u.sessions) {
    net::Connection* c = find_conn(conn);
    if (c == nullptr) continue;
    pump(ref, *c, session_of(*c));
  }
}

bool ChatShard::Impl::pump(ConvRef& ref, net::Connection& c, Session& s) {
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

void ChatShard::Impl::on_drain(net::Connection& c) {
  auto* s = static_cast<Session*>(c.context());
  if (s == nullptr || s->state != Session::State::kLive) return;
  if (User* u = find_user(s->user)) pump_all(*u, c, *s);
}

}  // namespace parley::chat
