// A short run of each parley-bench scenario against a real parleyd (and parley-echo for `echo`):
// correctness only — the run completes, the verifier finds nothing, no errors. No timing is
// asserted. Each run is bounded (a fraction of a second measured, small N, `timeout`).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/support/process.h"

namespace parley::test {
namespace {

constexpr const char* kSecret = "smoke-secret";

struct BenchRun {
  int status = -1;
  std::string output;
};

// Runs parley-bench with `args` (and --json, short durations) and returns its exit status and
// stdout. Arguments are plain words (no shell quoting needed).
BenchRun run_bench(const std::vector<std::string>& args, const char* duration = "0.5",
                   const char* warmup = "0.2") {
  std::string cmd = "timeout 90 " + binary_from_env("PARLEY_BENCH");
  for (const auto& a : args) cmd += " " + a;
  cmd += std::string(" --json --no-progress --duration ") + duration + " --warmup " + warmup +
         " --drain-timeout 20";
  BenchRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// The report's fields this test looks at.
struct Summary {
  bool ok = false;
  bool completed = false;
  double replies = 0, deliveries = 0, errors = 0, lost = 0;
  bool verified = false, verify_ok = false;
  double bytes_per_connection = -1;
  double sync_rate = -1, storm_reconnect = -1, reconnects = -1;
};

// Lines of `output` that are mixed's interval objects.
int interval_lines(const std::string& output) {
  int n = 0;
  for (size_t at = output.find("{\"interval\":true"); at != std::string::npos;
       at = output.find("{\"interval\":true", at + 1)) {
    ++n;
  }
  return n;
}

template <class T>
void read_into(simdjson::simdjson_result<simdjson::ondemand::value> v, T& out) {
  T value;
  if (!v.get(value)) out = value;
}

// The final report: the last line (mixed prints interval lines before it).
Summary summarize(const std::string& output) {
  Summary s;
  size_t end = output.find_last_not_of('\n');
  if (end == std::string::npos) return s;
  size_t begin = output.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::string json = output.substr(begin, end + 1 - begin);
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return s;
  simdjson::ondemand::object o;
  if (doc.get_object().get(o)) return s;
  for (auto field : o) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return s;
    auto v = field.value();
    if (key == "ok") read_into(v, s.ok);
    if (key == "completed") read_into(v, s.completed);
    if (key == "replies") read_into(v, s.replies);
    if (key == "deliveries") read_into(v, s.deliveries);
    if (key == "errors") read_into(v, s.errors);
    if (key == "server_bytes_per_connection") read_into(v, s.bytes_per_connection);
    if (key == "sync_messages_per_s") read_into(v, s.sync_rate);
    if (key == "storm_reconnect_s") read_into(v, s.storm_reconnect);
    if (key == "reconnects") read_into(v, s.reconnects);
    if (key == "verify") {
      s.verified = true;
      simdjson::ondemand::object vo;
      if (v.get_object().get(vo)) return s;
      for (auto f : vo) {
        std::string_view k;
        if (f.unescaped_key().get(k)) return s;
        if (k == "ok") read_into(f.value(), s.verify_ok);
        if (k == "lost") read_into(f.value(), s.lost);
      }
    }
  }
  return s;
}

class BenchSmoke : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(binary_from_env("PARLEY_BENCH").empty()) << "run through meson";
    std::string conf = dir_.path() + "/parley.toml";
    std::ofstream(conf) << "[auth]\nscrypt_n = 1024\njwt_secret = \"" << kSecret
                        << "\"\n[limits]\nrate_limit = 0.0\nuser_rate_limit = 0.0\n";
    ASSERT_TRUE(server_.start(binary_from_env("PARLEYD"),
                              {"--config", conf, "--data-dir", dir_.path() + "/data",
                               "--http-port", "0", "--tcp-port", "0", "--shards", "2"}))
        << server_.log();
  }
  void TearDown() override {
    if (server_.running()) {
      EXPECT_EQ(server_.stop(SIGTERM), 0) << server_.log();
    }
  }
  std::vector<std::string> target(const char* transport) const {
    return {"--transport", transport, "--port", std::to_string(server_.http_port()), "--tcp-port",
            std::to_string(server_.tcp_port())};
  }
  static std::vector<std::string> cat(std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  void expect_clean(const BenchRun& r, bool verified) {
    EXPECT_EQ(r.status, 0) << r.output;
    Summary s = summarize(r.output);
    EXPECT_TRUE(s.ok) << r.output;
    EXPECT_TRUE(s.completed) << r.output;
    EXPECT_EQ(s.errors, 0) << r.output;
    EXPECT_EQ(s.verified, verified) << r.output;
    if (verified) {
      EXPECT_TRUE(s.verify_ok) << r.output;
      EXPECT_EQ(s.lost, 0) << r.output;
    }
  }

  TempDir dir_;
  ServerProcess server_;
};

TEST_F(BenchSmoke, PingOverWebSocketAndTcp) {
  for (const char* t : {"ws", "tcp"}) {
    auto r = run_bench(cat({"ping", "--conns", "4", "--window", "2"}, target(t)));
    expect_clean(r, false);
    EXPECT_GT(summarize(r.output).replies, 0) << t;
  }
}

TEST_F(BenchSmoke, P2pWithTokensVerifiesEveryConversation) {
  for (const char* t : {"ws", "tcp"}) {
    auto r = run_bench(cat({"p2p", "--users", "6", "--window", "4", "--ack-every", "3",
                            "--threads", "2", "--jwt-secret", kSecret},
                           target(t)));
    expect_clean(r, true);
    EXPECT_GT(summarize(r.output).deliveries, 0) << t;
  }
}

TEST_F(BenchSmoke, P2pWithRegisteredUsersOpenLoop) {
  auto r = run_bench(cat({"p2p", "--users", "4", "--rate", "400", "--window", "8",
                          "--server-pid", std::to_string(server_.pid())},
                         target("tcp")));
  expect_clean(r, true);
}

// Workers poll the phase: one that never sees the warmup (none, or it slept through it on a busy
// box) must still send in the measured window; a window without one answer fails the run.
TEST_F(BenchSmoke, P2pWithoutWarmupStillSends) {
  auto r = run_bench(cat({"p2p", "--users", "4", "--window", "4", "--threads", "2",
                          "--jwt-secret", kSecret},
                         target("tcp")),
                     "0.3", "0");
  expect_clean(r, true);
  EXPECT_GT(summarize(r.output).replies, 0) << r.output;
}

TEST_F(BenchSmoke, GroupVerifiesEveryMembersStreams) {
  auto r = run_bench(cat({"group", "--groups", "2", "--members", "4", "--window", "2",
                          "--threads", "2", "--jwt-secret", kSecret},
                         target("ws")));
  expect_clean(r, true);
  EXPECT_GT(summarize(r.output).deliveries, 0);
}

TEST_F(BenchSmoke, IdleReportsServerMemoryPerConnection) {
  auto r = run_bench(cat({"idle", "--conns", "50", "--hold", "0.2", "--jwt-secret", kSecret,
                          "--server-pid", std::to_string(server_.pid())},
                         target("tcp")));
  expect_clean(r, false);
  EXPECT_NE(summarize(r.output).bytes_per_connection, -1) << r.output;
}

TEST_F(BenchSmoke, OfflineSyncsEveryBacklogOnce) {
  auto r = run_bench(cat({"offline", "--users", "6", "--messages", "60", "--window", "8",
                          "--ack-every", "7", "--threads", "2", "--jwt-secret", kSecret},
                         target("tcp")));
  expect_clean(r, true);
  Summary s = summarize(r.output);
  EXPECT_EQ(s.deliveries, 3 * 60) << r.output;
  EXPECT_GT(s.sync_rate, 0) << r.output;
}

TEST_F(BenchSmoke, OfflineWithRegisteredUsersOverWebSocket) {
  auto r = run_bench(cat({"offline", "--users", "4", "--messages", "25", "--window", "4"},
                         target("ws")));
  expect_clean(r, true);
  EXPECT_EQ(summarize(r.output).deliveries, 2 * 25) << r.output;
}

TEST_F(BenchSmoke, StormResumesEveryConversationExactlyOnce) {
  for (const char* t : {"ws", "tcp"}) {
    auto r = run_bench(cat({"storm", "--users", "10", "--window", "4", "--ack-every", "5",
                            "--threads", "2", "--jwt-secret", kSecret},
                           target(t)));
    expect_clean(r, true);
    Summary s = summarize(r.output);
    EXPECT_GE(s.storm_reconnect, 0) << r.output;
    EXPECT_GE(s.reconnects, 10) << r.output;
  }
}

TEST_F(BenchSmoke, MixedWithChurnVerifiesThroughoutAndReportsIntervals) {
  auto r = run_bench(cat({"mixed", "--users", "20", "--members", "5", "--window", "2",
                          "--churn", "0.5", "--report-every", "0.5", "--ack-every", "4",
                          "--threads", "2", "--jwt-secret", kSecret},
                         target("ws")),
                     "2");
  expect_clean(r, true);
  Summary s = summarize(r.output);
  EXPECT_GT(s.deliveries, 0) << r.output;
  EXPECT_GT(s.reconnects, 0) << r.output;
  EXPECT_GE(interval_lines(r.output), 3) << r.output;
}

TEST_F(BenchSmoke, MixedOpenLoopOverTcp) {
  auto r = run_bench(cat({"mixed", "--users", "10", "--members", "10", "--rate", "300",
                          "--window", "4", "--churn", "0.3", "--report-every", "0",
                          "--jwt-secret", kSecret},
                         target("tcp")),
                     "1");
  expect_clean(r, true);
  EXPECT_EQ(interval_lines(r.output), 0) << r.output;
}

// A redis-server of our own on a free loopback port, stopped by pid.
class RedisServer {
 public:
  ~RedisServer() { stop(); }
  bool start() {
    port_ = free_port();
    if (port_ == 0) return false;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      std::freopen("/dev/null", "w", stdout);
      std::string port = std::to_string(port_);
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200; ++i) {  // up to 10 s
      if (connectable()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  uint16_t port() const { return port_; }

 private:
  static uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
  }
  bool connectable() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
  }

  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

bool redis_server_on_path() { return std::system("command -v redis-server >/dev/null 2>&1") == 0; }

TEST(BenchSmokeRedis, P2pAndGroupAsRedisRelaysVerify) {
  const char* have = std::getenv("PARLEY_BENCH_HIREDIS");
  if (have == nullptr || std::string(have) != "1") GTEST_SKIP() << "built without hiredis";
  if (!redis_server_on_path()) GTEST_SKIP() << "redis-server is not on PATH";
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  std::string url = "redis://127.0.0.1:" + std::to_string(redis.port());
  auto r = run_bench({"p2p", "--target", url, "--users", "6", "--window", "4", "--threads", "2"});
  EXPECT_EQ(r.status, 0) << r.output;
  Summary s = summarize(r.output);
  EXPECT_TRUE(s.ok) << r.output;
  EXPECT_TRUE(s.verify_ok) << r.output;
  EXPECT_GT(s.deliveries, 0) << r.output;
  r = run_bench({"group", "--target", url, "--groups", "2", "--members", "4", "--window", "2"});
  EXPECT_EQ(r.status, 0) << r.output;
  s = summarize(r.output);
  EXPECT_TRUE(s.ok) << r.output;
  EXPECT_TRUE(s.verify_ok) << r.output;
  EXPECT_GT(s.deliveries, 0) << r.output;
}

TEST(BenchSmokeRedis, ARedisThatIsNotThereFailsTheRun) {
  const char* have = std::getenv("PARLEY_BENCH_HIREDIS");
  if (have == nullptr || std::string(have) != "1") GTEST_SKIP() << "built without hiredis";
  auto r = run_bench({"p2p", "--target", "redis://127.0.0.1:1", "--users", "2"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_FALSE(summarize(r.output).ok) << r.output;
}

TEST(BenchSmokeEcho, EchoAgainstParleyEcho) {
  TempDir dir;
  ServerProcess echo;
  ASSERT_TRUE(echo.start(binary_from_env("PARLEY_ECHO"),
                         {"--port", "0", "--tcp-port", "0", "--shards", "1"}))
      << echo.log();
  for (const char* t : {"ws", "tcp"}) {
    auto r = run_bench({"echo", "--conns", "4", "--window", "2", "--payload", "100", "--path", "/",
                        "--transport", t, "--port", std::to_string(echo.http_port()),
                        "--tcp-port", std::to_string(echo.tcp_port())});
    EXPECT_EQ(r.status, 0) << r.output;
    Summary s = summarize(r.output);
    EXPECT_TRUE(s.ok) << r.output;
    EXPECT_GT(s.replies, 0) << r.output;
  }
  EXPECT_EQ(echo.stop(SIGTERM), 0) << echo.log();
}

TEST(BenchSmokeRefusal, AServerThatIsNotThereFailsTheRun) {
  // Port 1 on loopback: nothing listens; the run must fail, not hang or report success.
  auto r = run_bench({"ping", "--conns", "2", "--transport", "tcp", "--tcp-port", "1"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_FALSE(summarize(r.output).ok) << r.output;
}

}  // namespace
}  // namespace parley::test
