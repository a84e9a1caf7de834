// CPU time and memory of this process (getrusage) and of the server (/proc/PID), sampled at
// the start and end of the measured window so both sides report µs of CPU per message.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::bench {

struct ProcSample {
  uint64_t cpu_ns = 0;     // user + system
  uint64_t rss_bytes = 0;
};

ProcSample self_sample();                       // getrusage(RUSAGE_SELF); rss is the peak
std::optional<ProcSample> proc_sample(pid_t pid);  // /proc/PID/stat and /proc/PID/status

// Parsers for the two /proc files, pure (tested on fixed text).
std::optional<uint64_t> parse_stat_cpu_ticks(std::string_view stat);  // utime + stime
std::optional<uint64_t> parse_status_rss_kb(std::string_view status);  // VmRSS

}  // namespace parley::bench
