// The per-shard request dispatcher: turns client frames into protocol operations and HTTP
// requests into routes. One per shard, owner-thread only. The chat core plugs its operations in
// here; until then only what the foundation provides answers (ping, the pre-login rules,
// /healthz, /metrics).
#pragma once

#include <string>

#include "parley/net/handler.h"
#include "parley/proto/command.h"
#include "parley/server/config.h"

namespace parley::server {

class Dispatcher final : public net::Handler {
 public:
  explicit Dispatcher(const Config& config);

  void on_message(net::Connection& c, std::string_view payload, bool binary) override;
  void on_http(net::Connection& c, http::Request& req) override;

 private:
  void handle(net::Connection& c, const proto::Envelope& env);
  void serve_metrics(net::Connection& c, const http::Request& req);
  bool trusted_for_metrics(const net::Connection& c, const http::Request& req) const;

  const Config& config_;
  proto::CommandDecoder decoder_;
  proto::Envelope envelope_;
  proto::DecodeError decode_error_;
};

}  // namespace parley::server
