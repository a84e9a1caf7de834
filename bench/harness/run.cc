#include "run.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "driver.h"
#include "proc_stats.h"
#include "shared.h"

namespace parley::bench {
namespace {

using Clock = std::chrono::steady_clock;

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void plan(Shared& sh) {
  const Options& o = sh.opt;
  sh.endpoint.transport = o.transport;
  sh.endpoint.path = o.path;
  uint16_t port = o.transport == Transport::kTcp ? o.tcp_port : o.port;
  uv_ip4_addr(o.host.c_str(), port, &sh.endpoint.addr);
  sh.endpoint.host_header = o.host + ":" + std::to_string(o.port);
  sh.filler.assign(o.payload, 'x');
  uint32_t users = o.scenario == Scenario::kGroup ? o.groups * o.members : o.conns;
  if (o.scenario != Scenario::kEcho && o.scenario != Scenario::kPing) {
    sh.users.reserve(users);
    for (uint32_t i = 0; i < users; ++i) sh.users.push_back(o.prefix + "u" + std::to_string(i));
  }
  for (uint32_t g = 0; o.scenario == Scenario::kGroup && g < o.groups; ++g) {
    sh.groups.push_back(o.prefix + "g" + std::to_string(g));
  }
  if (o.scenario == Scenario::kP2p) sh.fanout = 1;
  if (o.scenario == Scenario::kGroup) sh.fanout = o.members - 1;
  // One source address carries ~28,000 connections to one port; a process holds < 20,000
  // sockets, so one is enough, but spreading keeps per-address port use low (--source-addrs).
  uint32_t sources = o.source_addrs;
  if (sources == 0 && users > 10'000) sources = 4;
  for (uint32_t i = 1; i <= sources; ++i) {
    sockaddr_in a{};
    uv_ip4_addr(("127.0.0." + std::to_string(i)).c_str(), 0, &a);
    sh.sources.push_back(a);
  }
}

class ProgressLine {
 public:
  explicit ProgressLine(bool on) : on_(on) {}
  ~ProgressLine() { clear(); }
  void show(const std::string& text) {
    if (!on_) return;
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (on_ && shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
};

std::string progress_text(const char* phase, double t, double total, const CounterTotals& c,
                          const CounterTotals& last, double dt) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%-7s %5.1f/%-5.1fs  ready %llu  sent %llu  replies %llu (%.0f/s)  "
                "deliveries %llu (%.0f/s)  errors %llu",
                phase, t, total, static_cast<unsigned long long>(c.ready),
                static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.replied),
                dt > 0 ? static_cast<double>(c.replied - last.replied) / dt : 0.0,
                static_cast<unsigned long long>(c.delivered),
                dt > 0 ? static_cast<double>(c.delivered - last.delivered) / dt : 0.0,
                static_cast<unsigned long long>(c.errors + c.failed));
  return buf;
}

// Waits up to `seconds` for `done`, refreshing the progress line.
template <class Done>
bool wait_for(Shared& sh, ProgressLine& line, const char* phase, double seconds, Done done) {
  auto start = Clock::now();
  auto last_t = start;
  CounterTotals last = sh.totals();
  while (true) {
    CounterTotals now = sh.totals();
    if (done(now)) return true;
    double t = seconds_since(start);
    if (t >= seconds) return false;
    double dt = std::chrono::duration<double>(Clock::now() - last_t).count();
    if (dt >= 0.5) {
      line.show(progress_text(phase, t, seconds, now, last, dt));
      last = now;
      last_t = Clock::now();
    }
    sleep_ms(5);
  }
}

void set_phase(Shared& sh, Phase p) { sh.phase.store(static_cast<int>(p), std::memory_order_release); }

}  // namespace

Report run(const Options& opt) {
  Shared sh(opt);
  plan(sh);
  Report r;
  r.scenario = scenario_name(opt.scenario);
  r.transport = opt.transport == Transport::kTcp ? "tcp" : "ws";
  uint32_t total = opt.scenario == Scenario::kGroup ? opt.groups * opt.members : opt.conns;
  r.connections = total;
  bool tty = isatty(STDERR_FILENO) != 0;
  ProgressLine line(opt.progress.value_or(tty));
  auto server = [&]() -> std::optional<ProcSample> {
    if (opt.server_pid <= 0) return std::nullopt;
    return proc_sample(opt.server_pid);
  };

  auto server_before_setup = server();
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<BenchDriver*> drivers;
  for (int i = 0; i < opt.threads; ++i) {
    auto d = std::make_unique<BenchDriver>(sh, i);
    drivers.push_back(d.get());
    workers.push_back(std::make_unique<Worker>(i, std::move(d)));
  }
  auto setup_start = Clock::now();
  for (auto& w : workers) w->start();

  // Setup: every connection open (and logged in), or failed.
  double setup_limit = 30 + total / 500.0;
  bool setup_ok = wait_for(sh, line, "setup", setup_limit, [&](const CounterTotals& c) {
    return c.ready + c.failed >= total;
  });
  r.setup_seconds = seconds_since(setup_start);
  setup_ok = setup_ok && sh.totals().ready == total;
  if (setup_ok && opt.scenario == Scenario::kGroup) {
    set_phase(sh, Phase::kGroups);
    setup_ok = wait_for(sh, line, "groups", setup_limit, [&](const CounterTotals& c) {
      return c.groups_ready >= opt.groups || c.failed > 0;
    }) && sh.totals().failed == 0;
  }

  std::optional<ProcSample> srv0, srv1;
  ProcSample self0{}, self1{};
  CounterTotals c0{}, c1{};
  if (setup_ok && opt.scenario == Scenario::kIdle) {
    srv0 = server_before_setup;
    srv1 = server();
    if (opt.hold > 0) {
      wait_for(sh, line, "hold", opt.hold, [&](const CounterTotals& c) { return c.failed > 0; });
    }
    r.completed = sh.totals().failed == 0;
  } else if (setup_ok) {
    sh.run_start_ns.store(now_ns(), std::memory_order_relaxed);
    set_phase(sh, Phase::kWarmup);
    wait_for(sh, line, "warmup", opt.warmup, [](const CounterTotals&) { return false; });
    sh.measure_start_ns.store(now_ns(), std::memory_order_relaxed);
    set_phase(sh, Phase::kMeasure);
    auto m0 = Clock::now();
    c0 = sh.totals();
    self0 = self_sample();
    srv0 = server();
    wait_for(sh, line, "measure", opt.duration, [](const CounterTotals&) { return false; });
    sh.measure_end_ns.store(now_ns(), std::memory_order_relaxed);
    set_phase(sh, Phase::kDrain);
    c1 = sh.totals();
    self1 = self_sample();
    srv1 = server();
    r.measured_seconds = seconds_since(m0);
    bool drained = wait_for(sh, line, "drain", opt.drain_timeout, [&](const CounterTotals& c) {
      return c.replied + c.errors >= c.sent && (sh.fanout == 0 || opt.scenario == Scenario::kEcho ||
                                                opt.scenario == Scenario::kPing ||
                                                c.delivered >= (c.replied) * sh.fanout);
    });
    if (!drained) sh.note_error("the drain timed out: replies or deliveries still missing");
    r.completed = drained && sh.totals().failed == 0;
  }
  line.clear();
  set_phase(sh, Phase::kDone);
  for (auto& w : workers) w->request_stop();
  for (auto& w : workers) w->join();

  CounterTotals end = sh.totals();
  r.sent = c1.sent - c0.sent;
  r.replied = c1.replied - c0.replied;
  r.delivered = c1.delivered - c0.delivered;
  r.errors = end.errors;
  r.rate_limited = end.rate_limited;
  r.failed_connections = end.failed;
  r.client_cpu_seconds = static_cast<double>(self1.cpu_ns - self0.cpu_ns) / 1e9;
  if (srv0 && srv1) {
    r.have_server = true;
    r.server_cpu_seconds = static_cast<double>(srv1->cpu_ns - srv0->cpu_ns) / 1e9;
    r.server_rss_before = srv0->rss_bytes;
    r.server_rss_after = srv1->rss_bytes;
  }
  for (BenchDriver* d : drivers) {
    r.reply_latency.merge(d->reply_latency());
    r.deliver_latency.merge(d->deliver_latency());
  }
  if (opt.scenario == Scenario::kP2p || opt.scenario == Scenario::kGroup) {
    // Confirmed sends per user, then every receiver's streams against them.
    std::vector<uint64_t> confirmed(total, 0);
    for (BenchDriver* d : drivers) {
      for (const Session& s : d->sessions()) confirmed[s.user] = s.confirmed;
    }
    for (BenchDriver* d : drivers) {
      for (const Session& s : d->sessions()) {
        r.verify.seq_regressions += s.seq.regressions();
        r.verify.unexpected += s.unexpected;
        if (opt.scenario == Scenario::kP2p) {
          r.verify.add(s.streams[0], confirmed[s.peer]);
          continue;
        }
        uint32_t first = s.group * opt.members;
        for (uint32_t m = 0; m < opt.members; ++m) {
          if (first + m == s.user) continue;  // a sender gets ok, not its own msg
          r.verify.add(s.streams[m], confirmed[first + m]);
        }
      }
    }
    r.verified = r.completed || setup_ok;
  }
  r.error = sh.first_error();
  return r;
}

uint64_t Report::units() const {
  if (scenario == "p2p") return replied;
  if (scenario == "group") return delivered;
  return replied;
}

const char* Report::unit_name() const {
  if (scenario == "p2p") return "message";
  if (scenario == "group") return "delivery";
  if (scenario == "idle") return "connection";
  return "round trip";
}

bool Report::ok() const {
  return completed && errors == 0 && (!verified || verify.ok());
}

}  // namespace parley::bench
