#include "run.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "driver.h"
#include "proc_stats.h"
#include "redis_driver.h"
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
  uint32_t users = user_count(o);
  if (o.scenario != Scenario::kEcho && o.scenario != Scenario::kPing) {
    sh.users.reserve(users);
    for (uint32_t i = 0; i < users; ++i) sh.users.push_back(o.prefix + "u" + std::to_string(i));
  }
  uint32_t groups = grouped(o.scenario) ? users / o.members : 0;
  for (uint32_t g = 0; g < groups; ++g) sh.groups.push_back(o.prefix + "g" + std::to_string(g));
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
                "%-7s %5.1f/%-5.1fs  online %llu  sent %llu  replies %llu (%.0f/s)  "
                "deliveries %llu (%.0f/s)  errors %llu",
                phase, t, total, static_cast<unsigned long long>(c.online()),
                static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.replied),
                dt > 0 ? static_cast<double>(c.replied - last.replied) / dt : 0.0,
                static_cast<unsigned long long>(c.delivered),
                dt > 0 ? static_cast<double>(c.delivered - last.delivered) / dt : 0.0,
                static_cast<unsigned long long>(c.errors + c.failed));
  return buf;
}

void set_phase(Shared& sh, Phase p) {
  sh.phase.store(static_cast<int>(p), std::memory_order_release);
}

// Everything one run's flow needs from run(): the shared state, the progress line, the report.
struct Flow {
  Flow(Shared& s, ProgressLine& l, Report& rep, uint32_t users)
      : sh(s), line(l), r(rep), total(users) {}

  Shared& sh;
  ProgressLine& line;
  Report& r;
  uint32_t total;  // users (connections)
  std::optional<ProcSample> srv0, srv1;
  ProcSample self0{}, self1{};
  CounterTotals c0{}, c1{};

  std::optional<ProcSample> server() const {
    if (sh.opt.server_pid <= 0) return std::nullopt;
    return proc_sample(sh.opt.server_pid);
  }

  // Waits up to `seconds` for `done`, refreshing the progress line.
  template <class Done>
  bool wait_for(const char* phase, double seconds, Done done) {
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
  void sleep(const char* phase, double seconds) {
    wait_for(phase, seconds, [](const CounterTotals&) { return false; });
  }

  void begin_measure() {
    sh.measure_start_ns.store(now_ns(), std::memory_order_relaxed);
    c0 = sh.totals();
    self0 = self_sample();
    srv0 = server();
  }
  void end_measure(Clock::time_point m0) {
    sh.measure_end_ns.store(now_ns(), std::memory_order_relaxed);
    c1 = sh.totals();
    self1 = self_sample();
    srv1 = server();
    r.measured_seconds = seconds_since(m0);
  }
  // Waits for every sent message's reply and every owed delivery; true if all came.
  bool drain() {
    set_phase(sh, Phase::kDrain);
    bool drained = wait_for("drain", sh.opt.drain_timeout, [&](const CounterTotals& c) {
      return c.replied + c.errors >= c.sent && c.delivered >= c.expected &&
             c.reconnects >= c.planned_closes;
    });
    if (!drained) sh.note_error("the drain timed out: replies or deliveries still missing");
    return drained;
  }

  void measured_window();
  void storm();
  void offline();
};

// Mixed's interval lines: asks every worker for its deliver latencies, prints one line.
class IntervalPrinter {
 public:
  explicit IntervalPrinter(Flow& f) : f_(f), last_(f.sh.totals()), t_(Clock::now()) {}
  void print(double since_start) {
    Shared& sh = f_.sh;
    uint64_t epoch = sh.interval.epoch.fetch_add(1, std::memory_order_acq_rel) + 1;
    uint64_t want = epoch * static_cast<uint64_t>(sh.opt.threads);
    auto asked = Clock::now();
    while (sh.interval.folded.load(std::memory_order_acquire) < want &&
           seconds_since(asked) < 0.5) {
      sleep_ms(1);
    }
    CounterTotals now = sh.totals();
    double dt = seconds_since(t_);
    IntervalLine l;
    l.t = since_start;
    auto rate = [&](uint64_t a, uint64_t b) { return dt > 0 ? static_cast<double>(a - b) / dt : 0; };
    l.messages_per_s = rate(now.replied, last_.replied);
    l.deliveries_per_s = rate(now.delivered, last_.delivered);
    l.requests_per_s = rate(now.requests, last_.requests);
    {
      std::lock_guard lock(sh.interval.mu);
      l.deliver_p99_us = static_cast<double>(sh.interval.deliver.percentile(99)) / 1000.0;
      l.deliveries = sh.interval.deliver.count();
      sh.interval.deliver.reset();
    }
    l.connections = now.online();
    l.reconnects = now.reconnects - last_.reconnects;
    l.errors = now.errors + now.failed + now.anomalies;
    f_.line.clear();
    std::fputs(format_interval(l, sh.opt.json).c_str(), stdout);
    std::fflush(stdout);
    last_ = now;
    t_ = Clock::now();
  }

