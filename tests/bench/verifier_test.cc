// The verifier fed bad streams: every kind of damage a server could do to one conversation.
#include "verifier.h"

#include <gtest/gtest.h>

#include <vector>

namespace parley::bench {
namespace {

VerifyTotals check(const std::vector<uint64_t>& arrived, uint64_t confirmed) {
  StreamVerifier s;
  for (uint64_t n : arrived) s.on_message(n);
  VerifyTotals t;
  t.add(s, confirmed);
  return t;
}

TEST(StreamVerifier, AnInOrderStreamIsClean) {
  StreamVerifier s;
  for (uint64_t n = 0; n < 1000; ++n) EXPECT_EQ(s.on_message(n), Anomaly::kNone);
  EXPECT_EQ(s.lost(1000), 0u);
  EXPECT_TRUE(check({0, 1, 2, 3}, 4).ok());
  EXPECT_TRUE(check({}, 0).ok());
}

TEST(StreamVerifier, CatchesLossInTheMiddle) {
  StreamVerifier s;
  EXPECT_EQ(s.on_message(0), Anomaly::kNone);
  EXPECT_EQ(s.on_message(1), Anomaly::kNone);
  EXPECT_EQ(s.on_message(4), Anomaly::kGap);
  EXPECT_EQ(s.on_message(5), Anomaly::kNone);
  EXPECT_EQ(s.lost(6), 2u);  // 2 and 3
  auto t = check({0, 1, 4, 5}, 6);
  EXPECT_FALSE(t.ok());
  EXPECT_EQ(t.lost, 2u);
  EXPECT_EQ(t.duplicates + t.reorders, 0u);
}

TEST(StreamVerifier, CatchesLossAtTheStartAndTheEnd) {
  EXPECT_EQ(check({1, 2, 3}, 4).lost, 1u);  // the first message never came
  EXPECT_EQ(check({0, 1, 2}, 5).lost, 2u);  // the last two never came
  EXPECT_EQ(check({}, 3).lost, 3u);         // nothing came
}

TEST(StreamVerifier, CatchesDuplicates) {
  StreamVerifier s;
  s.on_message(0);
  s.on_message(1);
  EXPECT_EQ(s.on_message(1), Anomaly::kDuplicate);  // immediately repeated
  s.on_message(2);
  EXPECT_EQ(s.on_message(0), Anomaly::kDuplicate);  // replayed from long ago
  auto t = check({0, 1, 1, 2, 0}, 3);
  EXPECT_EQ(t.duplicates, 2u);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_FALSE(t.ok());
}

TEST(StreamVerifier, CatchesReordering) {
  StreamVerifier s;
  s.on_message(0);
  EXPECT_EQ(s.on_message(2), Anomaly::kGap);
  EXPECT_EQ(s.on_message(1), Anomaly::kReorder);  // arrived late: not lost
  EXPECT_EQ(s.on_message(3), Anomaly::kNone);
  auto t = check({0, 2, 1, 3}, 4);
  EXPECT_EQ(t.reorders, 1u);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_FALSE(t.ok());
  // A late message seen twice: one reorder, then a duplicate.
  auto u = check({0, 3, 1, 2, 1}, 4);
  EXPECT_EQ(u.reorders, 2u);
  EXPECT_EQ(u.duplicates, 1u);
}

TEST(StreamVerifier, ReversedStream) {
  auto t = check({4, 3, 2, 1, 0}, 5);
  EXPECT_EQ(t.reorders, 4u);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.received, 5u);
}

TEST(StreamVerifier, UnconfirmedTailIsNotLoss) {
  // Messages past what the server confirmed may legitimately arrive (the ok was still in flight).
  EXPECT_TRUE(check({0, 1, 2, 3}, 2).ok());
  // Missing numbers beyond the confirmed count are not counted as lost either.
  EXPECT_EQ(check({0, 1, 5}, 2).lost, 0u);
}

TEST(StreamVerifier, HugeGapIsCountedWithoutListing) {
  StreamVerifier s;
  s.on_message(0);
  EXPECT_EQ(s.on_message(10'000'000), Anomaly::kGap);
  EXPECT_EQ(s.lost(10'000'001), 9'999'999u);
}

TEST(SeqVerifier, CatchesServerSideDuplicatesAndReordering) {
  SeqVerifier q;
  EXPECT_TRUE(q.on_seq(1));
  EXPECT_TRUE(q.on_seq(3));   // gaps are other senders' messages: fine
  EXPECT_FALSE(q.on_seq(3));  // the same seq twice
  EXPECT_FALSE(q.on_seq(2));  // backwards
  EXPECT_TRUE(q.on_seq(4));
  EXPECT_EQ(q.regressions(), 2u);
  VerifyTotals t;
  t.seq_regressions = q.regressions();
  EXPECT_FALSE(t.ok());
}

TEST(VerifyTotals, MergeAddsEverything) {
  VerifyTotals a = check({0, 2}, 3), b = check({0, 0}, 1);
  a.merge(b);
  EXPECT_EQ(a.streams, 2u);
  EXPECT_EQ(a.lost, 1u);  // number 1 of the first stream
  EXPECT_EQ(a.duplicates, 1u);
  EXPECT_EQ(a.received, 4u);
}

}  // namespace
}  // namespace parley::bench
