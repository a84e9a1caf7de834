// A running parleyd on ephemeral loopback ports with a fresh data directory, for one test.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "e2e/support/client.h"
#include "e2e/support/process.h"

namespace parley::test {

class ParleydTest : public ::testing::Test {
 protected:
  // Extra TOML appended to a config file passed with --config (empty: no config file).
  virtual std::string extra_config() const { return ""; }
  virtual std::vector<std::string> extra_args() const { return {}; }

  void SetUp() override {
    binary_ = binary_from_env("PARLEYD");
    ASSERT_FALSE(binary_.empty()) << "PARLEYD is not set (run the tests through meson)";
    std::vector<std::string> args = {"--data-dir", dir_.path() + "/data", "--http-port", "0",
                                     "--tcp-port", "0", "--shards", "2"};
    std::string conf = extra_config();
    if (!conf.empty()) {
      std::string path = dir_.path() + "/parley.toml";
      std::ofstream(path) << conf;
      args.insert(args.begin(), {"--config", path});
    }
    for (auto& a : extra_args()) args.push_back(a);
    args_ = args;
    ASSERT_TRUE(server_.start(binary_, args)) << server_.log();
  }

  // Stops the server with `sig` (SIGTERM: graceful, SIGKILL: a crash) and starts it again on
  // the same data directory (new ports). Returns false if it does not come back.
  bool restart(int sig = SIGTERM) {
    int code = server_.stop(sig);
    if (sig == SIGTERM) {
      EXPECT_EQ(code, 0) << server_.log();
    }
    return server_.start(binary_, args_);
  }

  void TearDown() override {
    if (server_.running()) {
      int code = server_.stop(SIGTERM);
      EXPECT_EQ(code, 0) << server_.log();
    }
  }

  uint16_t http_port() const { return server_.http_port(); }
  uint16_t tcp_port() const { return server_.tcp_port(); }

  // A WebSocket client already upgraded on /ws.
  WsClient ws() {
    WsClient c;
    EXPECT_EQ(c.connect(http_port()), 101);
    return c;
  }
  TcpClient tcp() {
    TcpClient c;
    EXPECT_TRUE(c.connect(tcp_port()));
    return c;
  }

  TempDir dir_;
  std::string binary_;
  std::vector<std::string> args_;
  ServerProcess server_;
};

}  // namespace parley::test
