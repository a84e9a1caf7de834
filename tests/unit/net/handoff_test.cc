// Connection hand-off between two real shards: a connection moves mid-stream, with bytes the
// old shard had already read but not parsed, its framing state and its context, and the client
// never notices. Runs real loops on real loopback sockets; no chat code involved.
#include <gtest/gtest.h>

#include <latch>
#include <memory>

#include "e2e/support/client.h"
#include "parley/http/request.h"
#include "parley/http/response.h"
#include "parley/net/listener.h"
#include "parley/net/net_shard.h"
#include "parley/shard/shard.h"

namespace parley::net {
namespace {

struct Counter final : ConnContext {
  int count = 0;
  int born_on = -1;
};

// "count" bumps the connection's counter; "move" hands it to the other shard; "whoami" names
// the shard serving it.
class MovingHandler final : public Handler {
 public:
  void on_open(Connection& c) override {
    auto ctx = std::make_unique<Counter>();
    ctx->born_on = shard::Shard::current()->id();
    c.set_context(std::move(ctx));
  }
  void on_message(Connection& c, std::string_view payload, bool) override {
    int me = shard::Shard::current()->id();
    auto* ctx = static_cast<Counter*>(c.context());
    if (payload == "count") {
      c.send(std::to_string(++ctx->count));
    } else if (payload == "move") {
      c.handoff(1 - me, [](Connection& moved) {
        moved.send("arrived=" + std::to_string(shard::Shard::current()->id()));
      });
    } else if (payload == "whoami") {
      c.send("shard=" + std::to_string(me) + " born=" + std::to_string(ctx->born_on));
    }
  }
  void on_http(Connection& c, http::Request&) override {
    c.respond(http::http_response(404, "text/plain", "", false));
  }
};

class HandoffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ListenResult http = listen_reuseport("127.0.0.1", 0, 2);
    ListenResult tcp = listen_reuseport("127.0.0.1", 0, 2);
    ASSERT_TRUE(http.error.empty() && tcp.error.empty());
    http_port_ = http.bound.port;
    tcp_port_ = tcp.bound.port;
    set_ = std::make_unique<shard::ShardSet>(shard::ShardOptions{.shards = 2});
    std::latch ready(2);
    set_->start([&](shard::Shard& s) {
      auto& slot = per_[s.id()];
      slot.handler = std::make_unique<MovingHandler>();
      NetOptions o;
      o.require_login = false;
      slot.net = std::make_unique<NetShard>(s, o, *slot.handler, clock_);
      slot.net->adopt_listener(http.bound.fds[s.id()], Transport::kHttp);
      slot.net->adopt_listener(tcp.bound.fds[s.id()], Transport::kTcp);
      s.add_stop_hook([&slot] { slot.net->shutdown(); });
      s.add_exit_hook([&slot] {
        slot.net.reset();
        slot.handler.reset();
      });
      ready.count_down();
    });
    ready.wait();
  }
  void TearDown() override {
    set_->stop();
    set_->join();
  }

  struct PerShard {
    std::unique_ptr<MovingHandler> handler;
    std::unique_ptr<NetShard> net;
  };
  SteadyClock clock_;
  PerShard per_[2];
  std::unique_ptr<shard::ShardSet> set_;
  uint16_t http_port_ = 0, tcp_port_ = 0;
};

std::string frame(std::string_view p) {
  std::string f(4, '\0');
  f[3] = static_cast<char>(p.size());
  return f + std::string(p);
}

TEST_F(HandoffTest, TcpConnectionMovesWithUnparsedBytesAndContext) {
  for (int round = 0; round < 10; ++round) {
    test::TcpClient c;
    ASSERT_TRUE(c.connect(tcp_port_));
    // All in one write: the bytes after "move" were read by the old shard.
    c.send_raw(frame("count") + frame("whoami") + frame("move") + frame("count") +
               frame("whoami") + frame("move") + frame("count") + frame("whoami"));
    EXPECT_EQ(c.recv().value_or(""), "1");
    std::string first = c.recv().value_or("");
    ASSERT_EQ(first.rfind("shard=", 0), 0u) << first;
    int a = first[6] - '0';
    EXPECT_EQ(first, "shard=" + std::to_string(a) + " born=" + std::to_string(a));
    EXPECT_EQ(c.recv().value_or(""), "arrived=" + std::to_string(1 - a));
    EXPECT_EQ(c.recv().value_or(""), "2");
    EXPECT_EQ(c.recv().value_or(""), "shard=" + std::to_string(1 - a) + " born=" + std::to_string(a));
    EXPECT_EQ(c.recv().value_or(""), "arrived=" + std::to_string(a));
    EXPECT_EQ(c.recv().value_or(""), "3");
    EXPECT_EQ(c.recv().value_or(""), "shard=" + std::to_string(a) + " born=" + std::to_string(a));
  }
}

TEST_F(HandoffTest, WebSocketMovesMidFragmentedMessage) {
  test::WsClient w;
  ASSERT_EQ(w.connect(http_port_, "/ws"), 101);
  w.send_text("whoami");
  std::string first = w.recv_text().value_or("");
  ASSERT_EQ(first.rfind("shard=", 0), 0u);
  int a = first[6] - '0';
  // The first fragment of "count" is absorbed before the move; the rest arrives after it.
  w.send_text("move");
  EXPECT_EQ(w.recv_text().value_or(""), "arrived=" + std::to_string(1 - a));
  w.send_frame(0x1, "co", false);
  w.send_text("move");  // would be a protocol error inside a fragmented message
  EXPECT_EQ(w.expect_close(), 1002);

  test::WsClient v;
  ASSERT_EQ(v.connect(http_port_, "/ws"), 101);
  v.send_frame(0x1, "co", false);
  v.send_frame(0x9, "ping");
  v.send_frame(0x0, "unt", true);
  v.send_text("move");
  v.send_frame(0x1, "who", false);
  v.send_frame(0x0, "ami", true);
  auto pong = v.recv_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, 0xA);
  EXPECT_EQ(v.recv_text().value_or(""), "1");
  std::string arrived = v.recv_text().value_or("");
  ASSERT_EQ(arrived.rfind("arrived=", 0), 0u);
  std::string who = v.recv_text().value_or("");
  EXPECT_EQ(who.substr(0, 7), "shard=" + arrived.substr(8));
}

TEST_F(HandoffTest, StatsCountMoves) {
  test::TcpClient c;
  ASSERT_TRUE(c.connect(tcp_port_));
  c.send_raw(frame("move") + frame("move") + frame("move") + frame("count"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.recv().value_or("").rfind("arrived=", 0), 0u);
  EXPECT_EQ(c.recv().value_or(""), "1");
}

}  // namespace
}  // namespace parley::net
