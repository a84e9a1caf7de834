#include "parley/net/ws_handshake.h"

#include <gtest/gtest.h>

namespace parley::net {
namespace {

// RFC 6455 section 1.3 (and 4.2.2): the sample nonce and its accept value.
TEST(WsHandshakeTest, Rfc6455Example) {
  EXPECT_EQ(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsHandshakeTest, AcceptKeyIsBase64OfSha1) {
  // Checked with Python: base64(sha1(key + GUID)). SHA-1 is 20 bytes: 28 base64 characters.
  EXPECT_EQ(ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  EXPECT_EQ(ws_accept_key("").size(), 28u);
}

TEST(WsHandshakeTest, KeyValidity) {
  EXPECT_TRUE(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(ws_key_valid("x3JJHMbDL1EzLkh9GBhXDw=="));
  EXPECT_TRUE(ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(ws_key_valid("+/+/+/+/+/+/+/+/+/+/+w=="));
  EXPECT_FALSE(ws_key_valid(""));
  EXPECT_FALSE(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="));     // 23 characters
  EXPECT_FALSE(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==="));   // 25
  EXPECT_FALSE(ws_key_valid("dGhlIHNhbXBsZSBub25jZQAA"));    // no padding: 18 bytes
  EXPECT_FALSE(ws_key_valid("dGhlIHNhbXBsZSBub25jZ==="));    // 15 bytes
  EXPECT_FALSE(ws_key_valid("dGhlIHNhbXBsZSBub25jZ-=="));    // base64url, not base64
  EXPECT_FALSE(ws_key_valid("dGhlIHNhbXBsZSBub25j Q=="));
  EXPECT_FALSE(ws_key_valid(" GhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(ws_key_valid("the sample nonce"));
}

}  // namespace
}  // namespace parley::net
