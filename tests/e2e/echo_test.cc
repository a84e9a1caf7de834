// parley-echo: the network layer alone, echoing text and binary WebSocket messages and TCP frames.
#include <signal.h>

#include "e2e/support/client.h"
#include "e2e/support/process.h"
#include <gtest/gtest.h>

namespace parley::test {
namespace {

class Echo : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(p_.start(binary_from_env("PARLEY_ECHO"),
                         {"--port", "0", "--tcp-port", "0", "--shards", "2"}))
        << p_.log();
  }
  void TearDown() override { EXPECT_EQ(p_.stop(SIGTERM), 0) << p_.log(); }
  ServerProcess p_;
};

TEST_F(Echo, EchoesTextAndBinaryOnAnyPath) {
  WsClient w;
  ASSERT_EQ(w.connect(p_.http_port(), "/anything"), 101);
  w.send_text("hello");
  auto f = w.recv_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 1);
  EXPECT_EQ(f->payload, "hello");
  std::string bin("\x00\xff\x10", 3);
  w.send_binary(bin);
  f = w.recv_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 2);
  EXPECT_EQ(f->payload, bin);
  std::string big(1 << 20, 'z');  // 1 MiB, fragmented
  w.send_frame(0x1, big.substr(0, 300000), false);
  w.send_frame(0x0, big.substr(300000), true);
  f = w.recv_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload.size(), big.size());
}

TEST_F(Echo, EchoesTcpFrames) {
  TcpClient t;
  ASSERT_TRUE(t.connect(p_.tcp_port()));
  for (int i = 0; i < 100; ++i) t.send("frame " + std::to_string(i));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(t.recv().value_or(""), "frame " + std::to_string(i));
}

}  // namespace
}  // namespace parley::test
