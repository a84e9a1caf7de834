#include "parley/server/app.h"

#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <thread>

#include "parley/chat/chat.h"
#include "parley/net/runner.h"
#include "parley/store/store.h"
#include "parley/http/request.h"
#include "parley/server/data_dir.h"
#include "parley/server/dispatcher.h"
#include "parley/server/files.h"
#include "parley/server/log.h"
#include "parley/shard/shard.h"

namespace parley::server {
namespace {

net::NetOptions net_options(const Config& c, int shards) {
  net::NetOptions o;
  o.max_frame = c.max_frame;
  o.max_outbuf = c.max_outbuf;
  o.http.max_header_bytes = c.max_header_bytes;
  o.http.max_body = c.max_http_body;
  // File uploads may be as long as max_file; every other body is bounded by max_http_body.
  o.http.body_limit = [max_file = c.max_file, max_body = c.max_http_body](const http::Request& r) {
    return r.method == "POST" && r.path == "/v1/files" ? max_file : max_body;
  };
  o.header_timeout_ms = c.header_timeout_ms;
  o.login_timeout_ms = c.login_timeout_ms;
  o.idle_timeout_ms = c.idle_timeout_ms;
  o.rate_limit = c.rate_limit;
  o.rate_burst = c.rate_burst;
  o.rate_abuse_ms = static_cast<uint32_t>(c.rate_abuse_ms);
  o.max_per_address = static_cast<uint32_t>(c.max_connections_per_ip);
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
  // Block the stop signals before any thread exists (RocksDB starts its own): threads inherit
  // the mask, so SIGTERM/SIGINT reach only the main thread's sigwait in run_until_signal.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::string error;
  DataDirLock lock = DataDirLock::acquire(config.data_dir, error);
  if (!lock.held()) {
    log::error("%s", error.c_str());
    return 1;
  }
  store::StoreOptions so;
  so.path = config.data_dir + "/db";
  so.sync = config.sync == SyncMode::kAlways ? store::SyncPolicy::kAlways
            : config.sync == SyncMode::kNone ? store::SyncPolicy::kNone
                                             : store::SyncPolicy::kBatch;
  so.sync_interval_ms = config.sync_interval_ms;
  so.min_free_bytes = config.min_free_space;
  so.blob_files = true;  // uploaded files
  std::unique_ptr<store::Store> db = store::Store::open(so, error);
  if (!db) {
    log::error("cannot open the store in %s: %s", so.path.c_str(), error.c_str());
    return 1;
  }
  // Uploads cut short by a crash left chunks under a marker: they never became files.
  if (int swept = sweep_uploads(*db, error); swept < 0) {
    log::error("cannot sweep unfinished uploads: %s", error.c_str());
    return 1;
  } else if (swept > 0) {
    log::info("discarded %d unfinished upload%s", swept, swept == 1 ? "" : "s");
  }
  chat::Services services;
  services.config = &config;
  services.store = db.get();
  services.jwt = config.jwt_secret.empty() ? auth::JwtKey::random() : auth::JwtKey(config.jwt_secret);
  if (config.jwt_secret.empty()) {
    log::warn("jwt_secret is empty: tokens are signed with a random key and stop working at "
              "restart; set [auth] jwt_secret for tokens that last");
  }
  services.first_uid = chat::max_uid(*db, error) + 1;
  if (error.empty()) services.first_gid = chat::max_gid(*db, error) + 1;
  if (!error.empty()) {
    log::error("cannot read the store: %s", error.c_str());
    return 1;
  }

  net::RunSpec spec;
  spec.shards = resolve_shards(config.shards);
  services.shards = spec.shards;
  spec.net = net_options(config, spec.shards);
  spec.ports = {{config.bind, config.http_port, net::Transport::kHttp},
                {config.bind, config.tcp_port, net::Transport::kTcp}};
  spec.make_handler = [&config, &services](shard::Shard& shard) {
    auto chat = std::make_unique<chat::ChatShard>(shard, services);
    std::string load_error;
    if (!chat->load(load_error)) {
      // Serving with part of the state missing would break promises (lost cursors, reused
      // seqs); refuse to run instead.
      log::error("recovery failed on shard %d: %s", shard.id(), load_error.c_str());
      std::_Exit(1);
    }
    return std::make_unique<Dispatcher>(config, std::move(chat));
  };
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
