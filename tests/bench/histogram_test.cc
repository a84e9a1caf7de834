#include "histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace parley::bench {
namespace {

TEST(Histogram, SmallValuesAreExact) {
  for (uint64_t v = 0; v < 2 * Histogram::kHalf; ++v) {
    EXPECT_EQ(Histogram::bucket_of(v), v);
    EXPECT_EQ(Histogram::bucket_low(v), v);
    EXPECT_EQ(Histogram::bucket_high(v), v);
  }
}

TEST(Histogram, BucketsTileTheWholeRangeWithBoundedError) {
  for (size_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::bucket_high(b) + 1, Histogram::bucket_low(b + 1)) << b;
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_low(b)), b);
    ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_high(b)), b);
    double low = static_cast<double>(Histogram::bucket_low(b));
    double width = static_cast<double>(Histogram::bucket_high(b)) - low + 1;
    if (b >= 2 * Histogram::kHalf) {
      ASSERT_LE(width / low, (1 + 1e-9) / static_cast<double>(Histogram::kHalf)) << b;
    }
  }
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::bucket_high(Histogram::kBuckets - 1), UINT64_MAX);
}

TEST(Histogram, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(Histogram, PercentilesOfAUniformRangeAreWithinOnePercent) {
  Histogram h;
  for (uint64_t v = 1; v <= 100'000; ++v) h.record(v * 1000);  // 1 µs .. 100 ms
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100'000'000u);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    double expect = p / 100.0 * 100'000'000.0;
    double got = static_cast<double>(h.percentile(p));
    EXPECT_NEAR(got, expect, expect * 0.01) << p;
    EXPECT_GE(got, expect) << "reports the bucket's highest value";
  }
  EXPECT_EQ(h.percentile(100), 100'000'000u);
  EXPECT_EQ(h.percentile(0), 1000u);
  EXPECT_NEAR(h.mean(), 50'000'500.0, 1.0);
}

TEST(Histogram, OneOutlierIsTheMaxNotTheP99) {
  Histogram h;
  for (int i = 0; i < 999; ++i) h.record(10'000);
  h.record(5'000'000);
  EXPECT_LE(h.percentile(99), 10'100u);
  EXPECT_EQ(h.percentile(99.9), h.percentile(99));  // rank 999 of 1000
  EXPECT_EQ(h.percentile(99.95), 5'000'000u);
  EXPECT_EQ(h.max(), 5'000'000u);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(10, 2);
  Histogram a, b, all;
  for (int i = 0; i < 20'000; ++i) {
    auto v = static_cast<uint64_t>(d(rng));
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(a.percentile(p), all.percentile(p));
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.percentile(50), 0u);
}

}  // namespace
}  // namespace parley::bench
