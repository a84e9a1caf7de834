// A latency histogram with fixed Prometheus-style buckets (50 µs .. 1 s, then +Inf). Not
// thread-safe: one per shard, read by copying it on its own thread.
#pragma once

#include <array>
#include <cstdint>

namespace parley {

class LatencyHistogram {
 public:
  // Upper bounds in nanoseconds; the last bucket (+Inf) is implicit.
  static constexpr std::array<uint64_t, 14> kBoundsNs = {
      50'000,     100'000,    250'000,     500'000,     1'000'000,   2'500'000,   5'000'000,
      10'000'000, 25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000};

  void observe(uint64_t ns) {
    size_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    ++buckets_[i];
    ++count_;
    sum_ns_ += ns;
  }
  // Non-cumulative count of bucket i (i == kBoundsNs.size() is +Inf).
  uint64_t bucket(size_t i) const { return buckets_[i]; }
  uint64_t count() const { return count_; }
  uint64_t sum_ns() const { return sum_ns_; }

 private:
  std::array<uint64_t, kBoundsNs.size() + 1> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
};

}  // namespace parley
