#include "proc_stats.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

TEST(ProcStats, ParsesStatEvenWithParenthesesInTheName) {
  std::string stat =
      "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 1500 250 0 0 20 0 3 0 100 "
      "123456 789 18446744073709551615\n";
  EXPECT_EQ(parse_stat_cpu_ticks(stat), 1750u);
  EXPECT_FALSE(parse_stat_cpu_ticks("1234 (x) S 1 2"));
  EXPECT_FALSE(parse_stat_cpu_ticks("garbage"));
}

TEST(ProcStats, ParsesVmRss) {
  EXPECT_EQ(parse_status_rss_kb("\nName:\tx\nVmPeak:\t  9 kB\nVmRSS:\t   12345 kB\n"), 12345u);
  EXPECT_FALSE(parse_status_rss_kb("\nName:\tx\n"));
}

TEST(ProcStats, SamplesThisProcess) {
  auto s = proc_sample(getpid());
  ASSERT_TRUE(s);
  EXPECT_GT(s->rss_bytes, 0u);
  EXPECT_GT(self_sample().rss_bytes, 0u);
  EXPECT_FALSE(proc_sample(0x7ffffff0));
}

}  // namespace
}  // namespace parley::bench
