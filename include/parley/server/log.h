// Levelled logging to stderr. Each line is "LEVEL [tag] message", written with one write(2)
// so lines from different shards never interleave. The level is process-wide and set once at
// start-up (before shards start); the tag is per thread ("main", "shard 3").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::log {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// "debug" | "info" | "warn" | "error" -> level; anything else -> nullopt.
std::optional<LogLevel> level_from_name(std::string_view name);
std::string_view level_name(LogLevel level);

// Call before any thread but main exists; later calls race with readers.
void set_level(LogLevel level);
LogLevel level();
bool enabled(LogLevel level);

// Names the calling thread in its log lines.
void set_thread_tag(std::string tag);

// Where lines go (default 2, stderr). For tests; same rule as set_level.
void set_output_fd(int fd);

void debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Writes `line` plus a newline with no level or tag (the `listening ...` contract line).
void raw_stderr_line(std::string_view line);

}  // namespace parley::log

namespace parley::server {
using log::LogLevel;
}
