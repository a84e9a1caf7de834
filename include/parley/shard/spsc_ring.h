// SpscRing: a bounded, lock-free, single-producer single-consumer ring; the queue behind each
// ordered pair of shards (see shard.h). Modeled on Seastar's smp_message_queue.
//
// Threads: exactly one producer thread calls try_push()/publish(); exactly one consumer thread
// calls drain(). The *_approx() readers and capacity() may be called from anywhere.
//
// Batching: pushed items stay private to the producer until publish(), which makes all of them
// visible with a single release store; drain() hands slots back with one release store per call.
// Each side keeps a cached copy of the other side's index and reloads it only when the cache says
// "full" (producer) or "empty" (consumer), so in steady state the two threads do not bounce each
// other's cache lines on every item.
//
// Ownership: an item belongs to the ring from a successful try_push() until drain() hands it to
// the consumer's callback (by rvalue reference); the ring destroys it right after the callback
// returns, on the consumer's thread. Items still inside when the ring is destroyed (published or
// not) are destroyed by ~SpscRing, on whichever thread runs it.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace parley::shard {

template <typename T>
class SpscRing {
 public:
  static constexpr size_t kCacheLine = 64;
  static constexpr size_t kSlotAlign = alignof(T) > kCacheLine ? alignof(T) : kCacheLine;

  // `capacity_pow2` is rounded up to a power of two (minimum 1).
  explicit SpscRing(size_t capacity_pow2)
      : mask_(std::bit_ceil(capacity_pow2 == 0 ? size_t{1} : capacity_pow2) - 1),
        slots_(static_cast<Slot*>(
            ::operator new[]((mask_ + 1) * sizeof(Slot), std::align_val_t{kSlotAlign}))) {}

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  ~SpscRing() {
    for (size_t i = cons_.head; i != prod_.write; ++i) at(i)->~T();
  }

  // Producer. Moves `v` into the ring (not yet visible to the consumer, see publish()).
  // Returns false, leaving `v` untouched, when the ring is full.
  bool try_push(T&& v) {
    size_t w = prod_.write;
    if (w - prod_.head_seen > mask_) {
      prod_.head_seen = head_.value.load(std::memory_order_acquire);
      if (w - prod_.head_seen > mask_) return false;
    }
    ::new (static_cast<void*>(slots_.get()[w & mask_].bytes)) T(std::move(v));
    prod_.write = w + 1;
    return true;
  }

  // Producer. Makes every item pushed so far visible to the consumer (one release store).
  void publish() {
    if (prod_.write != prod_.published) {
      prod_.published = prod_.write;
      tail_.value.store(prod_.write, std::memory_order_release);
    }
  }

  // Producer. Items pushed but not yet published.
  size_t unpublished() const { return prod_.write - prod_.published; }

  // Consumer. Calls f(T&&) on up to `max_items` published items, oldest first, destroying each
  // right after f returns; the slots go back to the producer when drain() returns. Returns the
  // number of items handed to f. f must not throw.
  template <typename F>
  size_t drain(F&& f, size_t max_items) {
    size_t h = cons_.head;
    size_t avail = cons_.tail_seen - h;
    if (avail < max_items) {
      cons_.tail_seen = tail_.value.load(std::memory_order_acquire);
      avail = cons_.tail_seen - h;
    }
    size_t n = avail < max_items ? avail : max_items;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; ++i) {
      T* item = at(h + i);
      f(std::move(*item));
      item->~T();
    }
    cons_.head = h + n;
    head_.value.store(h + n, std::memory_order_release);
    return n;
  }

  // Any thread. Published items the consumer has not yet released; exact only when both sides
  // are quiet.
  size_t size_approx() const {
    size_t h = head_.value.load(std::memory_order_acquire);  // head first: then t >= h
    size_t t = tail_.value.load(std::memory_order_acquire);
    return std::min(t - h, mask_ + 1);
  }
  bool empty_approx() const { return size_approx() == 0; }
  size_t capacity() const { return mask_ + 1; }

 private:
  struct Slot {
    alignas(T) unsigned char bytes[sizeof(T)];
  };

  struct FreeSlots {
    void operator()(Slot* p) const { ::operator delete[](p, std::align_val_t{kSlotAlign}); }
  };

  T* at(size_t i) { return std::launder(reinterpret_cast<T*>(slots_.get()[i & mask_].bytes)); }

  // Shared indices, each on its own line: written by one side, read by the other.
  struct alignas(kCacheLine) Index {
    std::atomic<size_t> value{0};
  };
  // Producer-private state.
  struct alignas(kCacheLine) ProducerSide {
    size_t write = 0;      // next slot to fill
    size_t published = 0;  // value of tail_ last stored
    size_t head_seen = 0;  // cached head_ (consumer's progress)
  };
  // Consumer-private state.
  struct alignas(kCacheLine) ConsumerSide {
    size_t head = 0;       // next slot to read
    size_t tail_seen = 0;  // cached tail_ (producer's published end)
  };

  Index tail_;  // published end: producer stores (release), consumer loads (acquire)
  Index head_;  // consumed end: consumer stores (release), producer loads (acquire)
  ProducerSide prod_;
  ConsumerSide cons_;
  alignas(kCacheLine) const size_t mask_;         // capacity - 1
  const std::unique_ptr<Slot, FreeSlots> slots_;  // 64-byte aligned, constructed lazily
};

}  // namespace parley::shard
