// A log-linear latency histogram in the manner of HdrHistogram: values below 2^kSubBits are
// counted exactly, and every power of two above is split into 2^(kSubBits-1) equal buckets, so
// any recorded value is reported within 1/2^(kSubBits-1) (0.8 %) of itself, from 1 ns to the
// full uint64 range, in a fixed 59 KB array. Debian 12 ships no C/C++ HdrHistogram.
//
// Not thread-safe: each worker thread records into its own and the results are merged after the
// run. record() is a handful of instructions and never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 8;
  static constexpr uint64_t kHalf = uint64_t{1} << (kSubBits - 1);  // buckets per power of two
  static constexpr size_t kBuckets = (66 - kSubBits) * kHalf;

  Histogram() : counts_(kBuckets, 0) {}

  void record(uint64_t value) {
    ++counts_[bucket_of(value)];
    ++count_;
    sum_ += value;
    if (value > max_) max_ = value;
    if (value < min_) min_ = value;
  }
  void merge(const Histogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The smallest recorded value v such that at least p % of the values are <= v, reported as
  // the highest value of its bucket (clamped to [min, max]). p <= 0: the min; 0 if empty.
  uint64_t percentile(double p) const;

  // The bucket holding `value`, and the range of values a bucket holds.
  static size_t bucket_of(uint64_t value);
  static uint64_t bucket_low(size_t bucket);
  static uint64_t bucket_high(size_t bucket);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;  // wraps only past 584 years of nanoseconds
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace parley::bench
