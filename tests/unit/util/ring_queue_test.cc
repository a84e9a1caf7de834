#include "parley/util/ring_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>
#include <string>

namespace parley::util {
namespace {

TEST(RingQueue, EmptyOwnsNothing) {
  RingQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity(), 0u);
}

TEST(RingQueue, KeepsOrderAcrossWrapAroundAndGrowth) {
  RingQueue<int> q;
  std::deque<int> model;
  std::mt19937 rng(7);
  int next = 0;
  for (int step = 0; step < 20000; ++step) {
    if (model.empty() || rng() % 3 != 0) {
      q.push_back(next);
      model.push_back(next++);
    } else {
      ASSERT_EQ(q.front(), model.front());
      q.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(q.size(), model.size());
    if (!model.empty()) {
      ASSERT_EQ(q.back(), model.back());
      size_t i = rng() % model.size();
      ASSERT_EQ(q[i], model[i]) << "step " << step;
    }
  }
}

TEST(RingQueue, BoundedUseStaysInItsBuffer) {
  RingQueue<int> q;
  for (int i = 0; i < 1000; ++i) {
    q.push_back(i);
    if (q.size() > 5) q.pop_front();
  }
  EXPECT_EQ(q.capacity(), 8u);
  EXPECT_EQ(q.front(), 995);  // the last five
  EXPECT_EQ(q.back(), 999);
}

struct Counted {
  static inline int alive = 0;
  explicit Counted(int v) : value(std::make_unique<int>(v)) { ++alive; }
  Counted(Counted&& o) noexcept : value(std::move(o.value)) { ++alive; }
  ~Counted() { --alive; }
  std::unique_ptr<int> value;  // move-only
};

TEST(RingQueue, ConstructsAndDestroysEachElementOnce) {
  {
    RingQueue<Counted> q;
    for (int i = 0; i < 37; ++i) q.emplace_back(i);
    for (int i = 0; i < 10; ++i) q.pop_front();
    EXPECT_EQ(Counted::alive, 27);
    EXPECT_EQ(*q.front().value, 10);
    RingQueue<Counted> moved(std::move(q));
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(Counted::alive, 27);
    EXPECT_EQ(*moved.back().value, 36);
    moved.clear();
    EXPECT_EQ(Counted::alive, 0);
    EXPECT_GT(moved.capacity(), 0u);
    moved.emplace_back(5);
    moved.release();
    EXPECT_EQ(moved.capacity(), 0u);
    for (int i = 0; i < 9; ++i) moved.emplace_back(i);
  }
  EXPECT_EQ(Counted::alive, 0);
}

}  // namespace
}  // namespace parley::util
