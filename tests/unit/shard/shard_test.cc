#include "parley/shard/shard.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace parley::shard {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kPerPair = 100'000;  // tasks per (from, to) pair

// Polls `done` until true or `timeout`; returns done().
template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout = 20s) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Counts live captures so tests can check that every task is destroyed exactly once.
struct Counted {
  static inline std::atomic<int> live{0};
  Counted() { ++live; }
  Counted(const Counted&) { ++live; }
  Counted(Counted&&) noexcept { ++live; }
  ~Counted() { --live; }
};

TEST(ShardTest, CurrentIsNullOffShardThreads) { EXPECT_EQ(Shard::current(), nullptr); }

TEST(ShardTest, InitRunsOnEachShardThreadWithItsName) {
  ShardSet set({.shards = 3});
  std::vector<int> seen(3, -1);  // slot k written only by shard k
  std::vector<std::string> names(3);
  std::atomic<int> ready{0};
  set.start([&](Shard& s) {
    EXPECT_EQ(Shard::current(), &s);
    EXPECT_TRUE(s.is_current());
    EXPECT_EQ(&s.set(), &set);
    seen[s.id()] = s.id();
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    names[s.id()] = name;
    ++ready;
  });
  ASSERT_TRUE(wait_until([&] { return ready == 3; }));
  set.stop();
  set.join();
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(seen[k], k);
    EXPECT_EQ(names[k], "shard-" + std::to_string(k));
  }
}

// Every shard streams kPerPair tasks to every shard (itself included) in chunks posted by a
// self-reposting pump; each destination checks the sequence per source is 0, 1, 2, ...
class ShardPairsTest : public ::testing::TestWithParam<int> {};

TEST_P(ShardPairsTest, PostBetweenAllPairsPreservesOrder) {
  const int n = GetParam();
  ShardSet set({.shards = n, .ring_capacity = 1024});
  // next[to][from]: the sequence `to` expects next from `from`; touched only on `to`'s thread.
  std::vector<std::vector<int>> next(n, std::vector<int>(n, 0));
  std::vector<std::vector<int>> errors(n, std::vector<int>(n, 0));
  std::atomic<int64_t> received{0};
  const int64_t total = int64_t{n} * n * kPerPair;

  struct Pump {
    static void run(Shard& s, int sent, std::vector<std::vector<int>>& next,
                    std::vector<std::vector<int>>& errors, std::atomic<int64_t>& received) {
      const int from = s.id();
      const int chunk = 1000;
      for (int to = 0; to < s.set().size(); ++to) {
        for (int i = 0; i < chunk && sent + i < kPerPair; ++i) {
          int seq = sent + i;
          s.post(to, [from, to, seq, &next, &errors, &received] {
            Shard* here = Shard::current();
            if (here == nullptr || here->id() != to) ++errors[to][from];
            if (next[to][from] != seq) ++errors[to][from];
            next[to][from] = seq + 1;
            received.fetch_add(1, std::memory_order_relaxed);
          });
        }
      }
      sent += chunk;
      if (sent < kPerPair) {
        s.post(s.id(),
               [&s, sent, &next, &errors, &received] { run(s, sent, next, errors, received); });
      }
    }
  };

  set.start([&](Shard& s) { Pump::run(s, 0, next, errors, received); });
  ASSERT_TRUE(wait_until([&] { return received.load() == total; }))
      << received.load() << " of " << total;
  set.stop();
  set.join();

  uint64_t posted = 0, got = 0;
  for (int to = 0; to < n; ++to) {
    for (int from = 0; from < n; ++from) {
      EXPECT_EQ(errors[to][from], 0) << from << "->" << to;
      EXPECT_EQ(next[to][from], kPerPair) << from << "->" << to;
    }
    posted += set.shard(to).stats().posted;
    got += set.shard(to).stats().received;
    EXPECT_GT(set.shard(to).stats().batches_drained, 0u);
    EXPECT_GT(set.shard(to).stats().wakeups_sent, 0u);
    EXPECT_EQ(set.shard(to).stats().overflow, 0u);
  }
  EXPECT_EQ(posted, got);  // pumps included: everything posted was run
}

INSTANTIATE_TEST_SUITE_P(Shards, ShardPairsTest, ::testing::Values(2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "shards"; });

