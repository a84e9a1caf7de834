// The per-shard request dispatcher: turns client frames into protocol operations and HTTP
// requests into routes. One per shard, owner-thread only. The chat core plugs its operations in
// here (chat::ChatShard); HTTP serves /healthz and /metrics.
#pragma once

#include <memory>
#include <string>

#include "parley/chat/chat.h"
#include "parley/net/connection.h"
#include "parley/net/handler.h"
#include "parley/proto/command.h"
#include "parley/server/config.h"

namespace parley::server {

// An HTTP API reply frame of the chat core as an HTTP response (http_api.cc).
std::string frame_to_http(std::string_view frame, int ok_status, bool keep_alive);
// An API call's JSON body with `fields` added last (so they win), as a client frame.
std::string body_as_frame(std::string_view body, std::string_view fields);
// "key":"value" with the value escaped as a JSON string.
std::string json_field(std::string_view key, std::string_view value);

// Where an HTTP answer goes: the connection is looked up again when the answer is sent, since an
// answer computed elsewhere (another shard, the thread pool) may find it gone (http_api.cc).
struct Answer {
  net::ConnId conn;
  bool keep_alive = true;

  void send(std::string response) const;
  void json(int status, std::string_view body) const;
  void error(proto::ErrorCode code, std::string_view message) const;
  void method_not_allowed() const;  // 405
};

class Uploads;

class Dispatcher final : public net::Handler {
 public:
  Dispatcher(const Config& config, std::unique_ptr<chat::ChatShard> chat);
  ~Dispatcher() override;

  void on_message(net::Connection& c, std::string_view payload, bool binary) override;
  void on_http(net::Connection& c, http::Request& req) override;
  bool on_http_headers(net::Connection& c, http::Request& req) override;
  void on_http_body(net::Connection& c, http::Request& req) override;
  void on_close(net::Connection& c) override;
  void on_drain(net::Connection& c) override;

 private:
  // Who an HTTP request's `Authorization: Bearer` names.
  struct Caller {
    bool presented = false;  // a bearer credential was given (valid or not)
    bool api_key = false;    // it is the server's api_key
    std::string user;        // else the user of a valid token ("" if none)
  };
  Caller caller(const http::Request& req) const;
  // Whether the bearer credential is the api key (no token verification; constant time).
  bool is_api_key(const http::Request& req) const;

  void serve_metrics(net::Connection& c, const http::Request& req);
  void serve_broadcast(net::Connection& c, const http::Request& req);
  bool trusted_for_metrics(const net::Connection& c, const http::Request& req) const;

  // The HTTP API (http_api.cc): /v1/...
  void serve_api(net::Connection& c, http::Request& req);
  // Decodes an API call's JSON body (plus `fields`, e.g. the op) with the client-frame decoder;
  // false (and the error answered) if it does not decode to `op`.
  bool decode_call(std::string_view body, std::string_view fields, proto::Op op,
                   proto::Request& out, const Answer& a);

  void serve_download(net::Connection& c, const http::Request& req, std::string_view id);
  void serve_checkpoint(net::Connection& c, const http::Request& req);
  bool serve_web(net::Connection& c, const http::Request& req);

  const Config& config_;
  proto::CommandDecoder decoder_;
  proto::RequestLimits limits_;
  proto::Request request_;
  proto::Envelope envelope_;
  proto::DecodeError decode_error_;
  std::string rate_message_;  // the rate_limited error's text
  std::unique_ptr<chat::ChatShard> chat_;
  std::unique_ptr<Uploads> uploads_;
};

}  // namespace parley::server
