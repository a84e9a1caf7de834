// One run of a scenario, driven from the main thread: sets up the plan, starts the workers,
// moves the phases along (setup, groups, warmup, measure, drain), samples CPU and memory at the
// edges of the measured window, and gathers the workers' results into a Report.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "histogram.h"
#include "options.h"
#include "verifier.h"

namespace parley::bench {

struct Report {
  std::string scenario;
  std::string transport;
  uint32_t connections = 0;
  bool completed = false;     // every connection was set up and the run went to the end
  std::string error;          // the first error seen, if any
  double setup_seconds = 0;   // connect (+ login) of every connection
  double measured_seconds = 0;
  uint64_t sent = 0, replied = 0, delivered = 0;  // in the measured window
  uint64_t errors = 0, rate_limited = 0, failed_connections = 0;
  Histogram reply_latency;    // ns
  Histogram deliver_latency;  // ns
  double client_cpu_seconds = 0;
  bool have_server = false;
  double server_cpu_seconds = 0;
  uint64_t server_rss_before = 0, server_rss_after = 0;
  bool verified = false;      // chat scenarios: the verifier ran
  VerifyTotals verify;
  std::string target = "parley";  // or "redis"
  // Scenario-specific figures, in order (offline: preload_s, sync_s, …; storm: reconnect_s, …).
  std::vector<std::pair<std::string, double>> figures;

  // The unit that "per message" means for this scenario: round trips (echo, ping), messages
  // sent (p2p, storm, mixed), deliveries (group), messages synced (offline).
  uint64_t units() const;
  const char* unit_name() const;
  bool ok() const;
};

// Runs the scenario to the end (bounded by the options' durations and timeouts).
Report run(const Options& opt);

std::string format_text(const Report& r);
std::string format_json(const Report& r);

// Mixed's periodic figures, printed while the run goes on (one line; --json: one JSON object).
struct IntervalLine {
  double t = 0;              // seconds since the measured window began
  double messages_per_s = 0; // sends confirmed
  double deliveries_per_s = 0;
  double requests_per_s = 0; // other requests answered
  double deliver_p99_us = 0;
  uint64_t deliveries = 0;   // in the interval (the p99's sample size)
  uint64_t connections = 0;  // logged in now
  uint64_t reconnects = 0;   // in the interval
  uint64_t errors = 0;       // since the start (errors, lost connections, verifier anomalies)
};
std::string format_interval(const IntervalLine& l, bool json);

}  // namespace parley::bench
