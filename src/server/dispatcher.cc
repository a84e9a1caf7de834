#include "parley/server/dispatcher.h"

#include <memory>
#include <vector>

#include "parley/http/request.h"
#include "parley/http/response.h"
#include "parley/net/connection.h"
#include "parley/net/net_shard.h"
#include "parley/server/metrics.h"
#include "parley/shard/shard.h"

namespace parley::server {
namespace {

using proto::ErrorCode;

bool is_loopback(const std::string& peer) {
  return peer.rfind("127.", 0) == 0 || peer.rfind("[::1]", 0) == 0 ||
         peer.rfind("[::ffff:127.", 0) == 0;
}

// Compares secrets without an early exit, so timing does not reveal a matching prefix.
bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

std::string_view bearer_token(const http::Request& req) {
  const std::string* auth = req.header("authorization");
  if (auth == nullptr) return {};
  std::string_view v = *auth;
  if (v.size() < 7 || (v.substr(0, 7) != "Bearer " && v.substr(0, 7) != "bearer ")) return {};
  return v.substr(7);
}

}  // namespace

Dispatcher::Dispatcher(const Config& config) : config_(config) {}

void Dispatcher::on_message(net::Connection& c, std::string_view payload, bool) {
  if (!decoder_.decode(payload, envelope_, decode_error_)) {
    c.send(proto::reply_error(decode_error_.id, ErrorCode::kBadRequest, decode_error_.message));
    return;
  }
  handle(c, envelope_);
}

void Dispatcher::handle(net::Connection& c, const proto::Envelope& env) {
  if (env.op == proto::Op::kPing) {
    c.send(proto::reply_pong(env.id));
    return;
  }
  if (!c.authenticated() && !proto::allowed_before_login(env.op)) {
    c.send(proto::reply_error(env.id, ErrorCode::kUnauthorized, "log in first"));
    return;
  }
  // Accounts, sessions and messaging arrive with the chat core; until then the server says
  // plainly that it cannot do them rather than pretending.
  c.send(proto::reply_error(env.id, ErrorCode::kUnavailable,
                            std::string(proto::op_name(env.op)) + " is not available yet"));
}

void Dispatcher::on_http(net::Connection& c, http::Request& req) {
  bool get = req.method == "GET" || req.method == "HEAD";
  if (req.path == "/healthz") {
    if (!get) {
      c.respond(http::http_json_error(405, "bad_request", "method not allowed", req.keep_alive));
      return;
    }
    c.respond(http::http_response(200, "application/json", "{\"status\":\"ok\"}",
                                  req.keep_alive));
    return;
  }
  if (req.path == "/metrics") {
    if (!get) {
      c.respond(http::http_json_error(405, "bad_request", "method not allowed", req.keep_alive));
      return;
    }
    serve_metrics(c, req);
    return;
  }
  c.respond(http::http_json_error(404, "not_found", "no such path", req.keep_alive));
}

bool Dispatcher::trusted_for_metrics(const net::Connection& c, const http::Request& req) const {
  if (is_loopback(c.peer())) return true;
  return !config_.api_key.empty() && equal_constant_time(bearer_token(req), config_.api_key);
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
    net::ConnId conn;
    bool keep_alive;
  };
  shard::Shard& me = *shard::Shard::current();
  int n = me.set().size();
  auto g = std::make_shared<Gather>(Gather{std::vector<ShardSample>(n), n, c.id(),
                                           req.keep_alive});
  for (int k = 0; k < n; ++k) {
    me.ask(
        k, [] { return sample_current_shard(); },
        [g, k](ShardSample s) {
          g->samples[k] = std::move(s);
          if (--g->pending != 0) return;
          net::Connection* conn = net::NetShard::current()->find(g->conn);
          if (conn == nullptr) return;
          conn->respond(http::http_response(200, "text/plain; version=0.0.4; charset=utf-8",
                                            render_metrics(g->samples), g->keep_alive));
        });
  }
}

}  // namespace parley::server