 private:
  Flow& f_;
  CounterTotals last_;
  Clock::time_point t_;
};

// Warmup, then the measured window (mixed: with interval lines), sending all along.
void Flow::measured_window() {
  const Options& o = sh.opt;
  sh.run_start_ns.store(now_ns(), std::memory_order_relaxed);
  set_phase(sh, Phase::kWarmup);
  sleep("warmup", o.warmup);
  auto m0 = Clock::now();
  begin_measure();
  set_phase(sh, Phase::kMeasure);
  if (o.scenario == Scenario::kMixed && o.report_every > 0) {
    IntervalPrinter printer(*this);
    double next = o.report_every;
    while (next < o.duration) {
      sleep("measure", next - seconds_since(m0));
      printer.print(seconds_since(m0));
      next += o.report_every;
    }
    sleep("measure", o.duration - seconds_since(m0));
    printer.print(seconds_since(m0));
  } else {
    sleep("measure", o.duration);
  }
  end_measure(m0);
}

// Storm: after the measured window every connection closes at once and logs in again, resuming
// each conversation after the last seq it saw, while sending goes on.
void Flow::storm() {
  uint64_t owed = sh.totals().expected;  // deliveries owed for messages confirmed before it
  uint64_t closes_before = sh.totals().planned_closes;
  auto t0 = Clock::now();
  set_phase(sh, Phase::kStorm);
  double limit = 30 + total / 500.0;
  bool back = wait_for("storm", limit, [&](const CounterTotals& c) {
    return c.planned_closes - closes_before >= total && c.reconnects >= c.planned_closes;
  });
  double reconnect_s = seconds_since(t0);
  if (!back) sh.note_error("storm: not every connection logged in again");
  bool caught_up = wait_for("catchup", limit, [&](const CounterTotals& c) {
    return c.delivered >= owed;
  });
  double catchup_s = seconds_since(t0);
  if (!caught_up) sh.note_error("storm: the backlog did not arrive");
  r.figures.emplace_back("storm_reconnect_s", reconnect_s);
  r.figures.emplace_back("storm_logins_per_s", reconnect_s > 0 ? total / reconnect_s : 0);
  r.figures.emplace_back("storm_catchup_s", catchup_s);
  sleep("after", 0.5);  // more traffic after the storm, verified with the rest
}

// Offline: the odd users log out; the even ones send them --messages each; then the odd ones
// log in again and fetch the backlog (sync). Measured: the sync.
void Flow::offline() {
  const Options& o = sh.opt;
  uint32_t receivers = total / 2;
  uint64_t backlog = static_cast<uint64_t>(receivers) * o.messages;
  double limit = 60 + static_cast<double>(backlog) / 2000.0;
  sh.measure_start_ns.store(now_ns(), std::memory_order_relaxed);  // send->ok of the preload
  // Every receiver is gone before the first send: else a message may reach a receiver that has
  // not closed yet (another worker thread) and miss the synced backlog.
  set_phase(sh, Phase::kLogout);
  bool out = wait_for("logout", limit, [&](const CounterTotals& c) {
    return c.planned_closes >= receivers || c.failed > 0;
  });
  if (!out) sh.note_error("offline: the receivers did not all log out");
  auto p0 = Clock::now();
  set_phase(sh, Phase::kPreload);
  bool loaded = out && wait_for("preload", limit, [&](const CounterTotals& c) {
    return (c.replied + c.errors >= backlog && c.planned_closes >= receivers) || c.failed > 0;
  });
  double preload_s = seconds_since(p0);
  sh.measure_end_ns.store(now_ns(), std::memory_order_relaxed);
  if (!loaded) sh.note_error("offline: the preload did not finish");
  r.figures.emplace_back("preload_s", preload_s);
  r.figures.emplace_back("preload_messages_per_s", preload_s > 0 ? backlog / preload_s : 0);
  if (!loaded) return;
  auto m0 = Clock::now();
  c0 = sh.totals();
  self0 = self_sample();
  srv0 = server();
  set_phase(sh, Phase::kSync);
  bool logged_in = wait_for("login", limit, [&](const CounterTotals& c) {
    return c.reconnects >= receivers || c.failed > 0;
  });
  double login_s = seconds_since(m0);
  bool synced = logged_in && wait_for("sync", limit, [&](const CounterTotals& c) {
    return c.delivered >= c.expected || c.failed > 0;
  });
  c1 = sh.totals();
  self1 = self_sample();
  srv1 = server();
  r.measured_seconds = seconds_since(m0);
  if (!synced) sh.note_error("offline: not every backlog arrived");
  r.figures.emplace_back("sync_login_s", login_s);
  r.figures.emplace_back("sync_s", r.measured_seconds);
  r.figures.emplace_back("sync_messages_per_s",
                         r.measured_seconds > 0 ? (c1.delivered - c0.delivered) / r.measured_seconds
                                                : 0);
}

std::unique_ptr<MeasuringDriver> make_driver(Shared& sh, int worker) {
  if (sh.opt.target == Target::kRedis) return make_redis_driver(sh, worker);
  return std::make_unique<BenchDriver>(sh, worker);
}

// Every receiver's streams against what their senders had confirmed.
void verify(const Options& opt, const std::vector<MeasuringDriver*>& drivers, uint32_t total,
            VerifyTotals& v) {
  std::vector<uint64_t> confirmed(total, 0), gconfirmed(total, 0);
  for (MeasuringDriver* d : drivers) {
    for (const Session& s : d->sessions()) {
      confirmed[s.user] = s.confirmed;
      gconfirmed[s.user] = s.gconfirmed;
    }
  }
  for (MeasuringDriver* d : drivers) {
    for (const Session& s : d->sessions()) {
      v.seq_regressions += s.seq.regressions() + s.gseq.regressions();
      v.unexpected += s.unexpected;
      if (paired(opt.scenario)) v.add(s.streams[0], confirmed[s.peer]);
      if (!grouped(opt.scenario)) continue;
      uint32_t first = s.group * opt.members;
      bool mixed = opt.scenario == Scenario::kMixed;
      for (uint32_t m = 0; m < opt.members; ++m) {
        if (first + m == s.user) continue;  // a sender gets ok, not its own msg
        if (mixed) {
          v.add(s.streams[1 + m], gconfirmed[first + m]);
        } else {
          v.add(s.streams[m], confirmed[first + m]);
        }
      }
    }
  }
}

}  // namespace

