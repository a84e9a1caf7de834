// The delivery pump's state machine against a fake store and a fake connection: order, the
// tail cache / store boundary, the output limit and resuming, own messages, retention gaps,
// read errors, and live messages arriving while a backlog is being sent.
#include "chat/pump.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace parley::chat {
namespace {

std::string frame_of(uint64_t seq) { return "m" + std::to_string(seq); }

class FakeStore final : public FrameSource {
 public:
  void put(uint64_t seq) { frames[seq] = frame_of(seq); }
  bool read(const store::ConvId&, uint64_t from, uint64_t to,
            const std::function<bool(uint64_t, std::string_view)>& fn) override {
    ++reads;
    if (fail) return false;
    for (auto it = frames.lower_bound(from); it != frames.end() && it->first <= to; ++it) {
      if (!fn(it->first, it->second)) break;
    }
    return true;
  }
  std::map<uint64_t, std::string> frames;
  int reads = 0;
  bool fail = false;
};

class FakeConn final : public FrameSink {
 public:
  explicit FakeConn(size_t room) : room_(room) {}
  bool has_room() const override { return got.size() < room_; }
  bool send(std::string_view frame) override {
    got.emplace_back(frame);
    return has_room();
  }
  void drain(size_t more) { room_ = got.size() + more; }
  std::vector<std::string> got;

 private:
  size_t room_;
};

class PumpTest : public ::testing::Test {
 protected:
  void SetUp() override { ref.id = store::ConvId::pair(1, 2); }
  // Messages 1..n stored; the newest `cached` of them also in the tail cache.
  void append(uint64_t n, size_t cached) {
    for (uint64_t s = ref.head + 1; s <= n; ++s) {
      store.put(s);
      ref.tail.emplace_back(s, std::make_shared<const std::string>(frame_of(s)));
    }
    while (ref.tail.size() > cached) ref.tail.pop_front();
    ref.head = n;
  }
  PumpResult run(FakeConn& conn) { return pump_conversation(ref, p, store, conn, counters); }
  static std::vector<std::string> seqs(uint64_t from, uint64_t to) {
    std::vector<std::string> v;
    for (uint64_t s = from; s <= to; ++s) v.push_back(frame_of(s));
    return v;
  }

  ConvRef ref;
  ConvPump p;
  FakeStore store;
  PumpCounters counters;
};

TEST_F(PumpTest, BacklogFromStoreThenTailInOrder) {
  append(10, 3);  // 1..7 only in the store, 8..10 also cached
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(1, 10));
  EXPECT_EQ(p.sent, 10u);
  EXPECT_EQ(store.reads, 1);  // one scan for 1..7; the cached ones come from memory
  EXPECT_EQ(counters.sent, 10u);
}

TEST_F(PumpTest, StopsAtTheLimitAndResumesExactlyWhereItStopped) {
  append(10, 4);
  FakeConn conn(3);
  EXPECT_EQ(run(conn), PumpResult::kNoRoom);
  EXPECT_EQ(conn.got, seqs(1, 3));
  EXPECT_EQ(run(conn), PumpResult::kNoRoom);  // still full: nothing more, nothing repeated
  EXPECT_EQ(conn.got.size(), 3u);
  conn.drain(5);
  EXPECT_EQ(run(conn), PumpResult::kNoRoom);
  EXPECT_EQ(conn.got, seqs(1, 8));
  conn.drain(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(1, 10));
}

TEST_F(PumpTest, LiveMessagesArrivingDuringTheBacklogFollowWithoutGapOrDuplicate) {
  append(50, 8);
  FakeConn conn(20);
  EXPECT_EQ(run(conn), PumpResult::kNoRoom);
  append(60, 8);  // live messages land in the tail cache while the backlog is half sent
  conn.drain(15);
  EXPECT_EQ(run(conn), PumpResult::kNoRoom);
  append(75, 8);
  conn.drain(1000);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(1, 75));
}

TEST_F(PumpTest, OwnMessagesAreSkippedButCounted) {
  append(6, 6);
  p.skip = {2, 5};
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, (std::vector<std::string>{"m1", "m3", "m4", "m6"}));
  EXPECT_EQ(counters.skipped, 2u);
  EXPECT_TRUE(p.skip.empty());
  EXPECT_EQ(p.sent, 6u);
}

TEST_F(PumpTest, StaleSkipsBehindTheCursorAreForgotten) {
  append(6, 6);
  p.sent = 4;
  p.skip = {1, 3, 6};
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, (std::vector<std::string>{"m5"}));
  EXPECT_TRUE(p.skip.empty());
}

TEST_F(PumpTest, TrimmedMessagesAreJumpedOver) {
  append(20, 2);
  for (uint64_t s = 1; s <= 12; ++s) store.frames.erase(s);  // retention took 1..12
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(13, 20));
}

TEST_F(PumpTest, FloorSkipsWhatRetentionRemovedEvenIfCached) {
  append(10, 10);
  ref.floor = 6;
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(7, 10));
}

TEST_F(PumpTest, EverythingBelowTheTailTrimmedStillReachesTheTail) {
  append(30, 5);
  store.frames.clear();  // nothing left in the store below the cache
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(26, 30));
}

TEST_F(PumpTest, ReadErrorSkipsNothing) {
  append(10, 2);
  store.fail = true;
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kReadError);
  EXPECT_TRUE(conn.got.empty());
  EXPECT_EQ(p.sent, 0u);
  store.fail = false;
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(1, 10));
}

TEST_F(PumpTest, StartsAfterTheCursorAndIsIdleWhenCaughtUp) {
  append(10, 3);
  p.sent = 7;
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(8, 10));
  int reads = store.reads;
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got.size(), 3u);
  EXPECT_EQ(store.reads, reads);
}

TEST_F(PumpTest, AHeadAheadOfTheTailCacheIsReadFromTheStore) {
  append(10, 4);  // cached 7..10
  for (uint64_t s = 11; s <= 15; ++s) store.put(s);
  ref.head = 15;  // the head moved on without the cache (e.g. refreshed from the store)
  FakeConn conn(100);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(1, 15));
}

TEST_F(PumpTest, FullAfterTheLastFrameIsCaughtUp) {
  append(3, 3);
  FakeConn conn(3);
  EXPECT_EQ(run(conn), PumpResult::kCaughtUp);
  EXPECT_EQ(conn.got, seqs(1, 3));
}

}  // namespace
}  // namespace parley::chat
