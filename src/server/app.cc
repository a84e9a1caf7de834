#include "parley/server/app.h"

#include <thread>

#include "parley/net/runner.h"
#include "parley/server/data_dir.h"
#include "parley/server/dispatcher.h"
#include "parley/server/log.h"

namespace parley::server {
namespace {

net::NetOptions net_options(const Config& c, int shards) {
  net::NetOptions o;
  o.max_frame = c.max_frame;
  o.max_outbuf = c.max_outbuf;
  o.http.max_header_bytes = c.max_header_bytes;
  o.http.max_body = c.max_http_body;
  o.header_timeout_ms = c.header_timeout_ms;
  o.login_timeout_ms = c.login_timeout_ms;
  o.idle_timeout_ms = c.idle_timeout_ms;
  o.max_connections = c.max_connections == 0 ? 0 : (c.max_connections + shards - 1) / shards;
  o.require_login = true;
  o.ws_allow_binary = false;  // the protocol is JSON text: binary messages are closed with 1003
  return o;
}

int resolve_shards(int configured) {
  if (configured > 0) return configured;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace

int run_server(const Config& config) {
  std::string error;
  DataDirLock lock = DataDirLock::acquire(config.data_dir, error);
  if (!lock.held()) {
    log::error("%s", error.c_str());
    return 1;
  }
  net::RunSpec spec;
  spec.shards = resolve_shards(config.shards);
  spec.net = net_options(config, spec.shards);
  spec.ports = {{config.bind, config.http_port, net::Transport::kHttp},
                {config.bind, config.tcp_port, net::Transport::kTcp}};
  spec.make_handler = [&config](shard::Shard&) { return std::make_unique<Dispatcher>(config); };
  spec.on_listening = [&](const std::vector<net::BoundPort>& b) {
    log::raw_stderr_line("listening http=" + b[0].address + " tcp=" + b[1].address);
    log::info("parleyd %s serving with %d shard%s, data in %s", PARLEY_VERSION, spec.shards,
              spec.shards == 1 ? "" : "s", config.data_dir.c_str());
  };
  int code = net::run_until_signal(std::move(spec));
  if (code == 0) log::info("stopped");
  return code;
}

}  // namespace parley::server
