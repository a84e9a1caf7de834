// The per-shard request dispatcher: turns client frames into protocol operations and HTTP
// requests into routes. One per shard, owner-thread only. The chat core plugs its operations in
// here (chat::ChatShard); HTTP serves /healthz and /metrics.
#pragma once

#include <memory>
#include <string>

#include "parley/chat/chat.h"
#include "parley/net/handler.h"
#include "parley/proto/command.h"
#include "parley/server/config.h"

namespace parley::server {

class Dispatcher final : public net::Handler {
 public:
  Dispatcher(const Config& config, std::unique_ptr<chat::ChatShard> chat);
  ~Dispatcher() override;

  void on_message(net::Connection& c, std::string_view payload, bool binary) override;
  void on_http(net::Connection& c, http::Request& req) override;
  void on_close(net::Connection& c) override;
  void on_drain(net::Connection& c) override;

 private:
  void serve_metrics(net::Connection& c, const http::Request& req);
  void serve_broadcast(net::Connection& c, const http::Request& req);
  bool trusted_for_metrics(const net::Connection& c, const http::Request& req) const;

  const Config& config_;
  proto::CommandDecoder decoder_;
  proto::RequestLimits limits_;
  proto::Request request_;
  proto::Envelope envelope_;
  proto::DecodeError decode_error_;
  std::unique_ptr<chat::ChatShard> chat_;
};

}  // namespace parley::server
