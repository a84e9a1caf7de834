// The one-shot commands (register, send, tail) end to end, in shell pipelines, with the exit
// codes scripts rely on.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "client/pty.h"

namespace parley::test {
namespace {

class OneShotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    parley_ = binary_from_env("PARLEY");
    ASSERT_FALSE(parley_.empty()) << "PARLEY is not set (run the tests through meson)";
    ASSERT_TRUE(server_.start(dir_.path() + "/data")) << server_.log();
    ASSERT_EQ(sh("register alice"), 0) << out_;
    ASSERT_EQ(sh("register bob"), 0) << out_;
  }
  void TearDown() override {
    if (server_.running()) {
      EXPECT_EQ(server_.stop(SIGTERM), 0) << server_.log();
    }
  }

  // Runs a shell command line in which $P is the parley binary with --server set.
  int sh(const std::string& args, const std::string& password = "secret1") {
    std::string cmd = "P='" + parley_ + " --server " + server_.tcp_address() + "'; ";
    bool whole = args.find("$P") != std::string::npos || args.rfind(parley_, 0) == 0;
    cmd += whole ? args : "$P " + args;
    return run_shell(cmd,
                     {"HOME=" + dir_.path() + "/home", "XDG_STATE_HOME=",
                      "PARLEY_PASSWORD=" + password, "PARLEY_SERVER=", "PARLEY_TOKEN="},
                     &out_);
  }

  TempDir dir_;
  std::string parley_;
  FixedServer server_;
  std::string out_;
};

TEST_F(OneShotTest, RegisterReportsTakenNamesAndBadNames) {
  EXPECT_EQ(sh("register alice"), 7) << out_;
  EXPECT_EQ(sh("register 'no spaces'"), 2) << out_;
  EXPECT_EQ(sh("register carol", "short"), 1) << out_;  // bad_request: password too short
  EXPECT_EQ(sh("register carol"), 0) << out_;
  EXPECT_NE(out_.find("registered carol (uid "), std::string::npos) << out_;
}

TEST_F(OneShotTest, SendAndTailInAPipeline) {
  EXPECT_EQ(sh("echo 'hello from a pipe' | $P send -u alice --to bob -"), 0) << out_;
  EXPECT_EQ(sh("printf 'one\\ntwo\\n' | $P send -u alice --to bob --lines --json - | wc -l"), 0)
      << out_;
  EXPECT_EQ(out_, "2\n");
  EXPECT_EQ(sh("send -u alice --to bob words are joined"), 0) << out_;

  // tail prints JSON lines, one per message.
  EXPECT_EQ(sh("$P tail -u bob -n 1 | grep -c '\"body\":\"hello from a pipe\"'"), 0) << out_;
  EXPECT_EQ(out_, "1\n");
  // That tail acked what it printed: the next one resumes after it, nothing repeated.
  EXPECT_EQ(sh("tail -u bob -n 3"), 0) << out_;
  EXPECT_EQ(out_.find("hello from a pipe"), std::string::npos) << out_;
  EXPECT_NE(out_.find("\"body\":\"one\""), std::string::npos) << out_;
  EXPECT_NE(out_.find("\"body\":\"two\""), std::string::npos) << out_;
  EXPECT_NE(out_.find("\"body\":\"words are joined\""), std::string::npos) << out_;
  // A tail running while the message is sent (in either order: it resumes from its cursor).
  EXPECT_EQ(
      sh("$P tail -u bob --conversation @alice -n 1 & $P send -u alice --to bob last && wait"), 0)
      << out_;
  EXPECT_NE(out_.find("\"body\":\"last\""), std::string::npos) << out_;

  // A reader that goes away (`head`) ends a tail that would otherwise run forever, with 0.
  EXPECT_EQ(sh("send -u alice --to bob for-head"), 0) << out_;
  EXPECT_EQ(sh("$P --device tail2 tail -u bob | head -n 1 | wc -l"), 0) << out_;
  EXPECT_EQ(out_, "1\n");
}

