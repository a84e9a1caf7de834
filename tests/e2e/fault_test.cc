// Faults of the machine under a running parleyd: the disk filling up under the store.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

namespace parley::test {
namespace {

// Retention trims old messages in the background, with point deletes in the shard's batch.
class RetentionCrashTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "[storage]\nretention = \"1ms\"\nretention_count = 50\n";
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, RetentionCrashTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

// kill -9 while sends arrive and the trim sweeps run every second: after the restart, the
// conversation is contiguous from its floor to its head, the newest retention_count are all
// there with their acknowledged seqs, nothing is duplicated, and resends are deduped.
TEST_P(RetentionCrashTest, CrashDuringTrimsKeepsWhatItMust) {
  register_user("alice");
  register_user("bob");
  auto a = logged_in("alice");
  for (int i = 0; i < 120; ++i) ASSERT_TRUE(is_ok(a->send_to("bob", "p" + std::to_string(i), "p")));
  bool trimmed = false;
  for (int attempt = 0; attempt < 60 && !trimmed; ++attempt) {  // a sweep has run
    std::string page = a->call(R"("op":"history","peer":"bob","before":2,"limit":1)");
    trimmed = page.find(R"("messages":[])") != std::string::npos;
    if (!trimmed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(trimmed);
  // Sends paced over about three seconds, so sweeps run between and among them; killed after
  // two seconds.
  const int kTotal = 1500;
  std::thread writer([&] {
    for (int i = 0; i < kTotal; ++i) {
      const std::string cid = "k" + std::to_string(i);
      a->send(R"({"id":)" + std::to_string(1000 + i) + R"(,"op":"send","to":"bob","cid":")" +
              cid + R"(","body":")" + cid + "\"}");
      if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::map<std::string, int64_t> acked;
  auto kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(2000);
  while (std::chrono::steady_clock::now() < kill_at) {
    auto f = a->recv(100);
    if (f && is_ok(*f)) acked[json_str(*f, "cid")] = json_int(*f, "seq");
  }
  EXPECT_EQ(server_.stop(SIGKILL), 128 + SIGKILL);
  writer.join();
  for (;;) {
    auto f = a->recv(200);
    if (!f) break;
    if (is_ok(*f)) acked[json_str(*f, "cid")] = json_int(*f, "seq");
  }
  ASSERT_FALSE(acked.empty());
  ASSERT_TRUE(server_.start(binary_, args_)) << server_.log();
  int64_t top = 0;
  for (auto& [cid, seq] : acked) top = std::max(top, seq);

  auto b = logged_in("bob");
  std::map<int64_t, std::string> got;
  int64_t first = -1, prev = -1;
  for (;;) {
    std::string m = b->next("msg", 1500);
    if (m.empty()) break;
    int64_t seq = json_int(m, "seq");
    if (first < 0) first = seq;
    ASSERT_TRUE(prev < 0 || seq == prev + 1) << "gap or repeat after " << prev << ": " << seq;
    prev = seq;
    got[seq] = json_str(m, "cid");
  }
  ASSERT_GE(prev, top);
  std::printf("retention crash: floor %lld, head %lld, acked %zu\n", static_cast<long long>(first),
              static_cast<long long>(prev), acked.size());
  EXPECT_LE(first, top - 49) << "the newest retention_count must be kept";
  EXPECT_GT(first, 120) << "no sweep ran during the sends";
  for (auto& [cid, seq] : acked) {
    if (seq >= first) {
      EXPECT_EQ(got[seq], cid) << seq;
    }
  }
  auto a2 = logged_in("alice", "again");
  for (auto& [cid, seq] : acked) {
    std::string r = a2->send_to("bob", cid, cid);
    ASSERT_TRUE(is_ok(r)) << r;
    EXPECT_EQ(json_int(r, "seq"), seq) << cid;  // deduped, even when trimmed meanwhile
  }
  EXPECT_EQ(json_int(a2->send_to("bob", "fresh", "x"), "seq"), prev + 1);
}

// Logins handed off between shards (each user owned by one of the two shards, connections
// accepted on either), every one with a send pipelined behind it, while the server is killed.
class LoginCrashTest : public ChatTest {};

INSTANTIATE_TEST_SUITE_P(Transports, LoginCrashTest, ::testing::Values(false),
                         [](const auto& info) { return info.param ? "WebSocket" : "Tcp"; });

TEST_P(LoginCrashTest, CrashDuringLoginHandOffsLosesNothingAcknowledged) {
  const int kUsers = 12;
  register_user("alice");
  for (int u = 0; u < kUsers; ++u) register_user("u" + std::to_string(u));
  std::mutex mu;
  std::map<std::string, std::pair<std::string, int64_t>> acked;  // cid -> (user, seq)
  std::atomic<bool> stop{false};
  std::atomic<int> next{0};
  auto worker = [&] {
    while (!stop.load()) {
      int i = next.fetch_add(1);
      std::string user = "u" + std::to_string(i % kUsers);
      std::string cid = "h" + std::to_string(i);
      TcpClient c;
      if (!c.connect(tcp_port())) return;
      c.send_raw(tcp_frame(R"({"op":"login","id":1,"user":")" + user +
                           R"(","password":"secret1","device":"d)" + std::to_string(i) + "\"}") +
                 tcp_frame(R"({"op":"send","id":2,"to":"alice","cid":")" + cid +
                           R"(","body":")" + cid + "\"}"));
      for (int k = 0; k < 2; ++k) {
        auto f = c.recv(2000);
        if (!f) return;  // the server is gone
        if (json_int(*f, "id") == 2 && is_ok(*f)) {
          std::lock_guard lock(mu);
          acked[cid] = {user, json_int(*f, "seq")};
        }
      }
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) workers.emplace_back(worker);
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mu);
      if (acked.size() >= 80) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server_.stop(SIGKILL), 128 + SIGKILL);
  stop = true;
  for (auto& t : workers) t.join();
  ASSERT_GE(acked.size(), 80u);
  ASSERT_TRUE(server_.start(binary_, args_)) << server_.log();

  // alice gets every acknowledged message once, with its seq; no cid twice.
  auto a = logged_in("alice");
  std::map<std::string, int64_t> seen;  // "user/cid" -> seq
  for (;;) {
    std::string m = a->next("msg", 1500);
    if (m.empty()) break;
    std::string key = json_str(m, "from") + "/" + json_str(m, "cid");
    EXPECT_TRUE(seen.emplace(key, json_int(m, "seq")).second) << "duplicate " << key;
  }
  for (auto& [cid, who] : acked) {
    auto it = seen.find(who.first + "/" + cid);
    ASSERT_NE(it, seen.end()) << "lost " << cid;
    EXPECT_EQ(it->second, who.second) << cid;
  }
  // Every user logs in again with a device it used, and a resend is deduped.
  for (auto& [cid, who] : acked) {
    auto c = logged_in(who.first, "d" + cid.substr(1));
    std::string r = c->send_to("alice", cid, cid);
    ASSERT_TRUE(is_ok(r)) << r;
    EXPECT_EQ(json_int(r, "seq"), who.second) << cid;
    break;  // one is enough for the device path; the dedupe of all is below
  }
  std::map<std::string, std::unique_ptr<Chat>> by_user;
  for (auto& [cid, who] : acked) {
    auto& c = by_user[who.first];
    if (!c) c = logged_in(who.first, "check");
    std::string r = c->send_to("alice", cid, cid);
    ASSERT_TRUE(is_ok(r)) << r;
    EXPECT_EQ(json_int(r, "seq"), who.second) << cid;
  }
}

}  // namespace
}  // namespace parley::test
