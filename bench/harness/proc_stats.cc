#include "proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace parley::bench {

ProcSample self_sample() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1'000'000'000u +
           static_cast<uint64_t>(tv.tv_usec) * 1000u;
  };
  return {ns(ru.ru_utime) + ns(ru.ru_stime), static_cast<uint64_t>(ru.ru_maxrss) * 1024u};
}

std::optional<uint64_t> parse_stat_cpu_ticks(std::string_view stat) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so start after the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // Fields after comm: 3 state, 4 ppid, … 14 utime, 15 stime (man 5 proc).
  uint64_t utime = 0, stime = 0;
  int field = 2;
  size_t i = 0;
  while (i < rest.size() && field < 15) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t start = i;
    while (i < rest.size() && rest[i] != ' ') ++i;
    ++field;
    if (field == 14 || field == 15) {
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(rest.data() + start, rest.data() + i, v);
      if (ec != std::errc() || p != rest.data() + i) return std::nullopt;
      (field == 14 ? utime : stime) = v;
    }
  }
  if (field < 15) return std::nullopt;
  return utime + stime;
}

std::optional<uint64_t> parse_status_rss_kb(std::string_view status) {
  size_t at = status.find("\nVmRSS:");
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + 7;
  while (i < status.size() && (status[i] == ' ' || status[i] == '\t')) ++i;
  uint64_t kb = 0;
  auto [p, ec] = std::from_chars(status.data() + i, status.data() + status.size(), kb);
  if (ec != std::errc()) return std::nullopt;
  return kb;
}

std::optional<ProcSample> proc_sample(pid_t pid) {
  auto slurp = [](const std::string& path) -> std::optional<std::string> {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  std::string base = "/proc/" + std::to_string(pid);
  auto stat = slurp(base + "/stat");
  auto status = slurp(base + "/status");
  if (!stat || !status) return std::nullopt;
  auto ticks = parse_stat_cpu_ticks(*stat);
  auto rss = parse_status_rss_kb("\n" + *status);
  if (!ticks || !rss) return std::nullopt;
  static const long kHz = sysconf(_SC_CLK_TCK);
  return ProcSample{*ticks * (1'000'000'000u / static_cast<uint64_t>(kHz)), *rss * 1024u};
}

}  // namespace parley::bench
