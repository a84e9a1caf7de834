// The interactive client end to end: real `parley login` processes on pseudo-terminals
// against a real parleyd. Every wait has a deadline; nothing asserts on timing.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "client/pty.h"

namespace parley::test {
namespace {

constexpr int kWait = 15000;  // generous: the suite runs on a loaded 2-core box

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    parley_ = binary_from_env("PARLEY");
    ASSERT_FALSE(parley_.empty()) << "PARLEY is not set (run the tests through meson)";
    ASSERT_TRUE(server_.start(dir_.path() + "/data")) << server_.log();
    for (const char* u : {"alice", "bob", "carol"}) register_user(u);
  }

  void TearDown() override {
    if (server_.running()) {
      EXPECT_EQ(server_.stop(SIGTERM), 0) << server_.log();
    }
  }

  // Each user gets a home of their own, as on separate machines.
  std::vector<std::string> env_for(const std::string& user) const {
    return {"HOME=" + dir_.path() + "/home-" + user,
            "XDG_STATE_HOME=",
            "LANG=C.UTF-8",
            "TERM=xterm",
            "PARLEY_PASSWORD=",
            "PARLEY_SERVER="};
  }

  void register_user(const std::string& user) {
    std::string out;
    auto env = env_for(user);
    env.push_back("PARLEY_PASSWORD=secret1");
    int rc =
        run_shell(parley_ + " --server " + server_.tcp_address() + " register " + user, env, &out);
    ASSERT_EQ(rc, 0) << out;
  }

  // `parley login USER` on a terminal, typing the password at the prompt.
  std::unique_ptr<PtyProcess> login(const std::string& user, bool websocket = false) {
    auto p = std::make_unique<PtyProcess>();
    std::vector<std::string> argv = {parley_};
    if (websocket) {
      argv.insert(argv.end(), {"--ws", server_.ws_url()});
    } else {
      argv.insert(argv.end(), {"--server", server_.tcp_address()});
    }
    argv.insert(argv.end(), {"login", user});
    EXPECT_TRUE(p->spawn(argv, env_for(user)));
    EXPECT_TRUE(p->wait_for("password for " + user + ": ", kWait)) << p->tail();
    p->type("secret1\r");
    EXPECT_TRUE(p->wait_for("Logged in as " + user, kWait)) << p->tail();
    return p;
  }

  TempDir dir_;
  std::string parley_;
  FixedServer server_;
};

TEST_F(ConsoleTest, TwoClientsChatWithReceiptsPresenceAndTyping) {
  auto alice = login("alice");
  auto bob = login("bob");

  // The password was typed with echo off.
  EXPECT_EQ(alice->count("secret1"), 0u);

  alice->type("@bob hello bob\r");
  ASSERT_TRUE(alice->wait_for("alice: hello bob ✓", kWait)) << alice->tail();
  // Switching to bob watched his presence.
  ASSERT_TRUE(bob->wait_for("[@alice] alice: hello bob", kWait)) << bob->tail();
  // Bob's first incoming chat became his current conversation, so he read it.
  ASSERT_TRUE(alice->wait_for("✓✓ read by bob: \"hello bob\"", kWait)) << alice->tail();

  // A plain line goes to the current conversation.
  bob->type("hi alice, how are you?\r");
  ASSERT_TRUE(bob->wait_for("bob: hi alice, how are you? ✓", kWait)) << bob->tail();
  ASSERT_TRUE(alice->wait_for("[@bob] bob: hi alice, how are you?", kWait)) << alice->tail();

  // Delivered but not read: bob looks at another conversation when alice writes.
  bob->type(":switch @carol\r");
  ASSERT_TRUE(bob->wait_for("[@carol] > ", kWait)) << bob->tail();
  alice->type("are you there?\r");
  ASSERT_TRUE(alice->wait_for("alice: are you there? ✓", kWait)) << alice->tail();
  ASSERT_TRUE(bob->wait_for("[@alice] alice: are you there?", kWait)) << bob->tail();
  ASSERT_TRUE(alice->wait_for("✓✓ delivered to bob: \"are you there?\"", kWait)) << alice->tail();
  bob->type(":switch @alice\r");
  ASSERT_TRUE(alice->wait_for("✓✓ read by bob: \"are you there?\"", kWait)) << alice->tail();

  // Typing is shown to the other side, and the half-typed line survives incoming output.
  bob->type("I am typ");
  ASSERT_TRUE(alice->wait_for("bob is typing…", kWait)) << alice->tail();
  alice->type("take your time\r");
  ASSERT_TRUE(bob->wait_for("alice: take your time", kWait)) << bob->tail();
  ASSERT_TRUE(bob->wait_for("I am typ", kWait)) << bob->tail();  // redrawn below it
  bob->type("ing\r");
  ASSERT_TRUE(alice->wait_for("bob: I am typing", kWait)) << alice->tail();

  // :olu lists both users.
  alice->type(":olu\r");
  ASSERT_TRUE(alice->wait_for("online (2): alice bob", kWait)) << alice->tail();

  // History of the current conversation, oldest first.
  alice->type(":history 2\r");
  ASSERT_TRUE(alice->wait_for("last 2 message(s)", kWait)) << alice->tail();
  ASSERT_TRUE(alice->wait_for("alice: take your time", kWait)) << alice->tail();
  ASSERT_TRUE(alice->wait_for("bob: I am typing", kWait)) << alice->tail();

  // Presence: bob quits, alice sees him go.
  bob->type(":q\r");
  EXPECT_EQ(bob->wait_exit(kWait), 0) << bob->tail();
  ASSERT_TRUE(alice->wait_for("* bob is offline", kWait)) << alice->tail();

  alice->type(":q\r");
  EXPECT_EQ(alice->wait_exit(kWait), 0) << alice->tail();
}

