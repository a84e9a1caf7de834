#include "parley/net/out_buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace parley::net {
namespace {

std::string contents(const OutBuffer& b, size_t skip = 0) {
  iovec iov[256];
  int n = b.gather(iov, 256, skip);
  std::string s;
  for (int i = 0; i < n; ++i) s.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
  return s;
}

TEST(OutBuffer, AppendGatherConsumeAcrossBlocks) {
  OutBuffer b;
  EXPECT_TRUE(b.empty());
  std::string expect;
  for (int i = 0; i < 5000; ++i) {
    std::string piece = "frame-" + std::to_string(i) + ";";
    b.append(piece);
    expect += piece;
  }
  EXPECT_EQ(b.size(), expect.size());
  EXPECT_EQ(contents(b), expect);
  EXPECT_EQ(contents(b, 100), expect.substr(100));
  for (size_t step : {1u, 7u, 16384u, 20000u, 3u}) {
    b.consume(step);
    expect.erase(0, step);
    ASSERT_EQ(contents(b), expect);
  }
  b.consume(b.size());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(contents(b), "");
}

TEST(OutBuffer, ContiguousRegionsNeverSplit) {
  OutBuffer b;
  b.append(std::string(OutBuffer::kBlockSize - 3, 'a'));
  auto h = b.append_contiguous(10);  // does not fit in the 3 bytes left: new block
  ASSERT_EQ(h.size(), 10u);
  std::fill(h.begin(), h.end(), 'h');
  EXPECT_EQ(b.size(), OutBuffer::kBlockSize - 3 + 10);
  EXPECT_EQ(contents(b), std::string(OutBuffer::kBlockSize - 3, 'a') + std::string(10, 'h'));
}

TEST(OutBuffer, LargeAppendAndMove) {
  OutBuffer a;
  std::string big(100000, 'x');
  big[99999] = 'y';
  a.append(big);
  OutBuffer b = std::move(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(contents(b), big);
  b.consume(99999);
  EXPECT_EQ(contents(b), "y");
  b.clear();
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace parley::net
