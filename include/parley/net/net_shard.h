// The network side of one shard: its listeners, its connections, their deadlines and the
// end-of-tick write flush. One NetShard per shard thread; everything here is owner-thread only
// except what is marked otherwise.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "parley/http/request_parser.h"
#include "parley/net/address_table.h"
#include "parley/net/connection.h"
#include "parley/net/timer_wheel.h"
#include "parley/util/clock.h"

namespace parley::shard {
class Shard;
}

namespace parley::net {

struct NetOptions {
  size_t max_frame = 65536;           // largest client message (WS after reassembly, TCP payload)
  size_t max_outbuf = 4 << 20;        // unsent output per connection (see SendStatus)
  http::HttpLimits http;              // request header/body limits
  uint32_t header_timeout_ms = 10000; // HTTP request headers must be complete within this
  uint32_t login_timeout_ms = 10000;  // WS/TCP client must log in within this (if require_login)
  uint32_t idle_timeout_ms = 90000;   // nothing received for this long: closed
  uint32_t close_linger_ms = 2000;    // after our close frame/FIN, wait this long for the peer
  size_t max_connections = 0;         // per shard; 0 = unlimited
  uint32_t max_per_address = 0;       // connections from one address, all shards; 0 = unlimited
  // Shared by every shard (run_until_signal makes one if unset): counts connections per address
  // and paces failed logins per address. nullptr: no per-address accounting.
  std::shared_ptr<AddressTable> addresses;
  double rate_limit = 0;              // requests/s per connection (Connection::admit); 0 = none
  double rate_burst = 1;              // requests above the rate that may arrive at once
  uint32_t rate_abuse_ms = 10000;     // over the rate this long (no 1 s break): closed
  bool require_login = true;          // false for backends without login (echo)
  bool ws_allow_binary = false;       // false: binary messages are closed with 1003
};

// Counters for /metrics. Owner-thread writes; other shards read a copy through ask().
struct NetStats {
  std::array<uint64_t, 3> accepted{};  // by Transport (kWebSocket counts upgrades)
  std::array<int64_t, 3> open{};
  uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  uint64_t http_requests = 0, http_errors = 0, ws_errors = 0, tcp_errors = 0;
  uint64_t timeouts = 0, slow_client_closes = 0, read_pauses = 0, rejected = 0;
  uint64_t handoffs_out = 0, handoffs_in = 0, direct_writes = 0, queued_writes = 0;
  uint64_t rate_limited = 0, rate_limit_closes = 0, rejected_per_address = 0;
};

class NetShard {
 public:
  // Construct on the shard's own thread. `handler` and `clock` must outlive this.
  NetShard(shard::Shard& shard, NetOptions opts, Handler& handler, const Clock& clock);
  ~NetShard();
  NetShard(const NetShard&) = delete;
  NetShard& operator=(const NetShard&) = delete;

  // The NetShard of the calling shard thread (nullptr elsewhere).
  static NetShard* current();

  // Takes a listening socket (from listen_reuseport) for the HTTP port (kHttp: HTTP and
  // WebSocket) or the TCP port (kTcp). Returns 0 or a libuv error code.
  int adopt_listener(int fd, Transport t);

  // Takes `fd`, an already-connected stream socket, as a new client connection of transport
  // `t` (kTcp or kHttp), as if it had been accepted on a listener of that kind. This is how
  // tests and fuzz targets drive a shard in-process, e.g. with one end of a socketpair().
  // Owns `fd` from now on, also on failure. Returns 0 or a libuv error code.
  int adopt_socket(int fd, Transport t);

  // The connection behind `id`, or nullptr if it is gone, or lives on another shard.
  Connection* find(ConnId id);

  // Moves `c` to shard `to`: its socket, unparsed input, unsent output, framing state and
  // context travel; `on_arrival` then runs on shard `to` with the new Connection, before the
  // carried input is parsed. `c` must not be used after this call.
  void handoff(Connection& c, int to, std::function<void(Connection&)> on_arrival);

  // Stops accepting and closes every connection (WebSocket with 1001). The loop can end once
  // the closes complete.
  void shutdown();

  shard::Shard& shard() { return shard_; }
  const NetOptions& options() const { return opts_; }
  const NetStats& stats() const { return stats_; }
  NetStats& stats() { return stats_; }
  const Clock& clock() const { return clock_; }
  Handler& handler() { return handler_; }
  size_t connection_count() const { return live_; }
  bool shutting_down() const { return shutting_down_; }

 private:
  friend class Connection;
  struct Carried;

  static void on_listen_cb(uv_stream_t* server, int status);
  void accept_one(uv_stream_t* server, Transport t);
  void open_accepted(Connection* c, Transport t);
  Connection* create(Transport t);
  void release(Connection* c);
  void mark_dirty(Connection* c);
  void flush_dirty();
  void complete_handoff(Connection& c);
  void adopt(Carried carried);
  void arm(Connection* c);
  bool shard_congested() const;
  void pause_for_congestion(Connection* c);
  void resume_paused();

 public:
  static constexpr size_t kScratchSize = 64 * 1024;

 private:
  std::vector<ConnId> paused_;         // connections not reading while the shard is congested
  bool resume_armed_ = false;

  shard::Shard& shard_;
  NetOptions opts_;
  Handler& handler_;
  const Clock& clock_;
  NetStats stats_;
  std::vector<Connection*> slots_;     // by ConnId::slot; nullptr = free
  std::vector<uint32_t> slot_gen_;     // generation of the slot's next occupant
  std::vector<uint32_t> free_slots_;
  size_t live_ = 0;
  std::vector<ConnId> dirty_;          // connections with output queued this tick
  std::vector<std::pair<uv_tcp_t*, Transport>> listeners_;
  std::unique_ptr<uint8_t[]> scratch_; // shared read buffer (read callbacks are synchronous)
  TimerWheel wheel_;
  uv_timer_t timer_;
  uv_idle_t again_;                    // active while dirty_ was left non-empty: no blocking poll
  bool shutting_down_ = false;
};

}  // namespace parley::net