TEST_F(OneShotTest, GroupSendFromStdin) {
  ASSERT_EQ(sh("send -u alice --to bob hi"), 0) << out_;
  // There is no one-shot group creation: the console takes commands on a pipe too.
  ASSERT_EQ(sh("printf ':create team bob\\n' | $P login alice"), 0) << out_;
  EXPECT_NE(out_.find("created #team"), std::string::npos) << out_;
  EXPECT_EQ(sh("echo 'to the team' | $P send -u alice --group team -"), 0) << out_;
  EXPECT_EQ(sh("tail -u bob --conversation '#team' -n 2"), 0) << out_;
  EXPECT_NE(out_.find("\"group\":\"team\""), std::string::npos) << out_;
  EXPECT_NE(out_.find("\"body\":\"to the team\""), std::string::npos) << out_;
  EXPECT_EQ(sh("send -u bob --group nosuch x"), 5) << out_;
}

TEST_F(OneShotTest, ConsoleReadsCommandsFromARegularFile) {
  // A file cannot be polled like a pipe; the console reads it all the same.
  std::ofstream(dir_.path() + "/cmds") << ":create crew bob\n@bob from a file\n";
  ASSERT_EQ(sh("$P login alice < " + dir_.path() + "/cmds"), 0) << out_;
  EXPECT_NE(out_.find("created #crew"), std::string::npos) << out_;
  EXPECT_NE(out_.find("alice: from a file ✓"), std::string::npos) << out_;
}

TEST_F(OneShotTest, ExitCodesScriptsCanTrust) {
  EXPECT_EQ(sh("send -u alice --to nobody hi"), 5) << out_;
  EXPECT_EQ(sh("send -u alice --to bob hi", "wrong-password"), 4) << out_;
  EXPECT_EQ(sh("send -u alice hi"), 2) << out_;  // no recipient
  EXPECT_EQ(sh("send -u alice --to bob --group g hi"), 2) << out_;
  EXPECT_EQ(sh("--bogus-flag send"), 2) << out_;
  // No password: the token saved by the last successful command is used...
  EXPECT_EQ(sh("send -u alice --to bob hi", ""), 0) << out_;
  // ...and without one, and no terminal to ask on, it is an authentication failure.
  EXPECT_EQ(sh("XDG_STATE_HOME=" + dir_.path() + "/empty $P send -u alice --to bob hi", ""), 4)
      << out_;
  EXPECT_EQ(sh("send -u alice --to bob \"$(head -c 20000 /dev/zero | tr '\\0' x)\""), 8) << out_;
  // Nothing listens there: exit 3 within the timeout, not a hang.
  std::string dead = "127.0.0.1:" + std::to_string(free_port());
  EXPECT_EQ(sh(parley_ + " --server " + dead + " --timeout 2 send -u alice --to bob hi"), 3)
      << out_;
}

TEST_F(OneShotTest, SendWaitsForTheServerToComeBack) {
  ASSERT_EQ(server_.stop(SIGTERM), 0);
  // The send retries with backoff while the server is down and succeeds once it is back.
  std::string cmd =
      "($P --timeout 60 send -u alice --to bob patience; echo rc=$?) & "
      "sleep 1; touch " +
      dir_.path() + "/go; wait";
  // Restart from this thread while the shell's send is waiting.
  std::thread restarter([&] {
    for (int i = 0; i < 200 && access((dir_.path() + "/go").c_str(), F_OK) != 0; ++i) {
      usleep(50 * 1000);
    }
    server_.restart();
  });
  int rc = sh(cmd);
  restarter.join();
  EXPECT_EQ(rc, 0) << out_;
  EXPECT_NE(out_.find("rc=0"), std::string::npos) << out_ << server_.log();
  EXPECT_EQ(sh("tail -u bob -n 1"), 0) << out_;
  EXPECT_NE(out_.find("\"body\":\"patience\""), std::string::npos) << out_;
}

}  // namespace
}  // namespace parley::test
