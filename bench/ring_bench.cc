// Cross-shard queue benchmarks: the SPSC ring alone (single thread, batches of 64) and the full
// hop through a ShardSet of 2 (post, publish at the tick, uv_async_send, drain, run).
// No BENCHMARK_MAIN here: the shared bench main is linked in.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>

#include "parley/shard/shard.h"
#include "parley/shard/spsc_ring.h"
#include "parley/util/task.h"

namespace parley::shard {
namespace {

constexpr int kBatch = 64;

// Push 64, publish once, drain 64: the per-item cost of the ring with batching.
void BM_RingPushDrain_U64(benchmark::State& state) {
  SpscRing<uint64_t> ring(4096);
  uint64_t sum = 0, v = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      uint64_t x = v++;
      ring.try_push(std::move(x));
    }
    ring.publish();
    ring.drain([&](uint64_t&& x) { sum += x; }, kBatch);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["time/op"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RingPushDrain_U64);

// The same with the real payload: a Task holding a small lambda (inline, no allocation).
void BM_RingPushDrain_Task(benchmark::State& state) {
  SpscRing<Task> ring(4096);
  uint64_t sum = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) ring.try_push(Task([&sum, i] { sum += i; }));
    ring.publish();
    ring.drain([](Task&& t) { t(); }, kBatch);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["time/op"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RingPushDrain_Task);

// Ping-pong between two shards: each iteration is 1000 round trips A->B->A started from the
// benchmark thread (through the control queue, amortized); reported per one-way hop.
constexpr int kRoundTrips = 1000;

struct PingPong {
  std::atomic<int> done{0};  // bumped by shard 0 when a chain of round trips ends

  // Runs on shard `s`; `left` round trips still to go.
  static void hop(PingPong& pp, Shard& s, int left) {
    if (s.id() == 0) {
      if (left == 0) {
        pp.done.fetch_add(1, std::memory_order_release);
        pp.done.notify_one();
        return;
      }
      s.post(1, [&pp, left] { hop(pp, *Shard::current(), left); });
    } else {
      s.post(0, [&pp, left] { hop(pp, *Shard::current(), left - 1); });
    }
  }
};

void BM_CrossShardHop(benchmark::State& state) {
  ShardSet set({.shards = 2});
  set.start(nullptr);
  PingPong pp;
  int expect = 0;
  for (auto _ : state) {
    set.broadcast_control([&pp](Shard& s) {
      if (s.id() == 0) PingPong::hop(pp, s, kRoundTrips);
    });
    ++expect;
    for (int seen = pp.done.load(std::memory_order_acquire); seen != expect;
         seen = pp.done.load(std::memory_order_acquire)) {
      pp.done.wait(seen, std::memory_order_acquire);
    }
  }
  set.stop();
  set.join();
  state.counters["time/hop"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kRoundTrips * 2,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CrossShardHop)->UseRealTime()->Unit(benchmark::kMillisecond);

// One-way stream: shard 0 posts tasks to shard 1 in bursts of `range(0)` per tick (each burst is
// a self-posted pump task), shard 1 counts them; reported per task.
void BM_CrossShardStream(benchmark::State& state) {
  constexpr int kTasks = 200'000;
  const int burst = static_cast<int>(state.range(0));
  ShardSet set({.shards = 2});
  set.start(nullptr);
  std::atomic<int> done{0};
  struct Pump {
    static void run(Shard& s, int sent, int burst, std::atomic<int>& done) {
      for (int i = 0; i < burst && sent < kTasks; ++i, ++sent) {
        bool last = sent == kTasks - 1;
        s.post(1, [last, &done] {
          if (last) {
            done.fetch_add(1, std::memory_order_release);
            done.notify_one();
          }
        });
      }
      if (sent < kTasks) s.post(0, [&s, sent, burst, &done] { run(s, sent, burst, done); });
    }
  };
  int expect = 0;
  for (auto _ : state) {
    set.broadcast_control([&](Shard& s) {
      if (s.id() == 0) Pump::run(s, 0, burst, done);
    });
    ++expect;
    for (int seen = done.load(std::memory_order_acquire); seen != expect;
         seen = done.load(std::memory_order_acquire)) {
      done.wait(seen, std::memory_order_acquire);
    }
  }
  set.stop();
  set.join();
  state.SetItemsProcessed(state.iterations() * kTasks);
  state.counters["time/task"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kTasks,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CrossShardStream)->Arg(64)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace parley::shard