TEST(ShardTest, AskRoundTrip) {
  ShardSet set({.shards = 2});
  std::atomic<int> replies{0};
  std::string answer;  // written on shard 0
  int answered_on = -1, asked_on = -1, void_reply_on = -1;
  set.start([&](Shard& s) {
    if (s.id() != 0) return;
    s.ask(
        1,
        [&asked_on] {
          asked_on = Shard::current()->id();
          return std::string("from shard ") + std::to_string(Shard::current()->id());
        },
        [&](std::string result) {
          answer = std::move(result);
          answered_on = Shard::current()->id();
          ++replies;
        });
    s.ask(
        1, [] {},
        [&] {
          void_reply_on = Shard::current()->id();
          ++replies;
        });
  });
  ASSERT_TRUE(wait_until([&] { return replies == 2; }));
  set.stop();
  set.join();
  EXPECT_EQ(asked_on, 1);
  EXPECT_EQ(answer, "from shard 1");
  EXPECT_EQ(answered_on, 0);
  EXPECT_EQ(void_reply_on, 0);
}

TEST(ShardTest, AskCarriesMoveOnlyValues) {
  ShardSet set({.shards = 2});
  std::atomic<int> got{0};
  set.start([&](Shard& s) {
    if (s.id() != 1) return;
    auto input = std::make_unique<int>(20);
    s.ask(
        0, [input = std::move(input)] { return std::make_unique<int>(*input + 1); },
        [&got, guard = std::make_unique<int>(1)](std::unique_ptr<int> r) { got = *r + *guard; });
  });
  ASSERT_TRUE(wait_until([&] { return got != 0; }));
  set.stop();
  set.join();
  EXPECT_EQ(got, 22);
}

// ring_capacity 8 and 10,000 tasks posted in one tick: 9,992 wait in overflow; the shard is
// congested until the consumer catches up; everything still runs, in order.
struct OverflowCase {
  int from, to;
};
class ShardOverflowTest : public ::testing::TestWithParam<OverflowCase> {};

TEST_P(ShardOverflowTest, OverflowDrainsInOrderAndDecongests) {
  const auto [from, to] = GetParam();
  constexpr int kTasks = 10'000;
  ShardSet set({.shards = 2, .ring_capacity = 8, .drain_batch = 256, .congestion_threshold = 100});
  std::vector<int> order;  // on `to`
  order.reserve(kTasks);
  std::atomic<int> ran{0};
  std::atomic<bool> decongested{false};
  bool congested_after_posting = false, congested_in_callback = true;
  uint64_t ring_full = 0;
  size_t overflow_after_posting = 0;

  set.start([&](Shard& s) {
    if (s.id() != from) return;
    for (int i = 0; i < kTasks; ++i) {
      s.post(to, [i, &order, &ran] {
        order.push_back(i);
        ran.fetch_add(1, std::memory_order_release);
      });
    }
    congested_after_posting = s.congested();
    ring_full = s.stats().ring_full;
    overflow_after_posting = s.stats().overflow;
    s.on_decongested([&s, &decongested, &congested_in_callback] {
      EXPECT_TRUE(s.is_current());
      congested_in_callback = s.congested();
      decongested = true;
    });
  });
  ASSERT_TRUE(wait_until([&] { return ran.load(std::memory_order_acquire) == kTasks; }));
  ASSERT_TRUE(wait_until([&] { return decongested.load(); }));
  set.stop();
  set.join();

  EXPECT_TRUE(congested_after_posting);
  EXPECT_FALSE(congested_in_callback);
  EXPECT_EQ(ring_full, static_cast<uint64_t>(kTasks - 8));
  EXPECT_EQ(overflow_after_posting, static_cast<size_t>(kTasks - 8));
  ASSERT_EQ(order.size(), static_cast<size_t>(kTasks));
  for (int i = 0; i < kTasks; ++i) ASSERT_EQ(order[i], i);
  EXPECT_EQ(set.shard(from).stats().overflow, 0u);
  EXPECT_FALSE(set.shard(from).congested());
}

INSTANTIATE_TEST_SUITE_P(Pairs, ShardOverflowTest,
                         ::testing::Values(OverflowCase{0, 1}, OverflowCase{0, 0}),
                         [](const auto& info) {
                           return std::to_string(info.param.from) + "to" +
                                  std::to_string(info.param.to);
                         });

