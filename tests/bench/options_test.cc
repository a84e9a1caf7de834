#include "options.h"

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

ParseResult parse(std::vector<std::string> args) { return parse_options(args); }

TEST(Options, DefaultsForP2p) {
  auto r = parse({"p2p"});
  ASSERT_TRUE(r.options) << r.message;
  const Options& o = *r.options;
  EXPECT_EQ(o.scenario, Scenario::kP2p);
  EXPECT_EQ(o.transport, Transport::kWs);
  EXPECT_EQ(o.port, 8080);
  EXPECT_EQ(o.tcp_port, 7070);
  EXPECT_EQ(o.path, "/ws");
  EXPECT_EQ(o.threads, 1);
  EXPECT_EQ(o.rate, 0);
  EXPECT_FALSE(o.json);
  EXPECT_FALSE(o.progress.has_value());
  EXPECT_FALSE(o.prefix.empty());  // unique per run
}

TEST(Options, EverythingParses) {
  auto r = parse({"group", "--transport", "tcp", "--threads", "2", "--groups", "3", "--members",
                  "7", "--window", "4", "--ack-every", "5", "--payload", "100", "--rate", "1000",
                  "--duration", "2.5", "--warmup", "0", "--server-pid", "42", "--json",
                  "--no-progress", "--jwt-secret", "s", "--prefix", "x_", "--tcp-port", "1234"});
  ASSERT_TRUE(r.options) << r.message;
  const Options& o = *r.options;
  EXPECT_EQ(o.scenario, Scenario::kGroup);
  EXPECT_EQ(o.transport, Transport::kTcp);
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.groups, 3u);
  EXPECT_EQ(o.members, 7u);
  EXPECT_EQ(o.window, 4u);
  EXPECT_EQ(o.ack_every, 5u);
  EXPECT_EQ(o.payload, 100u);
  EXPECT_EQ(o.rate, 1000);
  EXPECT_DOUBLE_EQ(o.duration, 2.5);
  EXPECT_EQ(o.warmup, 0);
  EXPECT_EQ(o.server_pid, 42);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.progress, false);
  EXPECT_EQ(o.jwt_secret, "s");
  EXPECT_EQ(o.prefix, "x_");
  EXPECT_EQ(o.tcp_port, 1234);
}

TEST(Options, P2pUsersAreRoundedUpToPairs) {
  auto r = parse({"p2p", "--users", "5"});
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->conns, 6u);
}

TEST(Options, RefusesBadInput) {
  EXPECT_FALSE(parse({}).options);                                  // no scenario
  EXPECT_FALSE(parse({"nosuch"}).options);
  EXPECT_FALSE(parse({"echo", "--transport", "udp"}).options);
  EXPECT_FALSE(parse({"echo", "--host", "10.0.0.1"}).options);      // loopback only
  EXPECT_FALSE(parse({"echo", "--threads", "0"}).options);
  EXPECT_FALSE(parse({"echo", "--window", "0"}).options);
  EXPECT_FALSE(parse({"echo", "--rate", "-1"}).options);
  EXPECT_FALSE(parse({"echo", "--bogus"}).options);
  EXPECT_FALSE(parse({"echo", "--progress", "--no-progress"}).options);
  auto r = parse({"echo", "--transport", "udp"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.message.empty());
}

TEST(Options, HelpExitsZeroWithText) {
  auto r = parse({"--help"});
  EXPECT_FALSE(r.options);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.message.find("--transport"), std::string::npos);
}

TEST(Options, NewScenariosAndTheirOptions) {
  auto r = parse({"offline", "--users", "5", "--messages", "300"});
  ASSERT_TRUE(r.options) << r.message;
  EXPECT_EQ(r.options->scenario, Scenario::kOffline);
  EXPECT_EQ(r.options->conns, 6u);  // pairs: rounded up
  EXPECT_EQ(r.options->messages, 300u);
  r = parse({"storm", "--users", "7"});
  ASSERT_TRUE(r.options) << r.message;
  EXPECT_EQ(r.options->conns, 8u);
  r = parse({"mixed", "--users", "21", "--members", "5", "--churn", "0.2", "--report-every",
             "30"});
  ASSERT_TRUE(r.options) << r.message;
  EXPECT_EQ(r.options->conns, 30u);  // whole pairs and whole groups: a multiple of 10
  EXPECT_DOUBLE_EQ(r.options->churn, 0.2);
  EXPECT_DOUBLE_EQ(r.options->report_every, 30);
  EXPECT_EQ(user_count(*r.options), 30u);
  r = parse({"mixed", "--users", "21", "--members", "4"});
  ASSERT_TRUE(r.options) << r.message;
  EXPECT_EQ(r.options->conns, 24u);
  EXPECT_EQ(parse({"offline", "--rate", "100"}).exit_code, 2);
}

TEST(Options, RedisTarget) {
  auto r = parse({"p2p", "--target", "redis://127.0.0.1:6390"});
  ASSERT_TRUE(r.options) << r.message;
  EXPECT_EQ(r.options->target, Target::kRedis);
  EXPECT_EQ(r.options->redis_host, "127.0.0.1");
  EXPECT_EQ(r.options->redis_port, 6390);
  r = parse({"group", "--target", "redis://127.0.0.2"});
  ASSERT_TRUE(r.options) << r.message;
  EXPECT_EQ(r.options->redis_port, 6379);
  EXPECT_EQ(parse({"p2p"}).options->target, Target::kParley);
  for (std::vector<std::string> bad : {
           std::vector<std::string>{"p2p", "--target", "redis://10.0.0.1:6379"},  // not loopback
           {"p2p", "--target", "http://127.0.0.1:6379"},
           {"p2p", "--target", "redis://127.0.0.1:x"},
           {"p2p", "--target", "redis://127.0.0.1:70000"},
           {"storm", "--target", "redis://127.0.0.1:6379"},  // p2p and group only
           {"p2p", "--rate", "10", "--target", "redis://127.0.0.1:6379"},
       }) {
    EXPECT_EQ(parse(bad).exit_code, 2) << bad[2];
  }
}

}  // namespace
}  // namespace parley::bench
