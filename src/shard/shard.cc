#include "parley/shard/shard.h"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "parley/shard/spsc_ring.h"

namespace parley::shard {

namespace detail {

// ring[from][to] plus the flag its producer raises when tasks wait in its overflow queue.
struct Lane {
  explicit Lane(size_t capacity) : ring(capacity) {}
  SpscRing<Task> ring;
  // Set by the producer while tasks wait in its overflow queue; swapped back to false by the
  // consumer after every non-empty drain, which then wakes the producer (see Shard::refill).
  alignas(64) std::atomic<bool> want_space{false};
};

}  // namespace detail

namespace {

constexpr uint64_t kStopGraceMs = 2000;

thread_local Shard* tl_current = nullptr;

void check_uv(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "parley: shard setup: %s: %s\n", what, uv_strerror(rc));
    std::abort();
  }
}

// A full memory barrier (StoreLoad included). ThreadSanitizer does not support fences, so its
// builds use a locked read-modify-write instead, which is a full barrier on x86 as well.
inline void full_barrier() {
#if defined(__SANITIZE_THREAD__)
  thread_local std::atomic<int> dummy{0};
  dummy.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

template <typename H>
uv_handle_t* as_handle(H* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Shard

Shard::Shard(ShardSet& set, int id, const ShardOptions& opts) : set_(&set), id_(id), opts_(opts) {
  check_uv(uv_loop_init(&loop_), "uv_loop_init");
  loop_.data = this;

  check_uv(uv_async_init(&loop_, &wake_,
                         [](uv_async_t* h) { static_cast<Shard*>(h->data)->drain_inbound(); }),
           "uv_async_init");
  wake_.data = this;

  check_uv(uv_async_init(&loop_, &control_,
                         [](uv_async_t* h) { static_cast<Shard*>(h->data)->run_control(); }),
           "uv_async_init");
  control_.data = this;
  uv_unref(as_handle(&control_));

  check_uv(uv_prepare_init(&loop_, &tick_), "uv_prepare_init");
  tick_.data = this;
  check_uv(uv_prepare_start(&tick_, [](uv_prepare_t* h) { static_cast<Shard*>(h->data)->tick(); }),
           "uv_prepare_start");
  uv_unref(as_handle(&tick_));

  check_uv(uv_timer_init(&loop_, &grace_), "uv_timer_init");
  grace_.data = this;
}

Shard::~Shard() {
  // The owning ShardSet has joined every thread, so no one can send to this loop any more.
  close_everything();  // only does something if the shard never ran
  uv_run(&loop_, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop_);
  if (rc != 0) std::fprintf(stderr, "parley: shard %d: uv_loop_close: %s\n", id_, uv_strerror(rc));
}

Shard* Shard::current() { return tl_current; }

void Shard::post(int to, Task fn) {
  assert(is_current());
  assert(to >= 0 && to < static_cast<int>(out_.size()));
  assert(fn);
  ++stats_.posted;
  Outbound& o = out_[to];
  // Behind waiting overflow, a task must wait too, or it would overtake them.
  if (o.overflow.empty() && o.lane->ring.try_push(std::move(fn))) return;
  o.overflow.push_back(std::move(fn));
  ++stats_.ring_full;
  ++stats_.overflow;
  if (o.overflow.size() > opts_.congestion_threshold) congested_ = true;
}

void Shard::on_decongested(Task cb) {
  assert(is_current());
  if (congested_) {
    decongested_.push_back(std::move(cb));
  } else {
    post(id_, std::move(cb));
  }
}

void Shard::add_tick_hook(std::function<void()> hook) {
  assert(is_current() || tl_current == nullptr);
  tick_hooks_.push_back(std::move(hook));
}

void Shard::add_stop_hook(std::function<void()> hook) {
  assert(is_current() || tl_current == nullptr);
  stop_hooks_.push_back(std::move(hook));
}

void Shard::add_exit_hook(std::function<void()> hook) {
  assert(is_current() || tl_current == nullptr);
  exit_hooks_.push_back(std::move(hook));
}

void Shard::run_thread(const std::function<void(Shard&)>& init) {
  tl_current = this;
  std::string name = "shard-" + std::to_string(id_);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());

  if (init) init(*this);
  uv_run(&loop_, UV_RUN_DEFAULT);

  // The loop has ended (stop() and every referenced handle closed). Hand over what is still
  // queued for shards that may be running, then close what is left (unreferenced handles).
  flush_outbound();
  close_everything();
  uv_run(&loop_, UV_RUN_DEFAULT);
  for (auto it = exit_hooks_.rbegin(); it != exit_hooks_.rend(); ++it) (*it)();
  exit_hooks_.clear();
  tl_current = nullptr;
}

// The end-of-iteration tick (prepare phase), see the top of shard.h.
void Shard::tick() {
  refill_all();
  if (!congested_ && !decongested_.empty()) {
    std::vector<Task> cbs;
    cbs.swap(decongested_);
    for (Task& cb : cbs) cb();
  }
  for (size_t i = 0; i < tick_hooks_.size(); ++i) tick_hooks_[i]();
  flush_outbound();
}

// Moves overflow tasks into the ring while it has room. If some still do not fit, raises the
// lane's want_space flag so the consumer wakes us once it has drained. Both sides swap the flag
// with acq_rel after their own index update (here: before re-checking the ring; drain_inbound:
// after releasing slots), and swaps of one atomic are totally ordered: either the consumer's swap
// comes later and sees `true` (it wakes us), or ours comes later and reads the consumer's `false`,
// which makes its released slots visible to the re-check below.
void Shard::refill(Outbound& o) {
  SpscRing<Task>& ring = o.lane->ring;
  auto move_in = [&] {
    while (!o.overflow.empty() && ring.try_push(std::move(o.overflow.front()))) {
      o.overflow.pop_front();
      --stats_.overflow;
    }
  };
  move_in();
  if (o.overflow.empty()) return;
  o.lane->want_space.exchange(true, std::memory_order_acq_rel);
  move_in();
}

void Shard::refill_all() {
  if (stats_.overflow == 0) return;
  for (Outbound& o : out_) {
    if (!o.overflow.empty()) refill(o);
  }
  update_congestion();
}

void Shard::flush_outbound() {
  for (Outbound& o : out_) {
    if (!o.overflow.empty()) refill(o);
    if (o.lane->ring.unpublished() != 0) {
      o.lane->ring.publish();
      wake(*o.dest);
    }
  }
  update_congestion();
}

void Shard::update_congestion() {
  if (!congested_) return;  // only post() sets it
  congested_ = false;
  for (const Outbound& o : out_) {
    if (o.overflow.size() > opts_.congestion_threshold) congested_ = true;
  }
}

void Shard::wake(Shard& dest) {
  // uv_async_send (libuv 1.44) first reads the handle's pending flag without a barrier; that
  // read must not move before our release store of the ring's tail (publish), or the consumer
  // could clear the flag, miss our items and sleep. A full barrier orders them.
  full_barrier();
  uv_async_send(&dest.wake_);
  ++stats_.wakeups_sent;
}

// The wake-up callback: runs up to drain_batch tasks from each inbound ring.
void Shard::drain_inbound() {
  bool more = false;
  for (size_t from = 0; from < in_.size(); ++from) {
    detail::Lane& lane = *in_[from];
    size_t n = lane.ring.drain([](Task&& t) noexcept { t(); }, opts_.drain_batch);
    if (n == 0) continue;
    stats_.received += n;
    ++stats_.batches_drained;
    // Unconditional swap, not a load: it is one half of the handshake in refill().
    if (lane.want_space.exchange(false, std::memory_order_acq_rel)) {
      wake(set_->shard(static_cast<int>(from)));
    }
    if (n == opts_.drain_batch && !lane.ring.empty_approx()) more = true;
  }
  // Come back after the loop has polled I/O once, rather than draining a busy ring forever.
  if (more) uv_async_send(&wake_);
}

void Shard::run_control() {
  std::vector<std::function<void(Shard&)>> fns;
  bool stop;
  {
    std::lock_guard lock(control_mu_);
    fns.swap(control_queue_);
    stop = stop_requested_;
  }
  for (auto& fn : fns) fn(*this);
  if (stop) begin_stop();
}

void Shard::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  for (size_t i = 0; i < stop_hooks_.size(); ++i) stop_hooks_[i]();
  // From here the rings still work, but no longer keep the loop alive: it ends as soon as the
  // owners' handles (listeners, connections) are closed.
  uv_unref(as_handle(&wake_));
  uv_timer_start(
      &grace_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Shard*>(t->data);
        std::fprintf(stderr, "parley: shard %d: handles still open %llu ms after stop, closing\n",
                     self->id_, static_cast<unsigned long long>(kStopGraceMs));
        self->close_everything();
      },
      kStopGraceMs, 0);
  uv_unref(as_handle(&grace_));
}