TEST_F(ConsoleTest, FriendsAndGroups) {
  auto alice = login("alice");
  auto bob = login("bob");

  alice->type(":add bob\r");
  ASSERT_TRUE(alice->wait_for("friend request sent to bob", kWait)) << alice->tail();
  ASSERT_TRUE(bob->wait_for("alice asks to be your friend", kWait)) << bob->tail();
  bob->type(":accept alice\r");
  ASSERT_TRUE(bob->wait_for("you are now friends with alice", kWait)) << bob->tail();
  ASSERT_TRUE(alice->wait_for("bob accepted your friend request", kWait)) << alice->tail();
  alice->type(":friends\r");
  ASSERT_TRUE(alice->wait_for("friends: bob (online)", kWait)) << alice->tail();

  alice->type(":create team bob carol\r");
  ASSERT_TRUE(alice->wait_for("created #team", kWait)) << alice->tail();
  ASSERT_TRUE(alice->wait_for("[#team] > ", kWait)) << alice->tail();
  alice->type("welcome to the team\r");
  ASSERT_TRUE(alice->wait_for("alice: welcome to the team ✓", kWait)) << alice->tail();
  ASSERT_TRUE(bob->wait_for("[#team] alice: welcome to the team", kWait)) << bob->tail();
  bob->type("#team thanks\r");
  ASSERT_TRUE(alice->wait_for("[#team] bob: thanks", kWait)) << alice->tail();

  bob->type(":groups\r");
  ASSERT_TRUE(bob->wait_for("#team (member, 3 members", kWait)) << bob->tail();
  bob->type(":join other\r");
  ASSERT_TRUE(bob->wait_for("joined by invitation", kWait)) << bob->tail();
  bob->type(":nonsense\r");
  ASSERT_TRUE(bob->wait_for("unknown command :nonsense", kWait)) << bob->tail();
  bob->type("@nobody hello\r");
  ASSERT_TRUE(bob->wait_for("not sent: not_found", kWait)) << bob->tail();

  alice->type(":q\r");
  bob->type(":q\r");
  EXPECT_EQ(alice->wait_exit(kWait), 0) << alice->tail();
  EXPECT_EQ(bob->wait_exit(kWait), 0) << bob->tail();
}

TEST_F(ConsoleTest, SurvivesServerRestartWithoutLosingOrRepeating) {
  auto alice = login("alice");
  auto bob = login("bob", /*websocket=*/true);
  alice->type("@bob before the restart\r");
  ASSERT_TRUE(bob->wait_for("alice: before the restart", kWait)) << bob->tail();

  ASSERT_EQ(server_.stop(SIGTERM), 0) << server_.log();
  ASSERT_TRUE(alice->wait_for("reconnecting", kWait)) << alice->tail();
  ASSERT_TRUE(bob->wait_for("reconnecting", kWait)) << bob->tail();
  // Typed while the server is down: queued, then sent exactly once.
  alice->type("sent while down\r");
  ASSERT_TRUE(alice->wait_for("(queued until reconnected) sent while down", kWait))
      << alice->tail();

  ASSERT_TRUE(server_.restart()) << server_.log();
  ASSERT_TRUE(alice->wait_for("reconnected", 45000)) << alice->tail();
  ASSERT_TRUE(alice->wait_for("alice: sent while down ✓", kWait)) << alice->tail();
  ASSERT_TRUE(bob->wait_for("reconnected", 45000)) << bob->tail();
  ASSERT_TRUE(bob->wait_for("alice: sent while down", kWait)) << bob->tail();

  alice->type("after the restart\r");
  ASSERT_TRUE(bob->wait_for("alice: after the restart", kWait)) << bob->tail();
  bob->type("got them all\r");
  ASSERT_TRUE(alice->wait_for("bob: got them all", kWait)) << alice->tail();

  // Nothing shown twice.
  EXPECT_EQ(bob->count("alice: before the restart"), 1u) << bob->text();
  EXPECT_EQ(bob->count("alice: sent while down"), 1u) << bob->text();
  EXPECT_EQ(alice->count("alice: sent while down ✓"), 1u) << alice->text();

  alice->type(":q\r");
  bob->type(":q\r");
  EXPECT_EQ(alice->wait_exit(kWait), 0) << alice->tail();
  EXPECT_EQ(bob->wait_exit(kWait), 0) << bob->tail();
}

