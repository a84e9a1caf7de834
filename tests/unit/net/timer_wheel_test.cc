#include "parley/net/timer_wheel.h"

#include <gtest/gtest.h>

#include <vector>

#include "parley/util/clock.h"

namespace parley::net {
namespace {

struct Entry {
  WheelHook hook;
  uint64_t deadline = 0;
  int expired = 0;
};

class TimerWheelTest : public ::testing::Test {
 protected:
  TimerWheelTest()
      : wheel_(clock_.now_ms(), 100, 16,
               [](WheelHook* h) { return static_cast<Entry*>(h->owner)->deadline; },
               [this](WheelHook* h) {
                 ++static_cast<Entry*>(h->owner)->expired;
                 ++expired_;
               }) {}
  Entry& make(uint64_t deadline) {
    entries_.push_back(std::make_unique<Entry>());
    Entry& e = *entries_.back();
    e.hook.owner = &e;
    e.deadline = deadline;
    wheel_.arm(&e.hook, deadline);
    return e;
  }
  ManualClock clock_;
  TimerWheel wheel_;
  std::vector<std::unique_ptr<Entry>> entries_;
  int expired_ = 0;
};

TEST_F(TimerWheelTest, ExpiresAtDeadlineNotBefore) {
  Entry& e = make(clock_.now_ms() + 1000);
  clock_.advance(900);
  wheel_.advance(clock_.now_ms());
  EXPECT_EQ(e.expired, 0);
  clock_.advance(200);
  wheel_.advance(clock_.now_ms());
  EXPECT_EQ(e.expired, 1);
  EXPECT_EQ(wheel_.size(), 0u);
}

TEST_F(TimerWheelTest, ActivityPushesTheDeadlineLazily) {
  Entry& e = make(clock_.now_ms() + 500);
  for (int i = 0; i < 20; ++i) {
    clock_.advance(300);
    e.deadline = clock_.now_ms() + 500;  // what a read does: no relinking
    wheel_.advance(clock_.now_ms());
    ASSERT_EQ(e.expired, 0) << i;
  }
  clock_.advance(700);
  wheel_.advance(clock_.now_ms());
  EXPECT_EQ(e.expired, 1);
}

TEST_F(TimerWheelTest, FarDeadlinesBeyondOneRevolution) {
  Entry& e = make(clock_.now_ms() + 10'000);  // 16 slots x 100 ms = 1.6 s per revolution
  for (int i = 0; i < 99; ++i) {
    clock_.advance(100);
    wheel_.advance(clock_.now_ms());
  }
  EXPECT_EQ(e.expired, 0);
  clock_.advance(200);
  wheel_.advance(clock_.now_ms());
  EXPECT_EQ(e.expired, 1);
}

TEST_F(TimerWheelTest, EarlierArmRefilesAndDisarmRemoves) {
  Entry& a = make(clock_.now_ms() + 5000);
  a.deadline = clock_.now_ms() + 200;
  wheel_.arm(&a.hook, a.deadline);
  Entry& b = make(clock_.now_ms() + 300);
  wheel_.disarm(&b.hook);
  clock_.advance(400);
  wheel_.advance(clock_.now_ms());
  EXPECT_EQ(a.expired, 1);
  EXPECT_EQ(b.expired, 0);
}

TEST_F(TimerWheelTest, ZeroDeadlineDropsAndBigJumpsWork) {
  Entry& a = make(clock_.now_ms() + 100);
  a.deadline = 0;
  for (int i = 0; i < 100; ++i) make(clock_.now_ms() + 100 + i * 37);
  clock_.advance(60'000);
  EXPECT_EQ(wheel_.advance(clock_.now_ms()), 100u);
  EXPECT_EQ(a.expired, 0);
  EXPECT_EQ(wheel_.size(), 0u);
}

}  // namespace
}  // namespace parley::net
