#include "parley/store/keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace parley::store {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(KeysTest, PairIsTheSameFromBothSides) {
  ConvId ab = ConvId::pair(7, 3);
  EXPECT_EQ(ab, ConvId::pair(3, 7));
  EXPECT_EQ(ab.kind, 'p');
  EXPECT_EQ(ab.a, 3u);
  EXPECT_EQ(ab.b, 7u);
  EXPECT_FALSE(ab.is_group());
  ConvId g = ConvId::group(42);
  EXPECT_TRUE(g.is_group());
  EXPECT_EQ(g.a, 42u);
  EXPECT_EQ(g.b, 0u);
}

TEST(KeysTest, ConvIdBytesAreKindThenBigEndian) {
  std::string b = ConvId::pair(0x0102, 0xA0B0C0D0E0F00010ull).bytes();
  ASSERT_EQ(b.size(), ConvId::kSize);
  EXPECT_EQ(b, std::string("p\0\0\0\0\0\0\x01\x02\xA0\xB0\xC0\xD0\xE0\xF0\x00\x10", 17));
}

TEST(KeysTest, ConvIdRoundTrips) {
  for (ConvId c : {ConvId::pair(1, 2), ConvId::pair(5, 5), ConvId::pair(0, kMax), ConvId::group(0),
                   ConvId::group(kMax)}) {
    ConvId out;
    ASSERT_TRUE(ConvId::parse(c.bytes(), out));
    EXPECT_EQ(out, c);
  }
}

TEST(KeysTest, ConvIdParseRejectsGarbage) {
  ConvId out = ConvId::group(9);
  std::string good = ConvId::pair(1, 2).bytes();
  EXPECT_FALSE(ConvId::parse("", out));
  EXPECT_FALSE(ConvId::parse(good.substr(0, 16), out));
  EXPECT_FALSE(ConvId::parse(good + "x", out));
  std::string bad_kind = good;
  bad_kind[0] = 'x';
  EXPECT_FALSE(ConvId::parse(bad_kind, out));
  ConvId swapped{'p', 2, 1};  // a pair is stored smaller uid first
  EXPECT_FALSE(ConvId::parse(swapped.bytes(), out));
  ConvId group_with_b{'g', 1, 1};
  EXPECT_FALSE(ConvId::parse(group_with_b.bytes(), out));
  EXPECT_EQ(out, ConvId::group(9));  // untouched on failure
}

TEST(KeysTest, HashIsStable) {
  // Pinned values: ownership is hash() % N, so the function must never change.
  EXPECT_EQ(ConvId::pair(1, 2).hash(), ConvId::pair(2, 1).hash());
  EXPECT_NE(ConvId::pair(1, 2).hash(), ConvId::group(1).hash());
  EXPECT_NE(ConvId::pair(1, 2).hash(), ConvId::pair(1, 3).hash());
  EXPECT_EQ(ConvId::pair(1, 2).hash(), 0xf1ac8c6213b8c853ull);
  EXPECT_EQ(ConvId::group(7).hash(), 0x71b82dec7792b6c0ull);
}

TEST(KeysTest, HashSpreadsOverShards) {
  constexpr int kShards = 8;
  std::vector<int> count(kShards);
  for (uint64_t u = 1; u <= 8000; ++u) ++count[ConvId::pair(u, u + 1).hash() % kShards];
  for (int c : count) EXPECT_NEAR(c, 1000, 150);
}

TEST(KeysTest, MsgKeysSortBySeqNumerically) {
  ConvId c = ConvId::pair(1, 2);
  std::vector<uint64_t> seqs = {0, 1, 9, 10, 255, 256, 65535, 65536, 1ull << 32, kMax - 1, kMax};
  std::vector<std::string> keys;
  for (uint64_t s : seqs) keys.push_back(msg_key(c, s));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_LT(msg_key(c, 255), msg_key(c, 256));
  for (const auto& k : keys) EXPECT_TRUE(k.starts_with(msg_prefix(c)));
  // Another conversation's messages do not fall inside this prefix.
  EXPECT_FALSE(msg_key(ConvId::pair(1, 3), 0).starts_with(msg_prefix(c)));
}

TEST(KeysTest, TablesDoNotOverlap) {
  ConvId c = ConvId::pair(1, 2);
  std::set<char> tables;
  for (const std::string& k :
       {user_key("bob"), msg_key(c, 1), member_key(c, 1), user_conv_key(1, c),
        device_key(1, c, "phone"), dedupe_key(1, "x"), meta_key("schema")}) {
    tables.insert(k[0]);
  }
  EXPECT_EQ(tables.size(), 7u);
  EXPECT_EQ(user_key("bob"), "ubob");
  EXPECT_EQ(meta_key("schema"), "zschema");
}