TEST(ShardTest, DecongestedCallbackWhileNotCongestedRunsSoon) {
  ShardSet set({.shards = 1});
  std::atomic<bool> ran{false};
  set.start([&](Shard& s) {
    EXPECT_FALSE(s.congested());
    s.on_decongested([&] { ran = true; });
  });
  EXPECT_TRUE(wait_until([&] { return ran.load(); }));
  set.stop();
  set.join();
}

// A small drain_batch forces the wake-up callback to re-arm itself; nothing may be stranded.
TEST(ShardTest, SmallDrainBatchReArmsUntilEmpty) {
  ShardSet set({.shards = 2, .ring_capacity = 4096, .drain_batch = 4});
  std::atomic<int> ran{0};
  set.start([&](Shard& s) {
    if (s.id() != 0) return;
    for (int i = 0; i < 1000; ++i) s.post(1, [&ran] { ++ran; });
  });
  ASSERT_TRUE(wait_until([&] { return ran == 1000; }));
  set.stop();
  set.join();
  EXPECT_GE(set.shard(1).stats().batches_drained, 250u);
  EXPECT_EQ(set.shard(0).stats().ring_full, 0u);
}

TEST(ShardTest, TickHooksRunOnTheirShardInOrder) {
  ShardSet set({.shards = 2});
  std::vector<std::vector<int>> calls(2);  // calls[k]: hook ids in call order, on shard k
  std::atomic<int> wrong_thread{0};
  std::atomic<int> ticks0{0}, ticks1{0};
  set.start([&](Shard& s) {
    for (int h = 0; h < 3; ++h) {
      s.add_tick_hook([&s, &calls, &wrong_thread, &ticks0, &ticks1, h] {
        if (!s.is_current()) ++wrong_thread;
        if (calls[s.id()].size() < 30) calls[s.id()].push_back(h);
        if (h == 2) ++(s.id() == 0 ? ticks0 : ticks1);
      });
    }
  });
  ASSERT_TRUE(wait_until([&] { return ticks0 > 0 && ticks1 > 0; }));
  set.stop();
  set.join();
  EXPECT_EQ(wrong_thread, 0);
  for (auto& c : calls) {
    ASSERT_GE(c.size(), 3u);
    for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i], static_cast<int>(i % 3));
  }
}

// A task posted from a tick hook is published and woken in the same tick: with both loops idle,
// it must still arrive.
TEST(ShardTest, TaskPostedFromTickHookIsDeliveredWithoutOtherActivity) {
  ShardSet set({.shards = 2});
  std::atomic<bool> arrived{false};
  bool want_post = false;  // shard 0 only
  set.start([&](Shard& s) {
    if (s.id() != 0) return;
    s.add_tick_hook([&s, &want_post, &arrived] {
      if (!want_post) return;
      want_post = false;
      s.post(1, [&arrived] { arrived = Shard::current()->id() == 1; });
    });
  });
  std::this_thread::sleep_for(50ms);  // let both loops go idle in poll
  set.broadcast_control([&](Shard& s) {
    if (s.id() == 0) want_post = true;
  });
  EXPECT_TRUE(wait_until([&] { return arrived.load(); }, 2s));
  set.stop();
  set.join();
}

TEST(ShardTest, BroadcastControlFromMainThread) {
  ShardSet set({.shards = 4});
  set.start(nullptr);
  std::atomic<int> mask{0};
  std::atomic<int> wrong{0};
  set.broadcast_control([&](Shard& s) {
    if (Shard::current() != &s) ++wrong;
    mask.fetch_or(1 << s.id());
  });
  EXPECT_TRUE(wait_until([&] { return mask == 0xf; }));
  EXPECT_EQ(wrong, 0);
  // Control may post; the post is delivered like any other.
  std::atomic<int> pongs{0};
  set.broadcast_control([&](Shard& s) { s.post((s.id() + 1) % 4, [&pongs] { ++pongs; }); });
  EXPECT_TRUE(wait_until([&] { return pongs == 4; }));
  set.stop();
  set.join();
}

TEST(ShardTest, StopJoinIdleIsPrompt) {
  ShardSet set({.shards = 4});
  std::atomic<int> ready{0}, stop_hooks{0}, exit_hooks{0};
  set.start([&](Shard& s) {
    s.set().on_stop(s, [&s, &stop_hooks] {
      EXPECT_TRUE(s.is_current());
      ++stop_hooks;
    });
    s.add_exit_hook([&s, &exit_hooks] {
      EXPECT_TRUE(s.is_current());
      ++exit_hooks;
    });
    ++ready;
  });
  ASSERT_TRUE(wait_until([&] { return ready == 4; }));
  auto t0 = Clock::now();
  set.stop();
  set.join();
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(stop_hooks, 4);
  EXPECT_EQ(exit_hooks, 4);
}