TEST_F(ConsoleTest, ResumesFromPersistedCursorsAfterAClientRestart) {
  auto alice = login("alice");
  {
    auto bob = login("bob");
    alice->type("@bob first\r");
    ASSERT_TRUE(bob->wait_for("alice: first", kWait)) << bob->tail();
    bob->type(":q\r");
    ASSERT_EQ(bob->wait_exit(kWait), 0) << bob->tail();
  }
  alice->type("second while bob is away\r");
  ASSERT_TRUE(alice->wait_for("alice: second while bob is away ✓", kWait)) << alice->tail();
  alice->type("third while bob is away\r");
  ASSERT_TRUE(alice->wait_for("alice: third while bob is away ✓", kWait)) << alice->tail();

  auto bob = login("bob");
  ASSERT_TRUE(bob->wait_for("alice: second while bob is away", kWait)) << bob->tail();
  ASSERT_TRUE(bob->wait_for("alice: third while bob is away", kWait)) << bob->tail();
  bob->type("@alice back\r");
  ASSERT_TRUE(alice->wait_for("bob: back", kWait)) << alice->tail();
  // The message shown in the first session is not shown again.
  EXPECT_EQ(bob->count("alice: first"), 0u) << bob->text();
  EXPECT_EQ(bob->count("alice: second while bob is away"), 1u) << bob->text();

  bob->type("\x04");  // Ctrl-D on an empty line quits too
  EXPECT_EQ(bob->wait_exit(kWait), 0) << bob->tail();
  alice->type(":q\r");
  EXPECT_EQ(alice->wait_exit(kWait), 0) << alice->tail();
}

TEST_F(ConsoleTest, NonAsciiLineIsSentAsTyped) {
  auto alice = login("alice");
  auto bob = login("bob");
  // Multibyte characters reach libedit whole (byte by byte they would turn into "Ã©").
  alice->type("@bob héllo wörld ✓ 日本\r");
  ASSERT_TRUE(alice->wait_for("alice: héllo wörld ✓ 日本 ✓", kWait)) << alice->tail();
  ASSERT_TRUE(bob->wait_for("[@alice] alice: héllo wörld ✓ 日本", kWait)) << bob->tail();
  bob->type("ça va\r");
  ASSERT_TRUE(alice->wait_for("bob: ça va", kWait)) << alice->tail();
  alice->type(":q\r");
  EXPECT_EQ(alice->wait_exit(kWait), 0) << alice->tail();
  bob->type(":q\r");
  EXPECT_EQ(bob->wait_exit(kWait), 0) << bob->tail();
}

TEST_F(ConsoleTest, WrongPasswordExitsWithAuthCode) {
  PtyProcess p;
  ASSERT_TRUE(
      p.spawn({parley_, "--server", server_.tcp_address(), "login", "alice"}, env_for("alice")));
  ASSERT_TRUE(p.wait_for("password for alice: ", kWait)) << p.tail();
  p.type("not-the-password\r");
  ASSERT_TRUE(p.wait_for("login refused", kWait)) << p.tail();
  EXPECT_EQ(p.wait_exit(kWait), 4) << p.tail();
}

TEST_F(ConsoleTest, SecondLoginOfTheSameDeviceReplacesTheFirst) {
  auto first = login("alice");
  auto second = login("alice");
  ASSERT_TRUE(first->wait_for("another login of device 'console' replaced this one", kWait))
      << first->tail();
  EXPECT_EQ(first->wait_exit(kWait), 1) << first->tail();
  second->type(":q\r");
  EXPECT_EQ(second->wait_exit(kWait), 0) << second->tail();
}

}  // namespace
}  // namespace parley::test
