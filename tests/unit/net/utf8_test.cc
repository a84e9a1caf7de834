#include "parley/net/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::net {
namespace {

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Feeds `s` to a fresh validator in the chunks ending at `cuts` (then the rest); returns whether
// every feed succeeded and the text was complete at the end.
bool valid_in_chunks(std::string_view s, const std::vector<size_t>& cuts) {
  Utf8Validator v;
  size_t pos = 0;
  bool ok = true;
  for (size_t cut : cuts) {
    ok = v.feed(bytes_of(s.substr(pos, cut - pos))) && ok;
    pos = cut;
  }
  ok = v.feed(bytes_of(s.substr(pos))) && ok;
  return ok && v.complete();
}

// Checks utf8_valid() and Utf8Validator agree with `want` whole, at every two-way split and one
// byte at a time.
void expect_valid(std::string_view s, bool want) {
  SCOPED_TRACE(testing::PrintToString(std::string(s)));
  EXPECT_EQ(utf8_valid(s), want);
  EXPECT_EQ(valid_in_chunks(s, {}), want) << "whole";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(valid_in_chunks(s, {cut}), want) << "split at " << cut;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < s.size(); ++i) every.push_back(i);
  EXPECT_EQ(valid_in_chunks(s, every), want) << "byte at a time";
}

TEST(Utf8Test, ValidText) {
  for (std::string_view s : {
           std::string_view(""),
           std::string_view("hello, world"),
           std::string_view("\x7f"),
           std::string_view("\xc2\x80"),              // U+0080, the first two-byte code point
           std::string_view("\xdf\xbf"),              // U+07FF
           std::string_view("\xe0\xa0\x80"),          // U+0800, the first three-byte code point
           std::string_view("\xed\x9f\xbf"),          // U+D7FF, just below the surrogates
           std::string_view("\xee\x80\x80"),          // U+E000, just above them
           std::string_view("\xef\xbf\xbf"),          // U+FFFF
           std::string_view("\xf0\x90\x80\x80"),      // U+10000, the first four-byte code point
           std::string_view("\xf4\x8f\xbf\xbf"),      // U+10FFFF, the last code point
           std::string_view("h\xc3\xa9llo w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x8e\x89"),
           std::string_view("an ASCII run long enough for the word-at-a-time path \xe2\x82\xac!"),
       }) {
    expect_valid(s, true);
  }
}

TEST(Utf8Test, InvalidText) {
  for (std::string_view s : {
           std::string_view("\xc0\x80"),          // overlong U+0000
           std::string_view("\xc1\xbf"),          // overlong U+007F
           std::string_view("\xe0\x80\x80"),      // overlong
           std::string_view("\xe0\x9f\xbf"),      // overlong U+07FF
           std::string_view("\xf0\x80\x80\x80"),  // overlong
           std::string_view("\xf0\x8f\xbf\xbf"),  // overlong U+FFFF
           std::string_view("\xed\xa0\x80"),      // U+D800, a surrogate
           std::string_view("\xed\xbf\xbf"),      // U+DFFF
           std::string_view("\xf4\x90\x80\x80"),  // U+110000
           std::string_view("\xf5\x80\x80\x80"),
           std::string_view("\xff"),
           std::string_view("\x80"),              // a lone continuation byte
           std::string_view("a\xbf"),
           std::string_view("\xc2"),              // truncated sequences
           std::string_view("\xe0\xa0"),
           std::string_view("\xf0\x90\x80"),
           std::string_view("\xc2\x41"),          // a lead byte followed by ASCII
           std::string_view("\xe2\x82\xac\x80"),
           std::string_view("0123456789abcdef0123456789abcdef\xc3\x28 and more"),
       }) {
    expect_valid(s, false);
  }
}

