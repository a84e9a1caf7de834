#include "parley/net/runner.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <latch>

#include "parley/server/log.h"
#include "parley/shard/shard.h"
#include "parley/util/clock.h"

namespace parley::net {
namespace {

// What one shard runs. Built on the shard's own thread; destroyed after its loop has ended.
struct ShardServices {
  std::unique_ptr<Handler> handler;
  std::unique_ptr<NetShard> net;
};

}  // namespace

int run_until_signal(RunSpec spec) {
  std::vector<BoundPort> bound;
  for (const PortSpec& p : spec.ports) {
    ListenResult r = listen_reuseport(p.bind, p.port, spec.shards);
    if (!r.error.empty()) {
      log::error("cannot listen for %s on %s", p.transport == Transport::kTcp ? "TCP" : "HTTP",
                 r.error.c_str());
      for (const BoundPort& b : bound) close_fds(b.fds);
      return 1;
    }
    bound.push_back(std::move(r.bound));
  }

  // Signals are taken by this thread alone (sigwait); the shard threads inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  SteadyClock clock;
  if (!spec.net.addresses) spec.net.addresses = std::make_shared<AddressTable>();
  shard::ShardOptions so;
  so.shards = spec.shards;
  shard::ShardSet set(so);
  std::vector<ShardServices> services(spec.shards);
  std::latch ready(spec.shards);
  std::atomic<bool> failed{false};
  set.start([&](shard::Shard& s) {
    int k = s.id();
    log::set_thread_tag("shard " + std::to_string(k));
    ShardServices& svc = services[k];
    svc.handler = spec.make_handler(s);
    svc.net = std::make_unique<NetShard>(s, spec.net, *svc.handler, clock);
    s.add_stop_hook([&svc] { svc.net->shutdown(); });
    s.add_exit_hook([&svc] {  // the loop has ended: every handle is closed
      svc.net.reset();
      svc.handler.reset();
    });
    for (size_t i = 0; i < bound.size(); ++i) {
      int rc = svc.net->adopt_listener(bound[i].fds[k], spec.ports[i].transport);
      if (rc != 0) {
        log::error("shard %d cannot listen on %s: %s", k, bound[i].address.c_str(),
                   uv_strerror(rc));
        failed = true;
      }
    }
    ready.count_down();
  });
  ready.wait();

  int code = 0;
  if (failed) {
    code = 1;
  } else {
    if (spec.on_listening) spec.on_listening(bound);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log::info("%s received: closing connections", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  }
  set.stop();
  set.join();
  return code;
}

}  // namespace parley::net
