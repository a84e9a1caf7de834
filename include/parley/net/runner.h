// Runs a network service on N shards: opens the SO_REUSEPORT listeners, starts one thread per
// shard (each with its own NetShard and Handler), reports once every listener is accepting, and
// shuts everything down on SIGTERM/SIGINT. parleyd and parley-echo both run on this.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parley/net/handler.h"
#include "parley/net/listener.h"
#include "parley/net/net_shard.h"

namespace parley::shard {
class Shard;
}

namespace parley::net {

struct PortSpec {
  std::string bind;
  uint16_t port = 0;  // 0: any free port
  Transport transport = Transport::kTcp;  // kHttp (HTTP + WebSocket) or kTcp (length-framed)
};

struct RunSpec {
  int shards = 1;
  NetOptions net;
  std::vector<PortSpec> ports;
  // Builds a shard's handler, on that shard's thread. It lives until that shard's loop ends.
  std::function<std::unique_ptr<Handler>(shard::Shard&)> make_handler;
  // Called on the calling thread once every listener accepts, with the bound ports in the order
  // of `ports` (e.g. to print the "listening" line).
  std::function<void(const std::vector<BoundPort>&)> on_listening;
};

// Blocks the calling (main) thread until SIGTERM or SIGINT, then stops accepting, closes every
// connection (WebSocket with 1001), lets the loops finish and joins them. Returns 0 after a
// clean stop, 1 if the service could not start (the reason is logged).
int run_until_signal(RunSpec spec);

}  // namespace parley::net
