#include "options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>

namespace parley::bench {

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::kEcho: return "echo";
    case Scenario::kPing: return "ping";
    case Scenario::kP2p: return "p2p";
    case Scenario::kGroup: return "group";
    case Scenario::kIdle: return "idle";
    case Scenario::kOffline: return "offline";
    case Scenario::kStorm: return "storm";
    case Scenario::kMixed: return "mixed";
  }
  return "?";
}

uint32_t user_count(const Options& o) {
  return o.scenario == Scenario::kGroup ? o.groups * o.members : o.conns;
}

bool paired(Scenario s) {
  return s == Scenario::kP2p || s == Scenario::kOffline || s == Scenario::kStorm ||
         s == Scenario::kMixed;
}

bool grouped(Scenario s) { return s == Scenario::kGroup || s == Scenario::kMixed; }

namespace {

// "redis://HOST:PORT" (PORT optional) into the options; false if it is not that.
bool parse_redis_url(const std::string& url, Options& o) {
  constexpr std::string_view kScheme = "redis://";
  if (url.rfind(kScheme, 0) != 0) return false;
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  o.redis_host = rest.substr(0, colon);
  if (colon != std::string::npos) {
    std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    unsigned long p = std::stoul(port);
    if (p == 0 || p > 65535) return false;
    o.redis_port = static_cast<uint16_t>(p);
  }
  return !o.redis_host.empty();
}

}  // namespace