// Closes every handle of the loop that is not already closing, ours and the owners' alike (the
// latter without their close callbacks: only at the end of the grace period, or when nothing
// referenced is left).
void Shard::close_everything() {
  {
    std::lock_guard lock(control_mu_);
    control_closed_ = true;  // broadcast_control/stop no longer touch control_
  }
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
}

// ---------------------------------------------------------------------------------------------
// ShardSet

ShardSet::ShardSet(ShardOptions opts) : opts_(opts) {
  assert(opts_.shards >= 1);
  assert(opts_.drain_batch >= 1);
  const int n = opts_.shards;
  lanes_.reserve(static_cast<size_t>(n) * n);
  for (int i = 0; i < n * n; ++i)
    lanes_.push_back(std::make_unique<detail::Lane>(opts_.ring_capacity));
  shards_.reserve(n);
  for (int k = 0; k < n; ++k) shards_.emplace_back(new Shard(*this, k, opts_));
  for (int k = 0; k < n; ++k) {
    Shard& s = *shards_[k];
    s.in_.assign(n, nullptr);
    s.out_ = std::vector<Shard::Outbound>(n);  // not resize(): deque may not move noexcept
    for (int other = 0; other < n; ++other) {
      s.in_[other] = &lane(other, k);
      s.out_[other].lane = &lane(k, other);
      s.out_[other].dest = shards_[other].get();
    }
  }
}

ShardSet::~ShardSet() {
  stop();
  join();
  // Members go in reverse order: shards (loops, overflow queues), then the rings with any task
  // never run.
}

void ShardSet::start(std::function<void(Shard&)> init) {
  assert(!started_);
  started_ = true;
  threads_.reserve(shards_.size());
  for (auto& s : shards_) {
    Shard* shard = s.get();
    threads_.emplace_back([shard, init] { shard->run_thread(init); });
  }
}

void ShardSet::broadcast_control(std::function<void(Shard&)> fn) {
  for (auto& s : shards_) {
    std::lock_guard lock(s->control_mu_);
    if (s->control_closed_) continue;
    s->control_queue_.push_back(fn);
    uv_async_send(&s->control_);
  }
}

void ShardSet::stop() {
  for (auto& s : shards_) {
    std::lock_guard lock(s->control_mu_);
    s->stop_requested_ = true;
    if (!s->control_closed_) uv_async_send(&s->control_);
  }
}

void ShardSet::join() {
  assert(Shard::current() == nullptr || &Shard::current()->set() != this);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace parley::shard
