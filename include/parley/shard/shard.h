// The shard runtime: N threads, one libuv loop each, talking only through N*N bounded SPSC rings
// (ring[from][to]) of Tasks, woken with at most one uv_async_send per destination per loop tick.
// Modeled on Seastar's smp queues and Dragonfly's EngineShardSet helpers.
//
// A tick of shard k (libuv prepare phase, right before the loop polls):
//   1. overflow -> rings: tasks that found their ring full move in, in order, while they fit;
//   2. if no overflow queue is over the congestion threshold any more: on_decongested callbacks;
//   3. tick hooks (connection write flush, store group commit), in registration order;
//   4. per destination: overflow -> ring again, publish(), uv_async_send(dest) if anything new.
// Shard k's async callback drains ring[i][k] for every i, at most drain_batch tasks per ring per
// call, and re-arms itself when a ring still had items, so one busy producer cannot starve I/O.
//
// A full ring never blocks or drops: the task waits in the producer's per-destination overflow
// queue. The producer then raises the ring's "want space" flag and the consumer, after draining
// that ring, wakes the producer (uv_async_send) so its next tick moves the overflow in. This costs
// nothing while rings have room and does not spin while a consumer is slow (the alternative, an
// idle handle on the producer, would busy-poll its loop for as long as the consumer lags).
//
// Lifetime: ShardSet owns the shards, their loops and the rings. Tasks that have not run when
// their destination stops are destroyed unrun, by ~ShardSet, on the thread that destroys it.
#pragma once

#include <uv.h>

#include <atomic>
#include <cassert>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "parley/util/task.h"

namespace parley::shard {

class ShardSet;
namespace detail {
struct Lane;  // one ring[from][to] and its want-space flag (shard.cc)
}

struct ShardOptions {
  int shards = 1;                      // number of shard threads (>= 1)
  size_t ring_capacity = 4096;         // tasks per ring[from][to]; rounded up to a power of two
  size_t drain_batch = 256;            // tasks taken from one inbound ring per async callback
  size_t congestion_threshold = 4096;  // overflow tasks (per destination) that mean "congested"
};

// One shard = one thread running one uv_loop_t. State owned by a shard is touched only on its
// thread; unless noted, every method below must be called on this shard's thread.
class Shard {
 public:
  struct Stats {
    uint64_t posted = 0;           // tasks posted by this shard (to any shard, itself included)
    uint64_t received = 0;         // tasks run by this shard from its inbound rings
    uint64_t ring_full = 0;        // tasks that found their ring full and went to overflow
    uint64_t wakeups_sent = 0;     // uv_async_send for newly published rings + space wake-ups
    uint64_t batches_drained = 0;  // non-empty drains of an inbound ring
    size_t overflow = 0;           // tasks currently waiting in overflow queues
  };

  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // Any thread.
  int id() const { return id_; }
  uv_loop_t* loop() { return &loop_; }
  ShardSet& set() { return *set_; }

  // The shard whose thread is running, or nullptr off shard threads. Any thread.
  static Shard* current();
  bool is_current() const { return current() == this; }

  // Runs `fn` on shard `to`'s thread, later (never inline, not even when to == id()). Tasks from
  // this shard to one destination run in the order posted. Never blocks and never drops: when
  // the ring is full, `fn` waits in this shard's overflow queue for `to` (see congested()).
  // `fn` and its captures are destroyed on `to` after running (or unrun at shutdown, see top).
  void post(int to, Task fn);

  // Runs fn() on shard `to`, then reply(std::move(result)) back on this shard (reply() if fn
  // returns void). fn is destroyed on `to`; reply travels there and back untouched (only moved)
  // and is run and destroyed here. The result must be movable.
  template <typename Fn, typename Reply>
  void ask(int to, Fn fn, Reply reply);

  // True while any overflow queue of this shard holds more than congestion_threshold tasks:
  // producers of new cross-shard work (connections reading client input) should pause until
  // on_decongested fires. Cleared only at a tick.
  bool congested() const { return congested_; }
  // One-shot: `cb` runs on this shard at the first tick that finds it not congested (before the
  // tick hooks). Called while not congested, `cb` runs soon (on a later loop iteration).
  void on_decongested(Task cb);

  // `hook` runs at every tick, in registration order, before outbound rings are published. Call
  // on this thread (typically from ShardSet::start's init) or before start().
  void add_tick_hook(std::function<void()> hook);
  // `hook` runs once on this thread when the set is asked to stop: close listeners and
  // connections here. The loop ends once every referenced handle is closed (2 s grace, then
  // everything still open is closed by force).
  void add_stop_hook(std::function<void()> hook);
  // `hook` runs once on this thread after the loop has ended and every handle is closed, before
  // the thread exits: destroy per-shard objects here. Hooks run in reverse registration order.
  void add_exit_hook(std::function<void()> hook);

