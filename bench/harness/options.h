// parley-bench's command line, parsed once into an immutable Options.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine.h"

namespace parley::bench {

enum class Scenario : uint8_t { kEcho, kPing, kP2p, kGroup, kIdle, kOffline, kStorm, kMixed };

// Who carries the chat messages: parleyd, or a Redis server used as a pub/sub relay.
enum class Target : uint8_t { kParley, kRedis };

struct Options {
  Scenario scenario = Scenario::kP2p;
  std::string host = "127.0.0.1";
  uint16_t port = 8080;      // HTTP / WebSocket port
  uint16_t tcp_port = 7070;  // length-prefixed TCP port
  std::string path = "/ws";  // WebSocket path (echo servers: often "/")
  Transport transport = Transport::kWs;
  int threads = 1;
  uint32_t conns = 100;      // echo, ping, idle: connections; p2p: users (rounded up to even)
  uint32_t groups = 1;       // group: G groups …
  uint32_t members = 10;     // … of M members each
  uint32_t window = 1;       // requests in flight per connection (1 = ping-pong)
  uint32_t ack_every = 16;   // p2p, group: ack after this many deliveries
  uint32_t payload = 20;     // bytes of body (echo: of the frame)
  double rate = 0;           // messages/s over all connections (open loop); 0 = closed loop
  double duration = 5;       // seconds measured
  double warmup = 1;         // seconds run before measuring
  double drain_timeout = 10; // seconds to wait for outstanding replies and deliveries
  double hold = 0;           // idle: seconds to keep the connections after all logged in
  int server_pid = 0;        // sample this process's CPU and RSS from /proc
  bool json = false;
  std::optional<bool> progress;  // live line on stderr; default: when stderr is a terminal
  std::string jwt_secret;    // log in with minted tokens (users auto-created); else register
  std::string password = "bench-password";
  std::string prefix;        // user and group names start with it; default: unique per run
  uint32_t source_addrs = 0; // local 127.0.0.x addresses to spread connections over; 0 = auto
  uint32_t messages = 1000;  // offline: messages preloaded per offline user
  double churn = 0.01;       // mixed: fraction of the connections reconnecting per second
  double report_every = 10;  // mixed: seconds between interval lines (0: none)
  Target target = Target::kParley;
  std::string redis_host;    // --target redis://HOST:PORT
  uint16_t redis_port = 6379;
};

// Users a scenario logs in: --conns, or groups × members (group), rounded as the scenario needs.
uint32_t user_count(const Options& o);
// Whether the scenario's users form pairs (user i talks to i ^ 1).
bool paired(Scenario s);
// Whether the scenario's users are grouped (user i is member i % members of group i / members).
bool grouped(Scenario s);

struct ParseResult {
  std::optional<Options> options;  // empty: exit with `exit_code` after printing `message`
  int exit_code = 0;
  std::string message;
};

ParseResult parse_options(const std::vector<std::string>& args);  // args without argv[0]

const char* scenario_name(Scenario s);

}  // namespace parley::bench