TEST(Utf8Test, FailsFastOnTheFirstImpossibleByte) {
  struct Case {
    std::string_view text;
    size_t bad_at;  // index of the first byte after which no valid continuation exists
  };
  for (const Case& c : {
           Case{"\xc0\x80", 0},
           Case{"\xe0\x80\x80", 1},
           Case{"\xed\xa0\x80", 1},
           Case{"\xf4\x90\x80\x80", 1},
           Case{"\xf0\x8f\xbf\xbf", 1},
           Case{"\xf8\x88\x80\x80\x80", 0},
           Case{"abc\xe2\x82\x41", 5},
           Case{"0123456789abcdef0123456789abcdef\x80", 32},
       }) {
    SCOPED_TRACE(testing::PrintToString(std::string(c.text)));
    Utf8Validator v;
    for (size_t i = 0; i < c.text.size(); ++i) {
      const bool ok = v.feed(bytes_of(c.text.substr(i, 1)));
      EXPECT_EQ(ok, i < c.bad_at) << "byte " << i;
    }
  }
}

TEST(Utf8Test, RejectionIsStickyUntilReset) {
  Utf8Validator v;
  EXPECT_FALSE(v.feed(bytes_of("\xff")));
  EXPECT_FALSE(v.complete());
  EXPECT_FALSE(v.feed(bytes_of("abc")));
  EXPECT_FALSE(v.complete());
  v.reset();
  EXPECT_TRUE(v.complete());
  EXPECT_TRUE(v.feed(bytes_of("abc")));
  EXPECT_TRUE(v.complete());
}

TEST(Utf8Test, IncompleteUntilTheLastByte) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed(bytes_of("\xf0\x9f")));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed(bytes_of("\x8e")));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed(bytes_of("\x89")));
  EXPECT_TRUE(v.complete());
  EXPECT_TRUE(v.feed({}));
  EXPECT_TRUE(v.complete());
}

// Encodes every scalar value and checks both validators accept it; surrogates must be refused.
TEST(Utf8Test, EveryCodePoint) {
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    std::string s;
    if (cp < 0x80) {
      s = {static_cast<char>(cp)};
    } else if (cp < 0x800) {
      s = {static_cast<char>(0xc0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3f))};
    } else if (cp < 0x10000) {
      s = {static_cast<char>(0xe0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
           static_cast<char>(0x80 | (cp & 0x3f))};
    } else {
      s = {static_cast<char>(0xf0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3f)),
           static_cast<char>(0x80 | ((cp >> 6) & 0x3f)), static_cast<char>(0x80 | (cp & 0x3f))};
    }
    const bool want = cp < 0xd800 || cp > 0xdfff;
    Utf8Validator v;
    const bool got = v.feed(bytes_of(s)) && v.complete();
    if (got != want || utf8_valid(s) != want) {
      ADD_FAILURE() << "code point " << std::hex << cp;
      return;
    }
  }
}

// The DFA must agree with simdjson on every 1-, 2- and 3-byte string with a non-ASCII first
// byte (ASCII-led strings reduce to shorter ones), and on 4-byte strings around the edges.
TEST(Utf8Test, AgreesWithSimdjsonOnShortStrings) {
  auto check = [](std::string_view s) {
    Utf8Validator v;
    const bool dfa = v.feed(bytes_of(s)) && v.complete();
    if (dfa != utf8_valid(s)) {
      ADD_FAILURE() << "disagree on " << testing::PrintToString(std::string(s));
      return false;
    }
    return true;
  };
  for (int a = 0; a < 256; ++a) {
    if (!check(std::string(1, static_cast<char>(a)))) return;
    for (int b = 0; b < 256; ++b) {
      const char ab[] = {static_cast<char>(a), static_cast<char>(b)};
      if (!check({ab, 2})) return;
      if (a < 0x80) continue;
      for (int c = 0; c < 256; ++c) {
        const char abc[] = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        if (!check({abc, 3})) return;
      }
    }
  }
  const int edges[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
  for (int a = 0xf0; a < 0x100; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c : edges) {
        for (int d : edges) {
          const char s[] = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                            static_cast<char>(d)};
          if (!check({s, 4})) return;
        }
      }
    }
  }
}

}  // namespace
}  // namespace parley::net
