#include "parley/util/token_bucket.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(TokenBucket, StartsFullAndRefillsAtTheRate) {
  TokenBucket b;
  int taken = 0;
  while (b.take(1000, 10, 5)) ++taken;
  EXPECT_EQ(taken, 5);                 // the burst
  EXPECT_FALSE(b.take(1050, 10, 5));   // half a token after 50 ms
  EXPECT_TRUE(b.take(1100, 10, 5));    // one after 100 ms
  EXPECT_FALSE(b.take(1100, 10, 5));
  EXPECT_DOUBLE_EQ(b.tokens(11000, 10, 5), 5);  // never above the burst
}

TEST(TokenBucket, ZeroRateIsNoLimitAndTimeNeverRunsBack) {
  TokenBucket off;
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(off.take(0, 0, 1));
  TokenBucket b;
  EXPECT_TRUE(b.take(5000, 1, 1));
  EXPECT_FALSE(b.take(4000, 1, 1));  // an earlier clock reading adds nothing
  EXPECT_FALSE(b.take(5500, 1, 1));
  EXPECT_TRUE(b.take(6000, 1, 1));
}

// A steady sender at the rate is never refused; one at three times the rate gets a third.
TEST(TokenBucket, SteadyRates) {
  TokenBucket at, over;
  int ok_at = 0, ok_over = 0;
  for (int ms = 0; ms < 10000; ms += 10) {  // 100 requests/s for 10 s, limit 100/s
    ok_at += at.take(ms, 100, 20);
    for (int k = 0; k < 3; ++k) ok_over += over.take(ms, 100, 20);
  }
  EXPECT_EQ(ok_at, 1000);
  EXPECT_NEAR(ok_over, 1000 + 20, 2);
}

}  // namespace
}  // namespace parley
