#include "parley/server/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace parley::log {
namespace {

// Redirects log output into a pipe for the lifetime of the object; restores stderr, the
// level and the thread tag afterwards.
class Capture {
 public:
  Capture() {
    EXPECT_EQ(::pipe(fds_), 0);
    ::fcntl(fds_[0], F_SETFL, O_NONBLOCK);
    saved_level_ = level();
    set_output_fd(fds_[1]);
  }
  ~Capture() {
    set_output_fd(2);
    set_level(saved_level_);
    set_thread_tag("main");
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // Everything written so far.
  std::string take() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
  LogLevel saved_level_ = LogLevel::kInfo;
};

TEST(LogTest, LevelFromName) {
  EXPECT_EQ(level_from_name("debug"), LogLevel::kDebug);
  EXPECT_EQ(level_from_name("info"), LogLevel::kInfo);
  EXPECT_EQ(level_from_name("warn"), LogLevel::kWarn);
  EXPECT_EQ(level_from_name("error"), LogLevel::kError);
  EXPECT_EQ(level_from_name("INFO"), std::nullopt);
  EXPECT_EQ(level_from_name("warning"), std::nullopt);
  EXPECT_EQ(level_from_name(""), std::nullopt);
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    EXPECT_EQ(level_from_name(level_name(l)), l);
  }
}

TEST(LogTest, Enabled) {
  Capture capture;  // restores the level
  set_level(LogLevel::kWarn);
  EXPECT_FALSE(enabled(LogLevel::kDebug));
  EXPECT_FALSE(enabled(LogLevel::kInfo));
  EXPECT_TRUE(enabled(LogLevel::kWarn));
  EXPECT_TRUE(enabled(LogLevel::kError));
  set_level(LogLevel::kDebug);
  EXPECT_TRUE(enabled(LogLevel::kDebug));
}

TEST(LogTest, LineHasLevelTagAndIsOneLine) {
  Capture capture;
  set_level(LogLevel::kInfo);
  set_thread_tag("shard 3");
  warn("disk %s at %d%%", "full", 99);
  std::string line = capture.take();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_NE(line.find("warn [shard 3] disk full at 99%\n"), std::string::npos) << line;

  std::string big(5000, 'x');
  error("%s", big.c_str());
  line = capture.take();
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_NE(line.find("error [shard 3] " + big + "\n"), std::string::npos);
}

TEST(LogTest, BelowLevelWritesNothing) {
  Capture capture;
  set_level(LogLevel::kInfo);
  debug("hidden %d", 1);
  EXPECT_EQ(capture.take(), "");
  info("shown");
  EXPECT_NE(capture.take().find("info [main] shown"), std::string::npos);
}

TEST(LogTest, RawLineHasNoPrefix) {
  Capture capture;
  set_level(LogLevel::kError);  // the raw line ignores the level
  raw_stderr_line("listening http=127.0.0.1:8080 tcp=127.0.0.1:7070");
  EXPECT_EQ(capture.take(), "listening http=127.0.0.1:8080 tcp=127.0.0.1:7070\n");
}

}  // namespace
}  // namespace parley::log
