// The HTTP API's way into the chat core. An API call runs the same handlers as a client frame,
// on the same shards, with a Ticket whose ApiSink receives the reply frame instead of a
// connection; the sink posts it back to the shard serving the HTTP request.
#include "impl.h"

namespace parley::chat {

using Impl = ChatShard::Impl;

net::Connection& Impl::api_conn() {
  if (!api_conn_) {
    // A slot no NetShard ever hands out: find() resolves this id to nothing.
    net::ConnId id{static_cast<uint32_t>(me()), UINT32_MAX, 0};
    api_conn_ = std::make_unique<net::Connection>(*net::NetShard::current(), id,
                                                  net::Transport::kTcp, 0);
  }
  return *api_conn_;
}

std::shared_ptr<const ApiSink> Impl::sink_here(ChatShard::ApiDone done) {
  int origin = me();
  auto fn = std::make_shared<ChatShard::ApiDone>(std::move(done));
  return std::make_shared<const ApiSink>([origin, fn](std::string frame) {
    current_impl().shard.post(origin, [fn, frame = std::move(frame)]() mutable {
      (*fn)(std::move(frame));
    });
  });
}

// On the user's owner shard: a one-request session for `user`.
void Impl::api_as(const std::string& user, proto::Request& req,
                  std::shared_ptr<const ApiSink> sink) {
  User* u = find_user(user);
  if (u == nullptr || !u->committed) {
    (*sink)(proto::reply_error({}, ErrorCode::kNotFound, "no such user"));
    return;
  }
  switch (req.env.op) {
    case Op::kSend:
    case Op::kHistory:
    case Op::kGroupCreate:
    case Op::kGroupAdd:
    case Op::kGroupRemove:
    case Op::kGroupLeave:
    case Op::kGroupMembers:
    case Op::kGroups:
    case Op::kFriends:
      break;
    default:
      (*sink)(proto::reply_error({}, ErrorCode::kBadRequest, "not an HTTP API operation"));
      return;
  }
  Session s;
  s.state = Session::State::kLive;
  s.user = u->name;
  s.uid = u->uid;
  Ticket t{{}, 0, std::move(sink)};
  handle(api_conn(), s, t, req);
}

void Impl::api_token(const std::string& user, std::string password,
                     std::shared_ptr<const ApiSink> sink) {
  auto refuse = [](const ApiSink& to) {
    to(proto::reply_error({}, ErrorCode::kUnauthorized, "unknown user or wrong credentials"));
  };
  User* u = find_user(user);
  if (u == nullptr || !u->committed || u->pwhash.empty()) return refuse(*sink);
  auto good = std::make_shared<bool>(false);
  offload([good, stored = u->pwhash, password = std::move(password)] {
            *good = auth::verify_password(password, stored);
          },
          [this, good, user, sink, refuse] {
            User* u = find_user(user);
            if (!*good || u == nullptr) return refuse(*sink);
            std::string extra = ",\"token\":";
            proto::append_json_string(extra, mint_token(user));
            extra += ",\"uid\":" + std::to_string(u->uid);
            (*sink)(proto::reply_ok({}, extra));
          });
}

void ChatShard::api_as(std::string user, proto::Request req, ApiDone done) {
  auto sink = impl_->sink_here(std::move(done));
  int owner = owner_of_user(user, impl_->shards());
  impl_->shard.post(owner, [user = std::move(user), req = std::move(req), sink]() mutable {
    Impl::current_impl().api_as(user, req, std::move(sink));
  });
}

void ChatShard::api_group_admin(proto::Op op, proto::GroupReq req, ApiDone done) {
  Impl& im = *impl_;
  Impl::GroupCall call;
  call.op = op;
  call.group = std::move(req.group);
  call.origin = im.me();
  call.ticket = Ticket{{}, 0, im.sink_here(std::move(done))};
  call.admin = true;
  for (const std::string& name : req.members) {
    uint64_t uid = im.resolve_uid(name);
    if (uid == 0) {
      (*call.ticket.api)(proto::reply_error({}, ErrorCode::kNotFound, "no such user: " + name));
      return;
    }
    call.members.emplace_back(uid, name);
  }
  int owner = owner_of_user(call.group, im.shards());
  im.shard.post(owner, [call = std::move(call)]() mutable {
    Impl::current_impl().group_call(std::move(call));
  });
}

void ChatShard::api_register(proto::RegisterReq req, bool api_key, ApiDone done) {
  Ticket t;
  t.api = impl_->sink_here(std::move(done));
  impl_->do_register(impl_->api_conn(), t, req, api_key);
}

void ChatShard::api_token(std::string user, std::string password, ApiDone done) {
  auto sink = impl_->sink_here(std::move(done));
  int owner = owner_of_user(user, impl_->shards());
  impl_->shard.post(owner, [user = std::move(user), password = std::move(password),
                            sink]() mutable {
    Impl::current_impl().api_token(user, std::move(password), std::move(sink));
  });
}

void ChatShard::api_presence(std::string user, ApiDone done) {
  auto sink = impl_->sink_here(std::move(done));
  int owner = owner_of_user(user, impl_->shards());
  impl_->shard.post(owner, [user = std::move(user), sink]() mutable {
    Impl::current_impl().api_presence(user, std::move(sink));
  });
}

void ChatShard::api_online(proto::OnlineReq req, ApiDone done) {
  Ticket t;
  t.api = impl_->sink_here(std::move(done));
  impl_->do_online(impl_->api_conn(), t, req);
}

}  // namespace parley::chat

namespace parley::chat {

bool ChatShard::verify_token(std::string_view token, std::string& user) const {
  auth::JwtClaims claims;
  std::string why;
  if (!auth::jwt_verify(impl_->svc.jwt, token, wall_ms() / 1000, claims, why) ||
      !proto::valid_name(claims.sub)) {
    return false;
  }
  user = std::move(claims.sub);
  return true;
}

const Services& ChatShard::services() const { return impl_->svc; }

}  // namespace parley::chat
