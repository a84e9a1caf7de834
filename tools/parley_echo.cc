// parley-echo: the network layer alone, with no chat and no store. Echoes every WebSocket text
// and binary message (same opcode, any path) and every raw TCP frame. It exists to check the
// WebSocket layer against external conformance suites and to benchmark it against other echo
// servers on the same work; it shares every line of framing code with parleyd.
#include <CLI/CLI.hpp>

#include <thread>

#include "parley/http/request.h"
#include "parley/http/response.h"
#include "parley/net/connection.h"
#include "parley/net/runner.h"
#include "parley/server/log.h"

namespace {

class EchoHandler final : public parley::net::Handler {
 public:
  void on_message(parley::net::Connection& c, std::string_view payload, bool binary) override {
    c.send(payload, parley::net::SendKind::kReply, binary);
  }
  void on_http(parley::net::Connection& c, parley::http::Request& req) override {
    c.respond(parley::http::http_response(200, "text/plain", "parley-echo: connect with WebSocket\n",
                                          req.keep_alive));
  }
  bool accept_websocket(std::string_view) override { return true; }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"parley-echo: WebSocket and TCP echo server on Parley's network layer"};
  std::string bind = "127.0.0.1";
  uint16_t port = 9001, tcp_port = 9002;
  int shards = 1;
  size_t max_frame = 16 << 20;
  app.add_option("--bind", bind, "address to listen on")->capture_default_str();
  app.add_option("--port", port, "WebSocket (HTTP) port, 0 = any free port")->capture_default_str();
  app.add_option("--tcp-port", tcp_port, "length-framed TCP port, 0 = any free port")
      ->capture_default_str();
  app.add_option("--shards", shards, "shard threads (0 = number of cores)")->capture_default_str();
  app.add_option("--max-frame", max_frame, "largest message accepted, bytes")->capture_default_str();
  app.set_version_flag("--version", PARLEY_VERSION);
  CLI11_PARSE(app, argc, argv);
  if (shards <= 0) shards = std::max(1u, std::thread::hardware_concurrency());

  parley::net::RunSpec spec;
  spec.shards = shards;
  spec.net.max_frame = max_frame;
  spec.net.max_outbuf = std::max<size_t>(4 << 20, 2 * max_frame);
  spec.net.http.max_body = 0;
  spec.net.require_login = false;
  spec.net.ws_allow_binary = true;
  spec.net.idle_timeout_ms = 600'000;
  spec.ports = {{bind, port, parley::net::Transport::kHttp},
                {bind, tcp_port, parley::net::Transport::kTcp}};
  spec.make_handler = [](parley::shard::Shard&) { return std::make_unique<EchoHandler>(); };
  spec.on_listening = [](const std::vector<parley::net::BoundPort>& b) {
    parley::log::raw_stderr_line("listening ws=" + b[0].address + " tcp=" + b[1].address);
  };
  return parley::net::run_until_signal(std::move(spec));
}
