// The process contract of PROTOCOL.md, "Starting the server": flags, the listening line,
// graceful shutdown, the data-directory lock.
#include <signal.h>

#include <chrono>
#include <thread>

#include "e2e/fixture.h"

namespace parley::test {
namespace {

TEST(ParleydProcess, VersionAndHelp) {
  std::string out;
  std::string bin = binary_from_env("PARLEYD");
  EXPECT_EQ(ServerProcess::run_to_exit(bin, {"--version"}, &out), 0);
  EXPECT_EQ(ServerProcess::run_to_exit(bin, {"--help"}, &out), 0);
  EXPECT_EQ(ServerProcess::run_to_exit(bin, {"--no-such-flag"}, &out), 2);
  EXPECT_EQ(ServerProcess::run_to_exit(bin, {"--sync", "sometimes"}, &out), 2);
}

TEST(ParleydProcess, MissingConfigFileIsAClearError) {
  std::string out;
  int code = ServerProcess::run_to_exit(binary_from_env("PARLEYD"),
                                        {"--config", "/nonexistent/parley.toml"}, &out);
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("/nonexistent/parley.toml"), std::string::npos) << out;
}

TEST(ParleydProcess, CheckConfigValidatesAndExits) {
  TempDir dir;
  std::string path = dir.path() + "/bad.toml";
  std::ofstream(path) << "[limits]\nmax_frme = 10\n";
  std::string out;
  EXPECT_EQ(ServerProcess::run_to_exit(binary_from_env("PARLEYD"),
                                       {"--config", path, "--check-config"}, &out),
            1);
  EXPECT_NE(out.find("max_frme"), std::string::npos) << out;
  EXPECT_EQ(ServerProcess::run_to_exit(
                binary_from_env("PARLEYD"),
                {"--config", std::string(PARLEY_SOURCE_DIR) + "/conf/parley.toml", "--check-config"},
                &out),
            0)
      << out;
}

TEST(ParleydProcess, PrintsListeningLineOnceAndStopsOnSigterm) {
  TempDir dir;
  ServerProcess p;
  ASSERT_TRUE(p.start(binary_from_env("PARLEYD"),
                      {"--data-dir", dir.path(), "--http-port", "0", "--tcp-port", "0"}))
      << p.log();
  EXPECT_NE(p.http_port(), 0);
  EXPECT_NE(p.tcp_port(), 0);
  EXPECT_NE(p.http_port(), p.tcp_port());
  EXPECT_EQ(p.listening_line().rfind("listening http=127.0.0.1:", 0), 0u) << p.listening_line();
  // A connected WebSocket client is told the server is going away.
  WsClient c;
  ASSERT_EQ(c.connect(p.http_port()), 101);
  TcpClient t;
  ASSERT_TRUE(t.connect(p.tcp_port()));
  auto start = std::chrono::steady_clock::now();
  kill(p.pid(), SIGTERM);
  EXPECT_EQ(c.expect_close(5000), 1001);
  EXPECT_TRUE(t.socket().wait_closed(5000));
  EXPECT_EQ(p.stop(SIGTERM, 5000), 0) << p.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(p.listening_lines_seen(), 1) << p.log();
}

TEST(ParleydProcess, SigintStopsToo) {
  TempDir dir;
  ServerProcess p;
  ASSERT_TRUE(p.start(binary_from_env("PARLEYD"),
                      {"--data-dir", dir.path(), "--http-port", "0", "--tcp-port", "0"}));
  EXPECT_EQ(p.stop(SIGINT, 5000), 0) << p.log();
}

TEST(ParleydProcess, SecondInstanceOnSameDataDirRefuses) {
  TempDir dir;
  ServerProcess first;
  ASSERT_TRUE(first.start(binary_from_env("PARLEYD"),
                          {"--data-dir", dir.path(), "--http-port", "0", "--tcp-port", "0"}));
  std::string out;
  int code = ServerProcess::run_to_exit(
      binary_from_env("PARLEYD"),
      {"--data-dir", dir.path(), "--http-port", "0", "--tcp-port", "0"}, &out);
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("in use"), std::string::npos) << out;
  EXPECT_EQ(out.find("listening"), std::string::npos) << out;
  // The lock dies with the holder, even on kill -9.
  EXPECT_EQ(first.stop(SIGKILL), 128 + SIGKILL);
  ServerProcess again;
  EXPECT_TRUE(again.start(binary_from_env("PARLEYD"),
                          {"--data-dir", dir.path(), "--http-port", "0", "--tcp-port", "0"}))
      << again.log();
  EXPECT_EQ(again.stop(SIGTERM), 0);
}

TEST(ParleydProcess, PortInUseIsAnError) {
  TempDir a, b;
  ServerProcess first;
  ASSERT_TRUE(first.start(binary_from_env("PARLEYD"),
                          {"--data-dir", a.path(), "--http-port", "0", "--tcp-port", "0"}));
  std::string out;
  int code = ServerProcess::run_to_exit(
      binary_from_env("PARLEYD"),
      {"--data-dir", b.path(), "--http-port", std::to_string(first.http_port()), "--tcp-port",
       "0"},
      &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_EQ(first.stop(SIGTERM), 0);
}

class HttpBasics : public ParleydTest {};

TEST_F(HttpBasics, HealthzAndMetrics) {
  HttpReply h = http_request(http_port(), "GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "{\"status\":\"ok\"}");
  // Some traffic first, so counters move.
  WsClient c = ws();
  c.send_text(R"({"op":"ping"})");
  ASSERT_TRUE(c.recv_text());
  HttpReply m = http_request(http_port(), "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.headers.find("text/plain"), std::string::npos);
  for (const char* name : {"parley_connections_open{shard=\"0\",transport=\"ws\"}",
                           "parley_connections_open{shard=\"1\",transport=\"tcp\"}",
                           "parley_connections_accepted_total", "parley_frames_in_total",
                           "parley_bytes_out_total", "parley_xshard_posted_total",
                           "parley_xshard_ring_full_total", "# TYPE parley_frames_out_total counter"}) {
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  }
}

TEST_F(HttpBasics, UnknownPathIs404AndGarbageIs400) {
  HttpReply r = http_request(http_port(), "GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json_str(r.body, "error"), "not_found");
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  s.send_all("THIS IS NOT HTTP\r\n\r\n");
  std::string got;
  EXPECT_TRUE(s.wait_closed(3000, &got));
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
}

TEST_F(HttpBasics, KeepAliveAndPipelining) {
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  s.send_all(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string all;
  EXPECT_TRUE(s.wait_closed(5000, &all));
  size_t first = all.find("HTTP/1.1 200");
  size_t second = all.find("HTTP/1.1 404");
  size_t third = all.find("HTTP/1.1 200", second);
  EXPECT_EQ(first, 0u) << all;
  ASSERT_NE(second, std::string::npos) << all;
  ASSERT_NE(third, std::string::npos) << all;
  EXPECT_NE(all.find("parley_frames_in_total", third), std::string::npos);
}

TEST_F(HttpBasics, OversizedHeadersAreRefused) {
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  std::string req = "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  s.send_all(req);
  std::string got;
  EXPECT_TRUE(s.wait_closed(5000, &got));
  EXPECT_EQ(got.rfind("HTTP/1.1 431", 0), 0u) << got.substr(0, 100);
}

}  // namespace
}  // namespace parley::test