TEST(KeysTest, MsgKeyRoundTrips) {
  for (ConvId c : {ConvId::pair(3, 9), ConvId::group(77)}) {
    for (uint64_t seq : {uint64_t{0}, uint64_t{256}, kMax}) {
      ConvId conv;
      uint64_t s = 0;
      std::string k = msg_key(c, seq);
      ASSERT_EQ(k.size(), 26u);
      ASSERT_TRUE(parse_msg_key(k, conv, s));
      EXPECT_EQ(conv, c);
      EXPECT_EQ(s, seq);
    }
  }
}

TEST(KeysTest, MemberAndUserConvKeysRoundTrip) {
  ConvId g = ConvId::group(5);
  ConvId conv;
  uint64_t uid = 0;
  ASSERT_TRUE(parse_member_key(member_key(g, 123), conv, uid));
  EXPECT_EQ(conv, g);
  EXPECT_EQ(uid, 123u);
  EXPECT_TRUE(member_key(g, 123).starts_with(member_prefix(g)));

  ConvId p = ConvId::pair(4, 8);
  ASSERT_TRUE(parse_user_conv_key(user_conv_key(8, p), uid, conv));
  EXPECT_EQ(uid, 8u);
  EXPECT_EQ(conv, p);
  EXPECT_TRUE(user_conv_key(8, p).starts_with(user_conv_prefix(8)));
  EXPECT_FALSE(user_conv_key(9, p).starts_with(user_conv_prefix(8)));
}

TEST(KeysTest, DeviceAndDedupeKeysRoundTrip) {
  ConvId p = ConvId::pair(4, 8);
  ConvId conv;
  uint64_t uid = 0;
  std::string_view device, cid;
  std::string dk = device_key(4, p, "laptop-1");
  ASSERT_TRUE(parse_device_key(dk, uid, conv, device));
  EXPECT_EQ(uid, 4u);
  EXPECT_EQ(conv, p);
  EXPECT_EQ(device, "laptop-1");
  EXPECT_TRUE(dk.starts_with(device_prefix(4)));
  ASSERT_TRUE(parse_device_key(device_key(4, p, ""), uid, conv, device));
  EXPECT_EQ(device, "");

  std::string ek = dedupe_key(kMax, std::string("c\0id", 4));
  ASSERT_TRUE(parse_dedupe_key(ek, uid, cid));
  EXPECT_EQ(uid, kMax);
  EXPECT_EQ(cid, std::string_view("c\0id", 4));
  EXPECT_TRUE(ek.starts_with(dedupe_prefix(kMax)));
  // The store's memtable insert hints cut keys at these lengths.
  EXPECT_EQ(dedupe_prefix(kMax).size(), kDedupePrefixSize);
  EXPECT_EQ(msg_prefix(p).size(), kMsgPrefixSize);
}

TEST(KeysTest, ParsersRejectShortWrongTableAndGarbledKeys) {
  ConvId p = ConvId::pair(1, 2);
  ConvId conv;
  uint64_t u = 0, seq = 0;
  std::string_view sv;
  std::string msg = msg_key(p, 1);
  for (size_t n = 0; n < msg.size(); ++n) {
    EXPECT_FALSE(parse_msg_key(msg.substr(0, n), conv, seq)) << n;
  }
  EXPECT_FALSE(parse_msg_key(msg + "x", conv, seq));
  EXPECT_FALSE(parse_msg_key(member_key(p, 1), conv, seq));  // same length, other table
  std::string garbled = msg;
  garbled[1] = 'q';  // unknown conversation kind
  EXPECT_FALSE(parse_msg_key(garbled, conv, seq));

  std::string uc = user_conv_key(1, p);
  EXPECT_FALSE(parse_user_conv_key(uc.substr(0, 25), u, conv));
  EXPECT_FALSE(parse_user_conv_key(msg, u, conv));
  EXPECT_FALSE(parse_member_key(msg, conv, u));

  std::string dk = device_key(1, p, "d");
  for (size_t n = 0; n < 26; ++n) EXPECT_FALSE(parse_device_key(dk.substr(0, n), u, conv, sv));
  std::string bad_conv = dk;
  bad_conv[9] = 'x';
  EXPECT_FALSE(parse_device_key(bad_conv, u, conv, sv));

  EXPECT_FALSE(parse_dedupe_key("e1234567", u, sv));  // 7 bytes of uid
  EXPECT_FALSE(parse_dedupe_key(device_key(1, p, "d"), u, sv));
  EXPECT_FALSE(parse_dedupe_key("", u, sv));
}

