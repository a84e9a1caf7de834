#include "parley/shard/spsc_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace parley::shard {
namespace {

std::vector<int> drain_all(SpscRing<int>& r, size_t max = SIZE_MAX) {
  std::vector<int> out;
  r.drain([&](int&& v) { out.push_back(v); }, max);
  return out;
}

TEST(SpscRingTest, CapacityIsRoundedToPowerOfTwo) {
  EXPECT_EQ(SpscRing<int>(8).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(5).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(1).capacity(), 1u);
  EXPECT_EQ(SpscRing<int>(0).capacity(), 1u);
  EXPECT_EQ(SpscRing<int>(4096).capacity(), 4096u);
}

TEST(SpscRingTest, FullAndEmpty) {
  SpscRing<int> r(4);
  EXPECT_TRUE(r.empty_approx());
  for (int i = 0; i < 4; ++i) {
    int v = i;
    EXPECT_TRUE(r.try_push(std::move(v)));
  }
  int extra = 99;
  EXPECT_FALSE(r.try_push(std::move(extra)));
  EXPECT_EQ(extra, 99);
  r.publish();
  EXPECT_EQ(r.size_approx(), 4u);
  EXPECT_FALSE(r.empty_approx());
  EXPECT_EQ(drain_all(r), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(r.empty_approx());
  EXPECT_EQ(drain_all(r), std::vector<int>{});
  EXPECT_TRUE(r.try_push(std::move(extra)));
}

TEST(SpscRingTest, FailedPushLeavesValueUntouched) {
  SpscRing<std::unique_ptr<int>> r(1);
  EXPECT_TRUE(r.try_push(std::make_unique<int>(1)));
  auto p = std::make_unique<int>(2);
  EXPECT_FALSE(r.try_push(std::move(p)));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 2);
}

TEST(SpscRingTest, ItemsInvisibleUntilPublish) {
  SpscRing<int> r(8);
  int a = 1, b = 2;
  r.try_push(std::move(a));
  r.try_push(std::move(b));
  EXPECT_EQ(r.unpublished(), 2u);
  EXPECT_TRUE(r.empty_approx());
  EXPECT_EQ(drain_all(r), std::vector<int>{});
  r.publish();
  EXPECT_EQ(r.unpublished(), 0u);
  int c = 3;
  r.try_push(std::move(c));  // pushed after publish: still private
  EXPECT_EQ(drain_all(r), (std::vector<int>{1, 2}));
  EXPECT_EQ(drain_all(r), std::vector<int>{});
  r.publish();
  EXPECT_EQ(drain_all(r), std::vector<int>{3});
}

TEST(SpscRingTest, WrapAround) {
  SpscRing<int> r(4);
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 100; ++round) {
    int n = 1 + round % 4;
    for (int i = 0; i < n; ++i) {
      int v = next_in++;
      ASSERT_TRUE(r.try_push(std::move(v)));
    }
    r.publish();
    for (int v : drain_all(r)) EXPECT_EQ(v, next_out++);
  }
  EXPECT_EQ(next_in, next_out);
}

TEST(SpscRingTest, DrainRespectsMaxItems) {
  SpscRing<int> r(16);
  for (int i = 0; i < 10; ++i) {
    int v = i;
    r.try_push(std::move(v));
  }
  r.publish();
  EXPECT_EQ(drain_all(r, 3), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(r.size_approx(), 7u);
  EXPECT_EQ(drain_all(r, 0), std::vector<int>{});
  EXPECT_EQ(drain_all(r, 5), (std::vector<int>{3, 4, 5, 6, 7}));
  EXPECT_EQ(drain_all(r, 5), (std::vector<int>{8, 9}));
}

TEST(SpscRingTest, DrainedSlotsAreReusable) {
  SpscRing<int> r(2);
  int a = 1, b = 2, c = 3;
  r.try_push(std::move(a));
  r.try_push(std::move(b));
  EXPECT_FALSE(r.try_push(std::move(c)));
  r.publish();
  EXPECT_EQ(drain_all(r, 1), std::vector<int>{1});
  EXPECT_TRUE(r.try_push(std::move(c)));
}

struct Tracked {
  static inline int live = 0;
  explicit Tracked(int v) : value(v) { ++live; }
  Tracked(Tracked&& o) noexcept : value(o.value) { ++live; }
  ~Tracked() { --live; }
  int value;
};

TEST(SpscRingTest, DestroysItemsExactlyOnce) {
  Tracked::live = 0;
  {
    SpscRing<Tracked> r(8);
    for (int i = 0; i < 6; ++i) r.try_push(Tracked(i));
    EXPECT_EQ(Tracked::live, 6);
    r.publish();
    int seen = 0;
    r.drain([&](Tracked&& t) { seen += t.value; }, 2);
    EXPECT_EQ(seen, 1);
    EXPECT_EQ(Tracked::live, 4);
    r.try_push(Tracked(10));  // unpublished, still owned by the ring
    EXPECT_EQ(Tracked::live, 5);
  }
  EXPECT_EQ(Tracked::live, 0);
}

TEST(SpscRingTest, ConsumerMayMoveItemOut) {
  SpscRing<std::unique_ptr<int>> r(4);
  r.try_push(std::make_unique<int>(7));
  r.publish();
  std::unique_ptr<int> got;
  r.drain([&](std::unique_ptr<int>&& p) { got = std::move(p); }, 1);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, 7);
}

// A producer pushes 10 million sequence numbers, publishing after random batch sizes; the
// consumer checks strict order and that nothing is lost. Time-bounded so a slow machine (or a
// sanitizer) still finishes within a few seconds: both sides then stop at the same count.
TEST(SpscRingTest, TwoThreadStress) {
  constexpr uint64_t kTarget = 10'000'000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  SpscRing<uint64_t> r(1024);
  std::atomic<uint64_t> produced_total{0};
  std::atomic<bool> producer_done{false};
  uint64_t errors = 0, consumed = 0;

  std::thread consumer([&] {
    uint64_t expect = 0;
    for (;;) {
      bool done = producer_done.load(std::memory_order_acquire);
      size_t n = r.drain(
          [&](uint64_t&& v) {
            if (v != expect) ++errors;
            expect = v + 1;
          },
          1 + (expect % 300));
      consumed += n;
      if (n == 0) {
        if (done) break;
        std::this_thread::yield();
      }
    }
  });

  std::mt19937_64 rng(12345);
  uint64_t next = 0;
  while (next < kTarget) {
    if ((next & 0xffff) == 0 && std::chrono::steady_clock::now() > deadline) break;
    size_t batch = 1 + rng() % 200;
    for (size_t i = 0; i < batch && next < kTarget;) {
      uint64_t v = next;
      if (r.try_push(std::move(v))) {
        ++next;
        ++i;
      } else {
        r.publish();  // full: let the consumer see what is there
        std::this_thread::yield();
      }
    }
    r.publish();
  }
  produced_total.store(next);
  producer_done.store(true, std::memory_order_release);
  consumer.join();

  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(consumed, produced_total.load());
  EXPECT_GT(consumed, 100'000u);  // it really ran
  RecordProperty("items", std::to_string(consumed));
}

}  // namespace
}  // namespace parley::shard
