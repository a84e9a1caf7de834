#include "parley/server/log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace parley::log {
namespace {

// Set before shards start and only read afterwards (see set_level).
LogLevel g_level = LogLevel::kInfo;
int g_fd = 2;
thread_local std::string t_tag = "main";

void write_all(std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(g_fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report a failing stderr
    s.remove_prefix(static_cast<size_t>(n));
  }
}

void emit(LogLevel lv, const char* fmt, va_list ap) {
  if (!enabled(lv)) return;
  char stamp[64];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
  char body[1024];
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(body, sizeof body, fmt, copy);
  va_end(copy);
  std::string line;
  line.reserve(64 + (n > 0 ? static_cast<size_t>(n) : 0));
  line += stamp;
  line += ' ';
  line += level_name(lv);
  line += " [";
  line += t_tag;
  line += "] ";
  if (n >= static_cast<int>(sizeof body)) {
    std::string big(static_cast<size_t>(n) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    big.resize(static_cast<size_t>(n));
    line += big;
  } else if (n > 0) {
    line.append(body, static_cast<size_t>(n));
  }
  line += '\n';
  write_all(line);
}

}  // namespace

std::optional<LogLevel> level_from_name(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return std::nullopt;
}

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

void set_level(LogLevel level) { g_level = level; }
LogLevel level() { return g_level; }
bool enabled(LogLevel lv) { return static_cast<int>(lv) >= static_cast<int>(g_level); }
void set_thread_tag(std::string tag) { t_tag = std::move(tag); }
void set_output_fd(int fd) { g_fd = fd; }

#define PARLEY_LOG_FN(name, lv)       \
  void name(const char* fmt, ...) {   \
    va_list ap;                       \
    va_start(ap, fmt);                \
    emit(lv, fmt, ap);                \
    va_end(ap);                       \
  }
PARLEY_LOG_FN(debug, LogLevel::kDebug)
PARLEY_LOG_FN(info, LogLevel::kInfo)
PARLEY_LOG_FN(warn, LogLevel::kWarn)
PARLEY_LOG_FN(error, LogLevel::kError)
#undef PARLEY_LOG_FN

void raw_stderr_line(std::string_view line) {
  std::string s(line);
  s += '\n';
  write_all(s);
}

}  // namespace parley::log
