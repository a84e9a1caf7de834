#include "parley/server/dispatcher.h"

#include <cstdio>
#include <memory>
#include <vector>

#include "parley/auth/jwt.h"
#include "parley/http/request.h"
#include "parley/http/response.h"
#include "parley/net/connection.h"
#include "parley/net/net_shard.h"
#include "parley/server/metrics.h"
#include "parley/shard/shard.h"
#include "uploads.h"

namespace parley::server {
namespace {

using proto::ErrorCode;

bool is_loopback(const std::string& peer) {
  return peer.rfind("127.", 0) == 0 || peer.rfind("[::1]", 0) == 0 ||
         peer.rfind("[::ffff:127.", 0) == 0;
}

}  // namespace

Dispatcher::Dispatcher(const Config& config, std::unique_ptr<chat::ChatShard> chat)
    : config_(config), chat_(std::move(chat)) {
  limits_.max_body = config.max_body;
  limits_.max_meta = config.max_meta;
  char rate[96];
  std::snprintf(rate, sizeof rate, "over %g requests/s on this connection; slow down",
                config.rate_limit);
  rate_message_ = rate;
  const size_t shards = static_cast<size_t>(std::max(1, chat_->services().shards));
  uploads_ = std::make_unique<Uploads>(*chat_->services().store,
                                       (config.max_uploads + shards - 1) / shards);
}

Dispatcher::~Dispatcher() = default;

void Dispatcher::on_message(net::Connection& c, std::string_view payload, bool) {
  if (net::Admit admit = c.admit(); admit != net::Admit::kOk) {
    if (admit == net::Admit::kRefused) {
      proto::DecodeError error;
      const bool ok = decoder_.decode(payload, envelope_, error);
      chat_->on_bad_frame(c, proto::reply_error(ok ? envelope_.id : error.id,
                                                ErrorCode::kRateLimited, rate_message_));
    }
    return;
  }
  if (!decoder_.decode(payload, request_, decode_error_, limits_)) {
    // A known op that is not allowed yet says so, whatever else is wrong with its fields.
    proto::ErrorCode code = decode_error_.code;
    std::string_view message = decode_error_.message;
    proto::DecodeError envelope_error;
    if (!c.authenticated() && !chat_->logging_in(c) &&
        decoder_.decode(payload, envelope_, envelope_error) &&
        !proto::allowed_before_login(envelope_.op)) {
      code = ErrorCode::kUnauthorized;
      message = "log in first";
    }
    chat_->on_bad_frame(c, proto::reply_error(decode_error_.id, code, message));
    return;
  }
  chat_->on_request(c, request_);
}

void Dispatcher::on_close(net::Connection& c) {
  if (c.transport() == net::Transport::kHttp) uploads_->abort(c);
  chat_->on_close(c);
}

// Every request but the back-end's (api key) is charged to the connection's rate limit here,
// before its body is read. File uploads take their body as it arrives; everything else gets it
// whole.
bool Dispatcher::on_http_headers(net::Connection& c, http::Request& req) {
  if (!is_api_key(req)) {
    if (net::Admit admit = c.admit(); admit != net::Admit::kOk) {
      if (admit == net::Admit::kRefused) {
        Answer{c.id(), false}.error(ErrorCode::kRateLimited, rate_message_);
      }
      return false;
    }
  }
  if (req.method != "POST" || req.path != "/v1/files") return false;
  Caller who = caller(req);  // a token is verified only for the one route that needs it here
  if (who.user.empty() && !who.api_key) {
    Answer{c.id(), false}.error(ErrorCode::kUnauthorized, who.presented
                                                             ? "invalid or expired token"
                                                             : "missing Authorization: Bearer");
    return false;
  }
  return uploads_->begin(c, req, who.user);
}

void Dispatcher::on_http_body(net::Connection& c, http::Request& req) { uploads_->more(c, req); }

void Dispatcher::on_drain(net::Connection& c) { chat_->on_drain(c); }

void Dispatcher::on_http(net::Connection& c, http::Request& req) {
  bool get = req.method == "GET" || req.method == "HEAD";
  if (req.path == "/healthz" || req.path == "/metrics") {
    if (!get) {
      Answer{c.id(), req.keep_alive}.method_not_allowed();
      return;
    }
    if (req.path == "/metrics") return serve_metrics(c, req);
    // Serving but unable to store (a full disk): not healthy, and says why. Sends fail with
    // `unavailable` meanwhile; the store resumes by itself when it can write again.
    if (chat_->services().store->stats().failing) {
      c.respond(http::http_response(503, "application/json", "{\"status\":\"store_failing\"}",
                                    req.keep_alive));
      return;
    }
    c.respond(http::http_response(200, "application/json", "{\"status\":\"ok\"}",
                                  req.keep_alive));
    return;
  }
  if (req.path.starts_with("/v1/")) return serve_api(c, req);
  if (serve_web(c, req)) return;
  c.respond(http::http_json_error(404, "not_found", "no such path", req.keep_alive));
}

// POST /v1/broadcast {"body","type"} with the api key: an ephemeral msg to every logged-in
// connection. Answers {"connections":N}, the number it was queued for.
// (The caller has checked the api key.)
void Dispatcher::serve_broadcast(net::Connection& c, const http::Request& req) {
  Answer a{c.id(), req.keep_alive};
  proto::BroadcastReq body;
  if (!decoder_.decode_broadcast(req.body, body, decode_error_, limits_)) {
    return a.error(decode_error_.code, decode_error_.message);
  }
  chat_->broadcast(body, [a](size_t n) {
    a.json(200, "{\"connections\":" + std::to_string(n) + "}");
  });
}

bool Dispatcher::trusted_for_metrics(const net::Connection& c, const http::Request& req) const {
  return is_loopback(c.peer()) || is_api_key(req);
}

// Gathers every shard's counters with one ask() per shard; the reply is sent when the last
// answer arrives. The connection is looked up again by id, since it may be gone by then.
void Dispatcher::serve_metrics(net::Connection& c, const http::Request& req) {
  if (!trusted_for_metrics(c, req)) {
    c.respond(http::http_json_error(401, "unauthorized", "metrics need the api key from off-box",
                                    req.keep_alive));
    return;
  }
  struct Gather {
    std::vector<ShardSample> samples;
    int pending;
    Answer answer;
  };
  shard::Shard& me = *shard::Shard::current();
  int n = me.set().size();
  auto g = std::make_shared<Gather>(Gather{std::vector<ShardSample>(n), n,
                                           Answer{c.id(), req.keep_alive}});
  for (int k = 0; k < n; ++k) {
    me.ask(
        k,
        [] {
          ShardSample s = sample_current_shard();
          if (auto* d = dynamic_cast<Dispatcher*>(&net::NetShard::current()->handler())) {
            s.uploads = d->uploads_->stats();
          }
          return s;
        },
        [g, k](ShardSample s) {
          g->samples[k] = std::move(s);
          if (--g->pending != 0) return;
          g->answer.send(http::http_response(200, "text/plain; version=0.0.4; charset=utf-8",
                                             render_metrics(g->samples), g->answer.keep_alive));
        });
  }
}

}  // namespace parley::server
