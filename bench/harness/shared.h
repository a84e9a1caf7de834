// What every worker of one run reads (the plan, immutable once the workers start) and the few
// things they write for the main thread (counters, the run's phase, the first error).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine.h"
#include "histogram.h"
#include "options.h"

namespace parley::bench {

// The run moves forward through these; only the main thread advances it.
enum class Phase : int {
  kSetup,    // connecting and logging in
  kGroups,   // group owners create their groups
  kWarmup,   // sending, not measured
  kMeasure,  // sending, measured
  kLogout,   // offline: the receivers log out (the senders wait for all of them)
  kPreload,  // offline: the senders send the receivers' backlog
  kSync,     // offline: the receivers log in again and fetch it
  kStorm,    // storm: every connection closes and logs in again (sending goes on)
  kDrain,    // no new sends; waiting for outstanding replies and deliveries
  kDone,
};

// One worker's counters: written by that worker only (relaxed), summed by the main thread.
struct alignas(64) Counters {
  std::atomic<uint64_t> opened{0};
  std::atomic<uint64_t> ready{0};        // logged in (echo, ping: connected)
  std::atomic<uint64_t> failed{0};       // connections lost or refused before the end
  std::atomic<uint64_t> groups_ready{0};
  std::atomic<uint64_t> sent{0};         // sends, pings or echo frames
  std::atomic<uint64_t> replied{0};      // their replies (ok, pong, echoed frame)
  std::atomic<uint64_t> delivered{0};    // msg pushes carrying a bench message
  std::atomic<uint64_t> errors{0};       // error replies (rate_limited included)
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<uint64_t> expected{0};        // deliveries owed for the confirmed sends (fan-out)
  std::atomic<uint64_t> planned_closes{0};  // closed on purpose (offline, storm, churn)
  std::atomic<uint64_t> reconnects{0};      // logged in again after a planned close
  std::atomic<uint64_t> anomalies{0};       // verifier findings seen live (dup, reorder, gap)
  std::atomic<uint64_t> requests{0};        // mixed: other requests answered (read, watch, …)
};

struct CounterTotals {
  uint64_t opened = 0, ready = 0, failed = 0, groups_ready = 0, sent = 0, replied = 0,
           delivered = 0, errors = 0, rate_limited = 0, expected = 0, planned_closes = 0,
           reconnects = 0, anomalies = 0, requests = 0;
  // Logged-in connections right now.
  uint64_t online() const {
    uint64_t up = ready + reconnects, down = planned_closes + failed;
    return up > down ? up - down : 0;
  }
};

// Deliver latencies of the current interval (mixed's periodic lines). Workers fold theirs in
// when the main thread moves `epoch`; the main thread reads and clears it under the mutex.
struct IntervalStats {
  std::atomic<uint64_t> epoch{0};
  std::atomic<uint64_t> folded{0};  // worker folds done, over all epochs
  std::mutex mu;
  Histogram deliver;  // guarded by mu
};

struct Shared {
  explicit Shared(const Options& o) : opt(o), counters(static_cast<size_t>(o.threads)) {}

  const Options& opt;
  Endpoint endpoint;
  std::vector<std::string> users;   // chat scenarios: user names by global index
  std::vector<std::string> groups;  // group scenario: group names
  std::vector<sockaddr_in> sources; // local addresses to bind, round-robin (empty: none)
  std::string filler;               // opt.payload bytes of 'x'
  uint32_t fanout = 1;              // deliveries per confirmed send

  std::atomic<int> phase{static_cast<int>(Phase::kSetup)};
  std::atomic<uint64_t> run_start_ns{0};      // set when sending starts (open-loop schedule)
  std::atomic<uint64_t> measure_start_ns{UINT64_MAX};
  std::atomic<uint64_t> measure_end_ns{UINT64_MAX};
  std::vector<Counters> counters;  // one per worker
  IntervalStats interval;

  Phase current() const { return static_cast<Phase>(phase.load(std::memory_order_acquire)); }
  bool sending() const {
    Phase p = current();
    return p == Phase::kWarmup || p == Phase::kMeasure || p == Phase::kPreload ||
           p == Phase::kStorm;
  }
  // A message sent at `t` belongs to the measured window.
  bool measured(uint64_t t) const {
    return t >= measure_start_ns.load(std::memory_order_relaxed) &&
           t < measure_end_ns.load(std::memory_order_relaxed);
  }
  CounterTotals totals() const;

  // The first error of the run, for the report (any thread).
  void note_error(std::string_view what);
  std::string first_error() const;

 private:
  mutable std::mutex error_mu_;
  std::string first_error_;
};

}  // namespace parley::bench
