#include "cid.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace parley::bench {
namespace {

TEST(Cid, RoundTripsAndKeepsGroupMessagesApart) {
  char buf[kMaxCid];
  for (bool group : {false, true}) {
    size_t n = format_cid(buf, group, 4'000'000'000u, UINT64_MAX, UINT64_MAX);
    ASSERT_LE(n, kMaxCid);
    std::string cid(buf, n);
    EXPECT_EQ(cid[0] == 'g', group);
    uint64_t sender = 0, num = 0, t = 0;
    ASSERT_TRUE(parse_cid(cid, sender, num, t)) << cid;
    EXPECT_EQ(sender, 4'000'000'000u);
    EXPECT_EQ(num, UINT64_MAX);
    EXPECT_EQ(t, UINT64_MAX);
  }
  // The same sender, number and time: the 1:1 and the group cid differ (dedupe is per cid).
  std::string a(buf, format_cid(buf, false, 1, 2, 3));
  std::string b(buf, format_cid(buf, true, 1, 2, 3));
  EXPECT_EQ(a, "1:2:3");
  EXPECT_EQ(b, "g1:2:3");
}

TEST(Cid, RejectsWhatIsNotABenchCid) {
  uint64_t s, n, t;
  for (const char* bad : {"", "c-001", "1:2", "1:2:", "1:2:3x", ":1:2", "1::2", "gg1:2:3",
                          "1:2:3:4", "-1:2:3"}) {
    EXPECT_FALSE(parse_cid(bad, s, n, t)) << bad;
  }
}

}  // namespace
}  // namespace parley::bench
