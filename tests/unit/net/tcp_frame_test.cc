#include "parley/net/tcp_frame.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace parley::net {
namespace {

constexpr size_t kMax = 65536;

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string frame(std::string_view payload) {
  std::string out;
  append_tcp_frame(out, payload);
  return out;
}

std::string header(uint32_t len) {
  uint8_t h[4];
  write_tcp_header(h, len);
  return std::string(reinterpret_cast<const char*>(h), 4);
}

// What a connection sees after feeding a byte stream in given chunks.
struct Outcome {
  std::vector<std::string> frames;
  std::string_view error;
  size_t error_at = 0;  // bytes received when the error was reported
  size_t leftover = 0;  // bytes kept, waiting for more
};

// Simulates the caller: appends each chunk to a buffer of unconsumed bytes and parses frames
// off its front until kNeedMore or kError.
Outcome run(std::string_view input, const std::vector<size_t>& chunks, size_t max_frame) {
  Outcome out;
  std::string buf;
  size_t received = 0;
  for (size_t len : chunks) {
    buf.append(input.substr(received, len));
    received += len;
    for (;;) {
      TcpFrameResult r = parse_tcp_frame(bytes(buf), max_frame);
      if (r.status == TcpFrameStatus::kNeedMore) {
        EXPECT_EQ(r.consumed, 0u);
        break;
      }
      if (r.status == TcpFrameStatus::kError) {
        out.error = r.error;
        out.error_at = received;
        return out;
      }
      out.frames.emplace_back(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
      EXPECT_EQ(r.consumed, 4 + r.payload.size());
      buf.erase(0, r.consumed);
    }
  }
  out.leftover = buf.size();
  return out;
}

// Runs `check` on the outcome of every way of splitting `input`: whole, two chunks split at
// every offset, and one byte at a time.
void for_each_split(std::string_view input, size_t max_frame,
                    const std::function<void(const Outcome&)>& check) {
  {
    SCOPED_TRACE("whole");
    check(run(input, {input.size()}, max_frame));
  }
  for (size_t i = 0; i <= input.size(); ++i) {
    SCOPED_TRACE("split at " + std::to_string(i));
    check(run(input, {i, input.size() - i}, max_frame));
  }
  {
    SCOPED_TRACE("byte by byte");
    check(run(input, std::vector<size_t>(input.size(), 1), max_frame));
  }
}

TEST(TcpFrame, HeaderIsBigEndian) {
  EXPECT_EQ(header(0x01020304), std::string("\x01\x02\x03\x04"));
  EXPECT_EQ(frame("hi"), std::string("\0\0\0\2hi", 6));
}

TEST(TcpFrame, EmptyInputNeedsMore) {
  TcpFrameResult r = parse_tcp_frame({}, kMax);
  EXPECT_EQ(r.status, TcpFrameStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(TcpFrame, OneBytePayload) {
  for_each_split(frame("x"), kMax, [](const Outcome& o) {
    EXPECT_TRUE(o.error.empty());
    ASSERT_EQ(o.frames.size(), 1u);
    EXPECT_EQ(o.frames[0], "x");
    EXPECT_EQ(o.leftover, 0u);
  });
}

TEST(TcpFrame, ExactlyMaxFrameIsAllowed) {
  const size_t max = 300;  // small so every split point stays cheap
  const std::string payload(max, 'a');
  for_each_split(frame(payload), max, [&](const Outcome& o) {
    EXPECT_TRUE(o.error.empty());
    ASSERT_EQ(o.frames.size(), 1u);
    EXPECT_EQ(o.frames[0], payload);
  });
  std::string big(kMax, 'b');
  Outcome o = run(frame(big), {4 + kMax}, kMax);
  ASSERT_EQ(o.frames.size(), 1u);
  EXPECT_EQ(o.frames[0], big);
}

TEST(TcpFrame, OverMaxFrameFailsAsSoonAsTheHeaderArrives) {
  // Only the header is sent: the error must not wait for the payload.
  for_each_split(header(kMax + 1), kMax, [](const Outcome& o) {
    EXPECT_EQ(o.error, "frame too large");
    EXPECT_EQ(o.error_at, 4u);
    EXPECT_TRUE(o.frames.empty());
  });
  const std::string with_payload = header(kMax + 1) + "some bytes";
  TcpFrameResult r = parse_tcp_frame(bytes(with_payload), kMax);
  EXPECT_EQ(r.status, TcpFrameStatus::kError);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(parse_tcp_frame(bytes(header(0xffffffff)), kMax).status, TcpFrameStatus::kError);
}

TEST(TcpFrame, ZeroLengthIsAnError) {
  for_each_split(header(0), kMax, [](const Outcome& o) {
    EXPECT_EQ(o.error, "empty frame");
    EXPECT_EQ(o.error_at, 4u);
  });
  for_each_split(header(0) + "junk", kMax, [](const Outcome& o) {
    EXPECT_EQ(o.error, "empty frame");
    EXPECT_TRUE(o.frames.empty());
  });
}

TEST(TcpFrame, ErrorAfterGoodFrames) {
  const std::string input = frame("ok") + header(0);
  for_each_split(input, kMax, [](const Outcome& o) {
    ASSERT_EQ(o.frames.size(), 1u);
    EXPECT_EQ(o.frames[0], "ok");
    EXPECT_EQ(o.error, "empty frame");
  });
}

TEST(TcpFrame, ManyFramesInOneBuffer) {
  const std::vector<std::string> payloads = {"{\"op\":\"ping\"}", "a", std::string(1000, 'z'),
                                             std::string("\0\xff\n", 3), "last"};
  std::string input;
  for (const auto& p : payloads) input += frame(p);
  for_each_split(input, kMax, [&](const Outcome& o) {
    EXPECT_TRUE(o.error.empty());
    EXPECT_EQ(o.frames, payloads);
    EXPECT_EQ(o.leftover, 0u);
  });
}

TEST(TcpFrame, PartialFrameIsKept) {
  const std::string input = frame("first") + frame("second").substr(0, 7);
  Outcome o = run(input, {input.size()}, kMax);
  ASSERT_EQ(o.frames.size(), 1u);
  EXPECT_EQ(o.leftover, 7u);
}

TEST(TcpFrame, PayloadPointsIntoInput) {
  const std::string input = frame("abc") + "rest";
  TcpFrameResult r = parse_tcp_frame(bytes(input), kMax);
  ASSERT_EQ(r.status, TcpFrameStatus::kFrame);
  EXPECT_EQ(reinterpret_cast<const char*>(r.payload.data()), input.data() + 4);
  EXPECT_EQ(r.consumed, 7u);
}

TEST(TcpFrame, AppendKeepsExistingBytes) {
  std::string out = "prefix";
  append_tcp_frame(out, "xy");
  EXPECT_EQ(out, std::string("prefix\0\0\0\2xy", 12));
}

}  // namespace
}  // namespace parley::net
