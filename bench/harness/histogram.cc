#include "histogram.h"

#include <algorithm>
#include <cmath>

namespace parley::bench {

size_t Histogram::bucket_of(uint64_t value) {
  if (value < 2 * kHalf) return static_cast<size_t>(value);
  int msb = 63 - __builtin_clzll(value);
  int shift = msb - (kSubBits - 1);  // value >> shift is in [kHalf, 2 * kHalf)
  return static_cast<size_t>((static_cast<uint64_t>(shift) + 1) * kHalf + (value >> shift) - kHalf);
}

uint64_t Histogram::bucket_low(size_t bucket) {
  if (bucket < 2 * kHalf) return bucket;
  uint64_t shift = bucket / kHalf - 1;
  uint64_t sub = bucket % kHalf + kHalf;
  return sub << shift;
}

uint64_t Histogram::bucket_high(size_t bucket) {
  if (bucket < 2 * kHalf) return bucket;
  uint64_t shift = bucket / kHalf - 1;
  uint64_t sub = bucket % kHalf + kHalf;
  // The top bucket's end would overflow: (2^kSubBits) << 56 == 2^64.
  if (bucket == kBuckets - 1) return UINT64_MAX;
  return ((sub + 1) << shift) - 1;
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = sum_ = max_ = 0;
  min_ = UINT64_MAX;
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (p <= 0) return min_;
  p = std::min(p, 100.0);
  // The epsilon keeps 99.9 % of 1000 at rank 999 despite rounding in p / 100 * count.
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_) - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_high(i), min_, max_);
  }
  return max_;
}

}  // namespace parley::bench