// ---- Writer / Reader

TEST(KeysTest, CodecRoundTrips) {
  Writer w;
  std::vector<uint64_t> us = {0, 1, 127, 128, 300, 16383, 16384, 1ull << 35, kMax};
  std::vector<int64_t> is = {
      0, -1, 1, -64, 64, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  for (uint64_t u : us) w.put_u64(u);
  for (int64_t i : is) w.put_i64(i);
  std::string big(100'000, 'z');
  w.put_str("");
  w.put_str(std::string("a\0b", 3));
  w.put_str(big);
  std::string rec = w.take();
  EXPECT_EQ(w.size(), 0u);

  Reader r(rec);
  for (uint64_t u : us) {
    uint64_t got = 0;
    ASSERT_TRUE(r.u64(got));
    EXPECT_EQ(got, u);
  }
  for (int64_t i : is) {
    int64_t got = 0;
    ASSERT_TRUE(r.i64(got));
    EXPECT_EQ(got, i);
  }
  std::string_view s;
  ASSERT_TRUE(r.str(s));
  EXPECT_EQ(s, "");
  ASSERT_TRUE(r.str(s));
  EXPECT_EQ(s, std::string_view("a\0b", 3));
  EXPECT_FALSE(r.done());
  ASSERT_TRUE(r.str(s));
  EXPECT_EQ(s, big);
  EXPECT_TRUE(r.done());
  uint64_t extra;
  EXPECT_FALSE(r.u64(extra));  // past the end
  EXPECT_FALSE(r.done());      // and the failure sticks
}

TEST(KeysTest, VarintEncodingIsCompact) {
  Writer w;
  w.put_u64(127);
  EXPECT_EQ(w.size(), 1u);
  w.put_u64(128);
  EXPECT_EQ(w.size(), 3u);
  w.take();
  w.put_u64(kMax);
  EXPECT_EQ(w.size(), 10u);
  w.take();
  w.put_i64(-1);  // zigzag: small negatives stay small
  EXPECT_EQ(w.size(), 1u);
}

TEST(KeysTest, ReaderRejectsMalformedInput) {
  uint64_t u;
  std::string_view s;
  {
    Reader r(std::string_view("\x80", 1));  // continuation bit, then nothing
    EXPECT_FALSE(r.u64(u));
  }
  {
    std::string eleven(10, '\x80');  // more than 10 varint bytes
    eleven.push_back('\x01');
    Reader r(eleven);
    EXPECT_FALSE(r.u64(u));
  }
  {
    std::string overflow(9, '\xff');  // the 10th byte may only carry bit 63
    overflow.push_back('\x02');
    Reader r(overflow);
    EXPECT_FALSE(r.u64(u));
  }
  {
    std::string past_end = "\x05";  // length 5, then 3 bytes
    past_end += "abc";
    Reader r(past_end);
    EXPECT_FALSE(r.str(s));
    EXPECT_FALSE(r.ok());
  }
  {
    std::string huge_len(9, '\xff');  // length near 2^64 must not wrap the bounds check
    huge_len.push_back('\x01');
    huge_len += "abc";
    Reader r(huge_len);
    EXPECT_FALSE(r.str(s));
  }
  {
    Reader r("");
    EXPECT_TRUE(r.done());
    EXPECT_FALSE(r.u64(u));
  }
}

TEST(KeysTest, ReaderNeverCrashesOnRandomBytes) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 20'000; ++round) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Reader r(bytes);
    uint64_t u;
    int64_t i;
    std::string_view s;
    for (int step = 0; step < 16 && r.ok(); ++step) {
      switch (rng() % 3) {
        case 0:
          r.u64(u);
          break;
        case 1:
          r.i64(i);
          break;
        default:
          if (r.str(s)) {
            ASSERT_GE(s.data(), bytes.data());
            ASSERT_LE(s.data() + s.size(), bytes.data() + bytes.size());
          }
      }
    }
  }
}

// Every prefix of a valid record fails somewhere, never reads past its end.
TEST(KeysTest, TruncatedRecordsFail) {
  Writer w;
  w.put_u64(1ull << 40);
  w.put_str("hello");
  w.put_i64(-12345);
  std::string rec = w.take();
  for (size_t n = 0; n < rec.size(); ++n) {
    std::string cut = rec.substr(0, n);
    Reader r(cut);
    uint64_t u;
    std::string_view s;
    int64_t i;
    bool all = r.u64(u) && r.str(s) && r.i64(i);
    EXPECT_FALSE(all && r.done()) << n;
  }
}

}  // namespace
}  // namespace parley::store
