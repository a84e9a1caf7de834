#include "parley/http/url.h"

#include <gtest/gtest.h>

namespace parley::http {
namespace {

TEST(PercentDecode, Basics) {
  EXPECT_EQ(percent_decode("", false), "");
  EXPECT_EQ(percent_decode("/plain/path", false), "/plain/path");
  EXPECT_EQ(percent_decode("a%20b", false), "a b");
  EXPECT_EQ(percent_decode("%e4%BD%a0", false), "\xe4\xbd\xa0");
  EXPECT_EQ(percent_decode("%00", false), std::string(1, '\0'));
  EXPECT_EQ(percent_decode("a%2Fb", false), "a/b");
}

TEST(PercentDecode, Plus) {
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a%2Bb", true), "a+b");
}

TEST(PercentDecode, BadEscapes) {
  EXPECT_EQ(percent_decode("%", false), std::nullopt);
  EXPECT_EQ(percent_decode("%4", false), std::nullopt);
  EXPECT_EQ(percent_decode("abc%", false), std::nullopt);
  EXPECT_EQ(percent_decode("%zz", false), std::nullopt);
  EXPECT_EQ(percent_decode("%4g", false), std::nullopt);
  EXPECT_EQ(percent_decode("%%41", false), std::nullopt);
}

TEST(QueryParam, FindsFirstDecodedValue) {
  const std::string_view q = "after=bob&limit=10&name=a%20b+c&limit=20";
  EXPECT_EQ(query_param(q, "after"), "bob");
  EXPECT_EQ(query_param(q, "limit"), "10");
  EXPECT_EQ(query_param(q, "name"), "a b c");
  EXPECT_EQ(query_param(q, "missing"), std::nullopt);
  EXPECT_EQ(query_param("", "a"), std::nullopt);
}

TEST(QueryParam, EdgeCases) {
  EXPECT_EQ(query_param("flag&x=1", "flag"), "");
  EXPECT_EQ(query_param("x=", "x"), "");
  EXPECT_EQ(query_param("&&x=1&", "x"), "1");
  EXPECT_EQ(query_param("x=a=b", "x"), "a=b");
  EXPECT_EQ(query_param("my%20key=v", "my key"), "v");
  EXPECT_EQ(query_param("=v", ""), "v");
  EXPECT_EQ(query_param("x=%zz&x=ok", "x"), std::nullopt) << "the first match decides";
  EXPECT_EQ(query_param("%zz=1&x=2", "x"), "2") << "undecodable keys are skipped";
  EXPECT_EQ(query_param("xx=1", "x"), std::nullopt);
}

}  // namespace
}  // namespace parley::http
