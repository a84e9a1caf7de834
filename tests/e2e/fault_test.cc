// Faults of the machine under a running parleyd: the disk filling up under the store.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "e2e/chat_fixture.h"

namespace parley::test {
namespace {

uint64_t free_bytes(const std::string& path) {
  struct statvfs fs{};
  if (statvfs(path.c_str(), &fs) != 0) return 0;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

// The data directory is a 32 MiB tmpfs, nearly filled by a ballast file once the server runs;
// min_free_space is 4 MiB. Needs root (mount); skipped otherwise.
class DiskFullTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[storage]\nmin_free_space = \"4MiB\"\n";
  }
  std::vector<std::string> extra_args() const override {
    return {"--sync", "batch", "--rate-limit", "0"};
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    data_ = dir_.path() + "/data";
    std::filesystem::create_directory(data_);
    if (mount("tmpfs", data_.c_str(), "tmpfs", 0, "size=32m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    }
    mounted_ = true;
    ChatTest::SetUp();
  }
  void TearDown() override {
    ChatTest::TearDown();
    if (mounted_) umount2(data_.c_str(), MNT_DETACH);
  }
  // Leaves `left` bytes free on the tmpfs.
  void fill_to(uint64_t left) {
    uint64_t free = free_bytes(data_);
    ASSERT_GT(free, left);
    std::ofstream f(ballast(), std::ios::binary);
    std::string mib(1 << 20, 'b');
    for (uint64_t n = free - left; n > 0;) {
      size_t part = static_cast<size_t>(std::min<uint64_t>(n, mib.size()));
      f.write(mib.data(), static_cast<std::streamsize>(part));
      n -= part;
    }
    f.close();
    ASSERT_TRUE(f.good());
  }
  std::string ballast() const { return data_ + "/ballast"; }

  std::string data_;
  bool mounted_ = false;
};

INSTANTIATE_TEST_SUITE_P(Transports, DiskFullTest, ::testing::Values(false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// Sends fail with `unavailable` while the disk is full; the server stays up, reads still work,
// /healthz says 503; when space returns, sending resumes by itself with the next seq (no gap);
// after a kill -9 every acknowledged message is there exactly once.
TEST_P(DiskFullTest, SendsFailWhileFullAndResumeWhenSpaceReturns) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  auto b = logged_in("bob");
  fill_to(7 << 20);  // about 3 MiB above the guard
  const std::string body(4000, 'm');
  std::map<int64_t, std::string> acked;  // seq -> cid
  std::string failure;
  for (int i = 0; i < 4000 && failure.empty(); ++i) {
    std::string cid = "f" + std::to_string(i);
    std::string r = a->send_to("bob", cid, body);
    if (is_ok(r)) {
      acked[json_int(r, "seq")] = cid;
    } else {
      failure = r;
    }
  }
  ASSERT_FALSE(failure.empty()) << "the disk never filled";
  EXPECT_EQ(code_of(failure), "unavailable") << failure;
  ASSERT_FALSE(acked.empty());
  EXPECT_EQ(acked.begin()->first, 1);
  EXPECT_EQ(acked.rbegin()->first, static_cast<int64_t>(acked.size()));  // no gap

  // Up and answering: ping, history, health says why it is unhealthy.
  EXPECT_EQ(json_str(a->call(R"("op":"ping")"), "op"), "pong");
  std::string h = b->call(R"("op":"history","peer":"alice","limit":2)");
  EXPECT_TRUE(is_ok(h)) << h;
  HttpReply health = http_request(http_port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_NE(health.body.find("store_failing"), std::string::npos) << health.body;
  EXPECT_EQ(code_of(a->send_to("bob", "still-full", "x")), "unavailable");

  // Space returns: writing resumes by itself, with the next seq.
  std::filesystem::remove(ballast());
  std::string r;
  for (int i = 0; i < 50; ++i) {
    r = a->send_to("bob", "after", "back");
    if (is_ok(r)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(is_ok(r)) << r;
  const int64_t last = static_cast<int64_t>(acked.size()) + 1;
  EXPECT_EQ(json_int(r, "seq"), last);
  acked[last] = "after";
  EXPECT_EQ(http_request(http_port(), "GET", "/healthz").status, 200);

  // Crash and restart on the same tmpfs: everything acknowledged, once, in order.
  ASSERT_TRUE(restart(SIGKILL)) << server_.log();
  auto b2 = logged_in("bob", "second");
  int64_t expected = 1;
  for (;;) {
    std::string m = b2->next("msg", 2000);
    if (m.empty()) break;
    ASSERT_EQ(json_int(m, "seq"), expected) << m.substr(0, 200);
    EXPECT_EQ(json_str(m, "cid"), acked[expected]);
    ++expected;
  }
  EXPECT_EQ(expected - 1, last);
}

}  // namespace
}  // namespace parley::test