ParseResult parse_options(const std::vector<std::string>& args) {
  Options o;
  CLI::App app{
      "parley-bench: load harness for parleyd (and any RFC 6455 echo server).\n"
      "Scenarios: echo, ping, p2p, group, idle, offline, storm, mixed. Loopback targets only."};
  std::string scenario, transport = "ws", target = "parley";
  bool progress = false, no_progress = false;
  app.add_option("scenario", scenario,
                 "echo | ping | p2p | group | idle | offline | storm | mixed")->required();
  app.add_option("--host", o.host, "server address (127.0.0.0/8 only)")->capture_default_str();
  app.add_option("--port", o.port, "HTTP/WebSocket port")->capture_default_str();
  app.add_option("--tcp-port", o.tcp_port, "raw TCP port")->capture_default_str();
  app.add_option("--path", o.path, "WebSocket path")->capture_default_str();
  app.add_option("--transport", transport, "ws | tcp")->capture_default_str();
  app.add_option("--threads", o.threads, "client threads")->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--conns,--users,-n", o.conns,
                 "connections (echo, ping, idle) or users (p2p, paired)")
      ->capture_default_str()->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--groups", o.groups, "group: number of groups")->capture_default_str()
      ->check(CLI::Range(1u, 100'000u));
  app.add_option("--members", o.members, "group: members per group")->capture_default_str()
      ->check(CLI::Range(2u, 10'000u));
  app.add_option("--window,--depth,-w", o.window, "requests in flight per connection")
      ->capture_default_str()->check(CLI::Range(1u, 1u << 16));
  app.add_option("--ack-every", o.ack_every, "ack after this many deliveries")
      ->capture_default_str()->check(CLI::Range(1u, 1u << 20));
  app.add_option("--payload", o.payload, "message body (echo: frame) bytes")
      ->capture_default_str()->check(CLI::Range(0u, 60'000u));
  app.add_option("--rate", o.rate, "messages/s in total, open loop (0: closed loop)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--duration,-d", o.duration, "seconds measured")->capture_default_str()
      ->check(CLI::Range(0.01, 86400.0));
  app.add_option("--warmup", o.warmup, "seconds before measuring")->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--drain-timeout", o.drain_timeout, "seconds to wait for the tail")
      ->capture_default_str()->check(CLI::Range(0.1, 3600.0));
  app.add_option("--hold", o.hold, "idle: seconds to hold the connections")
      ->capture_default_str()->check(CLI::Range(0.0, 86400.0));
  app.add_option("--server-pid", o.server_pid, "sample this process's CPU and RSS from /proc");
  app.add_flag("--json", o.json, "one JSON object on stdout instead of text");
  app.add_flag("--progress", progress, "live progress line on stderr (default on a terminal)");
  app.add_flag("--no-progress", no_progress, "no progress line");
  app.add_option("--jwt-secret", o.jwt_secret,
                 "log in with tokens signed with the server's jwt_secret (no registration)");
  app.add_option("--password", o.password, "password for registered bench users")
      ->capture_default_str();
  app.add_option("--prefix", o.prefix, "user/group name prefix (default: unique per run)");
  app.add_option("--source-addrs", o.source_addrs,
                 "spread connections over 127.0.0.1..N as source addresses (0: auto)")
      ->check(CLI::Range(0u, 250u));
  app.add_option("--messages", o.messages, "offline: messages preloaded per offline user")
      ->capture_default_str()->check(CLI::Range(1u, 100'000'000u));
  app.add_option("--churn", o.churn,
                 "mixed: fraction of the connections closed and reopened per second")
      ->capture_default_str()->check(CLI::Range(0.0, 10.0));
  app.add_option("--report-every", o.report_every,
                 "mixed: seconds between interval lines (0: none)")
      ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  app.add_option("--target", target,
                 "parley (default) | redis://HOST:PORT (p2p, group as Redis pub/sub relays)");
  app.set_version_flag("--version", PARLEY_VERSION);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    ParseResult r;
    r.exit_code = e.get_exit_code();
    r.message = e.get_exit_code() == 0 ? app.help() : std::string(e.what());
    if (e.get_name() == "CallForVersion") r.message = PARLEY_VERSION;
    return r;
  }
  static const std::map<std::string, Scenario> kScenarios = {{"echo", Scenario::kEcho},
                                                             {"ping", Scenario::kPing},
                                                             {"p2p", Scenario::kP2p},
                                                             {"group", Scenario::kGroup},
                                                             {"idle", Scenario::kIdle},
                                                             {"offline", Scenario::kOffline},
                                                             {"storm", Scenario::kStorm},
                                                             {"mixed", Scenario::kMixed}};
  auto fail = [](std::string m) {
    ParseResult r;
    r.exit_code = 2;
    r.message = std::move(m);
    return r;
  };
  auto it = kScenarios.find(scenario);
  if (it == kScenarios.end()) return fail("unknown scenario: " + scenario);
  o.scenario = it->second;
  if (transport == "ws") {
    o.transport = Transport::kWs;
  } else if (transport == "tcp") {
    o.transport = Transport::kTcp;
  } else {
    return fail("--transport must be ws or tcp");
  }
  if (o.host.rfind("127.", 0) != 0) return fail("--host must be a loopback address (127.0.0.0/8)");
  if (progress && no_progress) return fail("--progress and --no-progress together");
  if (progress) o.progress = true;
  if (no_progress) o.progress = false;
  if (target != "parley") {
    if (!parse_redis_url(target, o)) return fail("--target must be parley or redis://HOST:PORT");
    if (o.redis_host.rfind("127.", 0) != 0) {
      return fail("--target must be a loopback address (127.0.0.0/8)");
    }
    if (o.scenario != Scenario::kP2p && o.scenario != Scenario::kGroup) {
      return fail("--target redis runs only the p2p and group scenarios");
    }
    if (o.rate > 0) return fail("--target redis runs closed loop only (no --rate)");
    o.target = Target::kRedis;
  }
  if (o.scenario == Scenario::kOffline && o.rate > 0) {
    return fail("offline sends its backlog closed loop (no --rate)");
  }
  if (o.scenario == Scenario::kMixed) {
    // Whole pairs and whole groups: a multiple of lcm(2, members).
    uint32_t unit = o.members % 2 == 0 ? o.members : 2 * o.members;
    o.conns = (o.conns + unit - 1) / unit * unit;
  } else if (paired(o.scenario) && o.conns % 2 != 0) {
    ++o.conns;
  }
  if (o.prefix.empty()) {
    auto t = std::chrono::system_clock::now().time_since_epoch().count();
    o.prefix = "b" + std::to_string((static_cast<uint64_t>(t) / 1000 + getpid()) % 100'000'000) + "_";
  }
  ParseResult r;
  r.options = std::move(o);
  return r;
}

}  // namespace parley::bench
