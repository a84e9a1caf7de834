#include "shared.h"

namespace parley::bench {

CounterTotals Shared::totals() const {
  CounterTotals t;
  for (const Counters& c : counters) {
    auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    t.opened += get(c.opened);
    t.ready += get(c.ready);
    t.failed += get(c.failed);
    t.groups_ready += get(c.groups_ready);
    t.sent += get(c.sent);
    t.replied += get(c.replied);
    t.delivered += get(c.delivered);
    t.errors += get(c.errors);
    t.rate_limited += get(c.rate_limited);
    t.expected += get(c.expected);
    t.planned_closes += get(c.planned_closes);
    t.reconnects += get(c.reconnects);
    t.anomalies += get(c.anomalies);
    t.requests += get(c.requests);
  }
  return t;
}

void Shared::note_error(std::string_view what) {
  std::lock_guard lock(error_mu_);
  if (first_error_.empty()) first_error_.assign(what);
}

std::string Shared::first_error() const {
  std::lock_guard lock(error_mu_);
  return first_error_;
}

}  // namespace parley::bench