Report run(const Options& opt) {
  Shared sh(opt);
  plan(sh);
  Report r;
  r.scenario = scenario_name(opt.scenario);
  r.transport = opt.transport == Transport::kTcp ? "tcp" : "ws";
  if (opt.target == Target::kRedis) r.transport = r.target = "redis";
  uint32_t total = user_count(opt);
  r.connections = total;
  bool tty = isatty(STDERR_FILENO) != 0;
  ProgressLine line(opt.progress.value_or(tty));
  Flow flow(sh, line, r, total);

  auto server_before_setup = flow.server();
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<MeasuringDriver*> drivers;
  for (int i = 0; i < opt.threads; ++i) {
    auto d = make_driver(sh, i);
    if (!d) {
      r.error = "this parley-bench was built without hiredis: no Redis target";
      return r;
    }
    drivers.push_back(d.get());
    workers.push_back(std::make_unique<Worker>(i, std::move(d)));
  }
  auto setup_start = Clock::now();
  for (auto& w : workers) w->start();

  // Setup: every connection open (and logged in), or failed.
  double setup_limit = 30 + total / 500.0;
  bool setup_ok = flow.wait_for("setup", setup_limit, [&](const CounterTotals& c) {
    return c.ready + c.failed >= total;
  });
  r.setup_seconds = seconds_since(setup_start);
  setup_ok = setup_ok && sh.totals().ready == total;
  if (setup_ok && !sh.groups.empty()) {
    set_phase(sh, Phase::kGroups);
    setup_ok = flow.wait_for("groups", setup_limit, [&](const CounterTotals& c) {
      return c.groups_ready >= sh.groups.size() || c.failed > 0;
    }) && sh.totals().failed == 0;
  }

  if (setup_ok && opt.scenario == Scenario::kIdle) {
    flow.srv0 = server_before_setup;
    flow.srv1 = flow.server();
    if (opt.hold > 0) {
      flow.wait_for("hold", opt.hold, [&](const CounterTotals& c) { return c.failed > 0; });
    }
    r.completed = sh.totals().failed == 0;
  } else if (setup_ok && opt.scenario == Scenario::kOffline) {
    flow.offline();
    r.completed = flow.drain() && sh.totals().failed == 0;
  } else if (setup_ok) {
    flow.measured_window();
    if (opt.scenario == Scenario::kStorm) flow.storm();
    r.completed = flow.drain() && sh.totals().failed == 0;
  }
  line.clear();
  set_phase(sh, Phase::kDone);
  for (auto& w : workers) w->request_stop();
  for (auto& w : workers) w->join();

  CounterTotals end = sh.totals();
  r.sent = flow.c1.sent - flow.c0.sent;
  r.replied = flow.c1.replied - flow.c0.replied;
  r.delivered = flow.c1.delivered - flow.c0.delivered;
  r.errors = end.errors;
  r.rate_limited = end.rate_limited;
  r.failed_connections = end.failed;
  r.client_cpu_seconds = static_cast<double>(flow.self1.cpu_ns - flow.self0.cpu_ns) / 1e9;
  if (flow.srv0 && flow.srv1) {
    r.have_server = true;
    r.server_cpu_seconds = static_cast<double>(flow.srv1->cpu_ns - flow.srv0->cpu_ns) / 1e9;
    r.server_rss_before = flow.srv0->rss_bytes;
    r.server_rss_after = flow.srv1->rss_bytes;
  }
  for (MeasuringDriver* d : drivers) {
    r.reply_latency.merge(d->reply_latency());
    r.deliver_latency.merge(d->deliver_latency());
  }
  if (paired(opt.scenario) || grouped(opt.scenario)) {
    verify(opt, drivers, total, r.verify);
    r.verified = setup_ok;
  }
  if (opt.scenario == Scenario::kStorm || opt.scenario == Scenario::kMixed) {
    r.figures.emplace_back("reconnects", static_cast<double>(end.reconnects));
  }
  if (opt.scenario == Scenario::kMixed) {
    r.figures.emplace_back("requests", static_cast<double>(end.requests));
  }
  bool sends = opt.scenario != Scenario::kIdle && opt.scenario != Scenario::kOffline;
  if (r.completed && sends && r.replied == 0 && r.delivered == 0) {
    sh.note_error("nothing was answered in the measured window");
    r.completed = false;
  }
  r.error = sh.first_error();
  return r;
}

uint64_t Report::units() const {
  if (scenario == "group") return delivered;
  if (scenario == "offline") return delivered;
  return replied;
}

const char* Report::unit_name() const {
  if (scenario == "group") return "delivery";
  if (scenario == "idle") return "connection";
  if (scenario == "echo" || scenario == "ping") return "round trip";
  return "message";
}

bool Report::ok() const {
  return completed && errors == 0 && (!verified || verify.ok());
}

}  // namespace parley::bench