TEST(ShardTest, StopBeforeStartAndDestroyWithoutStart) {
  { ShardSet never_started({.shards = 2}); }
  ShardSet set({.shards = 2});
  set.stop();
  auto t0 = Clock::now();
  set.start(nullptr);
  set.join();
  EXPECT_LT(Clock::now() - t0, 1s);
}

// Shards busy with an endless ping-pong and a flood of pending tasks still stop promptly; the
// tasks that never ran are destroyed (exactly once) with the ShardSet.
TEST(ShardTest, StopJoinWithPendingTasksIsPromptAndLeakFree) {
  Counted::live = 0;
  {
    ShardSet set({.shards = 2, .ring_capacity = 64});
    std::atomic<int64_t> hops{0};
    struct PingPong {
      static void hop(Shard& s, std::atomic<int64_t>& hops, Counted c) {
        ++hops;
        Shard& other = s.set().shard(1 - s.id());
        s.post(other.id(), [&other, &hops, c] { hop(other, hops, c); });
      }
    };
    set.start([&](Shard& s) {
      if (s.id() == 0) PingPong::hop(s, hops, Counted());
      for (int i = 0; i < 5000; ++i) s.post(1 - s.id(), [c = Counted()] {});
    });
    ASSERT_TRUE(wait_until([&] { return hops > 1000; }));
    auto t0 = Clock::now();
    set.stop();
    set.join();
    EXPECT_LT(Clock::now() - t0, 1s);
  }
  EXPECT_EQ(Counted::live, 0);
}

// Referenced handles closed by their owner's stop hook end the loop promptly; a handle nobody
// closes is closed by force after the grace period.
TEST(ShardTest, StopWaitsForOwnersHandlesThenGracePeriod) {
  ShardSet set({.shards = 2});
  std::atomic<int> ready{0};
  std::vector<uv_timer_t> timers(2);
  set.start([&](Shard& s) {
    uv_timer_t* t = &timers[s.id()];
    uv_timer_init(s.loop(), t);
    uv_timer_start(
        t, [](uv_timer_t*) {}, 1000, 1000);  // referenced: keeps the loop alive
    if (s.id() == 0) {
      s.add_stop_hook([t] { uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr); });
    }
    ++ready;
  });
  ASSERT_TRUE(wait_until([&] { return ready == 2; }));
  auto t0 = Clock::now();
  set.stop();
  set.join();
  auto took = Clock::now() - t0;
  EXPECT_GE(took, 1900ms);  // shard 1's timer was left open
  EXPECT_LT(took, 3500ms);
}

// After stop() the rings keep working for as long as the shards' loops still run (their owners
// are closing handles): here shard 0 closes its "connection" only after a round trip to shard 1,
// which is itself still closing one of its own.
TEST(ShardTest, TasksKeepFlowingDuringGracefulStop) {
  ShardSet set({.shards = 2});
  std::atomic<bool> ack{false};
  std::atomic<int> ready{0};
  uv_timer_t linger0, linger1;  // stand-ins for connections that take a while to close
  set.start([&](Shard& s) {
    if (s.id() == 0) {
      uv_timer_init(s.loop(), &linger0);
      uv_timer_start(
          &linger0, [](uv_timer_t*) {}, 10'000, 0);
      s.add_stop_hook([&s, &linger0, &ack] {
        s.ask(
            1, [] { return Shard::current()->id(); },
            [&linger0, &ack](int answered_by) {
              ack = answered_by == 1;
              uv_close(reinterpret_cast<uv_handle_t*>(&linger0), nullptr);
            });
      });
    } else {
      // Closes 100 ms after stop, like a connection waiting for the peer's close frame.
      uv_timer_init(s.loop(), &linger1);
      uv_timer_start(
          &linger1, [](uv_timer_t*) {}, 10'000, 0);
      s.add_stop_hook([&linger1] {
        uv_timer_start(
            &linger1, [](uv_timer_t* t) { uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr); },
            100, 0);
      });
    }
    ++ready;
  });
  ASSERT_TRUE(wait_until([&] { return ready == 2; }));
  auto t0 = Clock::now();
  set.stop();
  set.join();
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(ack);
}

}  // namespace
}  // namespace parley::shard