  const Stats& stats() const { return stats_; }

 private:
  friend class ShardSet;

  // Producer side of ring[id][to].
  struct Outbound {
    detail::Lane* lane = nullptr;
    Shard* dest = nullptr;
    std::deque<Task> overflow;  // tasks that did not fit, in order; moved in at each tick
  };

  Shard(ShardSet& set, int id, const ShardOptions& opts);
  void run_thread(const std::function<void(Shard&)>& init);
  void tick();
  void refill(Outbound& o);
  void refill_all();
  void flush_outbound();
  void drain_inbound();
  void run_control();
  void begin_stop();
  void close_everything();
  void update_congestion();
  void wake(Shard& dest);

  ShardSet* set_;
  const int id_;
  const ShardOptions opts_;
  uv_loop_t loop_;
  uv_async_t wake_;                // ring wake-ups; referenced until stop
  uv_async_t control_;             // control queue; unreferenced
  uv_prepare_t tick_;              // the end-of-iteration tick; unreferenced
  uv_timer_t grace_;               // the stop grace period; unreferenced
  std::vector<detail::Lane*> in_;  // ring[i][id] by i
  std::vector<Outbound> out_;      // ring[id][to] by to
  bool congested_ = false;
  bool stopping_ = false;
  std::vector<Task> decongested_;
  std::deque<std::function<void()>> tick_hooks_;  // deque: a hook may add hooks while running
  std::deque<std::function<void()>> stop_hooks_;
  std::vector<std::function<void()>> exit_hooks_;
  Stats stats_;

  // Control queue (cold path; the only state here behind a lock). Any thread.
  std::mutex control_mu_;
  std::vector<std::function<void(Shard&)>> control_queue_;
  bool stop_requested_ = false;
  bool control_closed_ = false;
};

// Owns N shards, their threads and loops, and the N*N rings.
class ShardSet {
 public:
  explicit ShardSet(ShardOptions opts);
  // Stops and joins the threads if still running, then destroys every task never run.
  ~ShardSet();
  ShardSet(const ShardSet&) = delete;
  ShardSet& operator=(const ShardSet&) = delete;

  // Any thread.
  int size() const { return static_cast<int>(shards_.size()); }
  Shard& shard(int k) { return *shards_[k]; }
  const ShardOptions& options() const { return opts_; }

  // Starts the threads (named "shard-K"); each runs init(shard) on its own thread before
  // entering its loop. Call once.
  void start(std::function<void(Shard&)> init);

  // Any thread (e.g. main on SIGTERM): runs fn(shard) on every shard's thread, later, through a
  // mutex-protected control queue. Not for hot paths. Ignored by shards whose loop has ended.
  void broadcast_control(std::function<void(Shard&)> fn);

  // Any thread: asks every shard to stop (runs its stop hooks, then its loop ends once its
  // handles are closed). Does not wait; join() does. Idempotent.
  void stop();
  // Waits for every shard thread to exit. Not from a shard thread.
  void join();

  // Same as shard.add_stop_hook(hook).
  void on_stop(Shard& shard, std::function<void()> hook) { shard.add_stop_hook(std::move(hook)); }

 private:
  friend class Shard;
  detail::Lane& lane(int from, int to) { return *lanes_[from * size() + to]; }

  const ShardOptions opts_;
  std::vector<std::unique_ptr<detail::Lane>> lanes_;  // ring[from][to] at from * N + to
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  bool started_ = false;
};

template <typename Fn, typename Reply>
void Shard::ask(int to, Fn fn, Reply reply) {
  using Result = std::invoke_result_t<Fn&>;
  if constexpr (std::is_void_v<Result>) {
    static_assert(std::is_invocable_v<Reply&>, "reply must be callable as reply()");
  } else {
    static_assert(std::is_invocable_v<Reply&, std::decay_t<Result>&&>,
                  "reply must be callable with fn's result");
  }
  int from = id_;
  post(to, [from, fn = std::move(fn), reply = std::move(reply)]() mutable {
    Shard* here = Shard::current();
    if constexpr (std::is_void_v<Result>) {
      fn();
      here->post(from, [reply = std::move(reply)]() mutable { reply(); });
    } else {
      here->post(from,
                 [reply = std::move(reply), result = fn()]() mutable { reply(std::move(result)); });
    }
  });
}

}  // namespace parley::shard
