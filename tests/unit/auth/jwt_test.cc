#include "parley/auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "parley/auth/base64.h"

namespace parley::auth {
namespace {

// ---- base64 -----------------------------------------------------------------------------------

// RFC 4648 section 10.
struct Vector {
  std::string_view bytes, std, url;
};
constexpr Vector kVectors[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xff\xbf", "+/+/", "-_-_"},  // the two characters where the alphabets differ
};

TEST(Base64, Rfc4648Vectors) {
  for (const auto& v : kVectors) {
    SCOPED_TRACE(v.std);
    EXPECT_EQ(base64_encode(v.bytes), v.std);
    EXPECT_EQ(base64url_encode(v.bytes), v.url);
    std::string out = "junk";
    ASSERT_TRUE(base64_decode(v.std, out));
    EXPECT_EQ(out, v.bytes);
    out = "junk";
    ASSERT_TRUE(base64url_decode(v.url, out));
    EXPECT_EQ(out, v.bytes);
  }
}

TEST(Base64, RoundTripsEveryByteAtEveryLength) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (size_t len = 0; len <= all.size(); ++len) {
    const std::string bytes = all.substr(256 - len);  // ends with 0xff, so the tail varies
    std::string out;
    ASSERT_TRUE(base64url_decode(base64url_encode(bytes), out)) << len;
    EXPECT_EQ(out, bytes);
    ASSERT_TRUE(base64_decode(base64_encode(bytes), out)) << len;
    EXPECT_EQ(out, bytes);
  }
}

TEST(Base64Url, RejectsWhatTheEncoderNeverProduces) {
  const std::string_view bad[] = {
      "Zg==",    // padding
      "Zm8=",    // padding
      "Z",       // 4k+1 characters cannot encode whole bytes
      "Zm9vY",   // likewise
      "Zh",      // unused low bits set ("Zg" is the only encoding of "f")
      "Zm9",     // unused low bits set ("Zm8" is the only encoding of "fo")
      "+/+/",    // standard alphabet
      "Zm9v\n",  // whitespace
      "Zm 9v",   // whitespace
      "Zm9v.",   // separator
      std::string_view("Zm\0v", 4),
      "Zm9v\xc3\xa9",
  };
  for (std::string_view text : bad) {
    std::string out;
    EXPECT_FALSE(base64url_decode(text, out)) << testing::PrintToString(std::string(text));
  }
}

TEST(Base64, StandardDecoderRequiresExactPadding) {
  const std::string_view bad[] = {
      "Zg",        // missing padding
      "Zg=",       // short padding
      "Zg===",     // length not a multiple of 4
      "Z===",      // three '='
      "====",      // nothing but padding
      "Zm=v",      // '=' inside
      "=Zm9",      // '=' first
      "Zm9v====",  // a whole group of padding
      "Zh==",      // unused low bits set
      "Zm9=",      // unused low bits set
      "-_-_",      // URL alphabet
      "Zm9v\r\n",  // whitespace
  };
  for (std::string_view text : bad) {
    std::string out;
    EXPECT_FALSE(base64_decode(text, out)) << testing::PrintToString(std::string(text));
  }
}

// ---- equal_constant_time --------------------------------------------------------------------

TEST(JwtEqualConstantTime, ComparesContentAndLength) {
  EXPECT_TRUE(equal_constant_time("", ""));
  EXPECT_TRUE(equal_constant_time("secret", "secret"));
  EXPECT_TRUE(equal_constant_time(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(equal_constant_time("secret", "secreT"));
  EXPECT_FALSE(equal_constant_time("secret", "Secret"));
  EXPECT_FALSE(equal_constant_time("secret", "secret2"));
  EXPECT_FALSE(equal_constant_time("secret2", "secret"));
  EXPECT_FALSE(equal_constant_time("", "x"));
  EXPECT_FALSE(equal_constant_time("x", ""));
  EXPECT_FALSE(equal_constant_time(std::string_view("a\0", 2), "a"));
}

// ---- JWT ------------------------------------------------------------------------------------

constexpr std::string_view kSecret = "parley-test-secret";
constexpr int64_t kIat = 1700000000;
constexpr int64_t kExp = 1700003600;

// Computed offline with Python's hmac/hashlib/base64 (key kSecret):
// header {"alg":"HS256","typ":"JWT"}, payload {"sub":"alice","iat":1700000000,"exp":1700003600}.
constexpr std::string_view kAliceToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ."
    "a5Qcfo_DpBuxUmD1a9S7wbK7awShyQDOwXzymXg5w2U";

// Also from Python, shaped like another library's output: header {"typ": "JWT", "alg": "HS256"}
// (other order, spaces), payload {"iss": "shop", "sub": "b\u00f6b", "aud": ["parley"],
// "nbf": 1700000000, "exp": 1700003600, "extra": {"a": [1, 2.5, null]}} (no iat).
constexpr std::string_view kForeignToken =
    "eyJ0eXAiOiAiSldUIiwgImFsZyI6ICJIUzI1NiJ9."
    "eyJpc3MiOiAic2hvcCIsICJzdWIiOiAiYlx1MDBmNmIiLCAiYXVkIjogWyJwYXJsZXkiXSwgIm5iZiI6IDE3MDAwMDAw"
    "MDAsICJleHAiOiAxNzAwMDAzNjAwLCAiZXh0cmEiOiB7ImEiOiBbMSwgMi41LCBudWxsXX19."
    "OoeBmVjGpb2__d_ZoJi9PcwsuN-7PkAaGhzwlnHYELg";

// A token with exactly this header and payload JSON, signed with HMAC-`md` under `secret`
// (directly through OpenSSL, not through jwt_sign).
std::string sign_raw(std::string_view header, std::string_view payload,
                     std::string_view secret = kSecret, const EVP_MD* md = EVP_sha256()) {
  std::string input = base64url_encode(header) + "." + base64url_encode(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), mac_len));
}

constexpr std::string_view kHs256 = R"({"alg":"HS256","typ":"JWT"})";

struct Verdict {
  bool ok;
  JwtClaims claims;
  std::string why;
};

Verdict verify(std::string_view token, int64_t now = kIat, int64_t leeway = 60,
               std::string_view secret = kSecret) {
  Verdict v;
  v.ok = jwt_verify(JwtKey(std::string(secret)), token, now, v.claims, v.why, leeway);
  return v;
}

TEST(JwtSign, MatchesTokenComputedOffline) {
  EXPECT_EQ(jwt_sign(JwtKey(std::string(kSecret)), "alice", kIat, kExp), kAliceToken);
}

TEST(JwtVerify, AcceptsTokenComputedOffline) {
  const Verdict v = verify(kAliceToken);
  ASSERT_TRUE(v.ok) << v.why;
  EXPECT_EQ(v.claims.sub, "alice");
  EXPECT_EQ(v.claims.iat, kIat);
  EXPECT_EQ(v.claims.exp, kExp);
}

TEST(JwtVerify, AcceptsOtherLibrariesShapes) {
  const Verdict v = verify(kForeignToken);
  ASSERT_TRUE(v.ok) << v.why;
  EXPECT_EQ(v.claims.sub,
            "b\xc3\xb6"
            "b");
  EXPECT_EQ(v.claims.exp, kExp);
  EXPECT_EQ(v.claims.iat, 0);
  // No typ at all, escaped key names, a non-integer iat (ignored), nested extra claims.
  const Verdict w =
      verify(sign_raw(R"( { "\u0061lg" : "HS256" } )",
                      R"({"a":{"b":[{}]},"\u0073ub":"x","iat":"soon","exp":1700003600})"));
  ASSERT_TRUE(w.ok) << w.why;
  EXPECT_EQ(w.claims.sub, "x");
  EXPECT_EQ(w.claims.iat, 0);
}

TEST(JwtVerify, RoundTripsAwkwardSubjects) {
  const JwtKey key{std::string(kSecret)};
  for (std::string_view sub : {"a", "a\"b\\c/d\n\t\x01\x1f", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80",
                               "x.y.z", "0123456789_.-"}) {
    const std::string token = jwt_sign(key, sub, kIat, kExp);
    JwtClaims claims;
    std::string why;
    ASSERT_TRUE(jwt_verify(key, token, kIat, claims, why)) << why;
    EXPECT_EQ(claims.sub, sub);
    EXPECT_EQ(claims.exp, kExp);
    EXPECT_EQ(claims.iat, kIat);
  }
  // Extreme numbers survive too.
  const int64_t big = std::numeric_limits<int64_t>::max();
  const std::string token = jwt_sign(key, "bob", -5, big);
  JwtClaims claims;
  std::string why;
  ASSERT_TRUE(jwt_verify(key, token, big, claims, why)) << why;
  EXPECT_EQ(claims.iat, -5);
  EXPECT_EQ(claims.exp, big);
}

TEST(JwtVerify, RejectsWrongKey) {
  const Verdict v = verify(kAliceToken, kIat, 60, "another-secret");
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.why, "bad signature");
  EXPECT_FALSE(verify(kAliceToken, kIat, 60, "").ok);
}

TEST(JwtVerify, RejectsTamperedPayload) {
  const std::string_view t = kAliceToken;
  const size_t dot1 = t.find('.');
  const size_t dot2 = t.rfind('.');
  const std::string forged =
      std::string(t.substr(0, dot1 + 1)) +
      base64url_encode(R"({"sub":"admin","iat":1700000000,"exp":1700003600})") +
      std::string(t.substr(dot2));
  const Verdict v = verify(forged);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.why, "bad signature");
  // A later expiry under the old signature.
  const std::string extended =
      std::string(t.substr(0, dot1 + 1)) +
      base64url_encode(R"({"sub":"alice","iat":1700000000,"exp":1900000000})") +
      std::string(t.substr(dot2));
  EXPECT_FALSE(verify(extended).ok);
}

TEST(JwtVerify, RejectsTamperedSignature) {
  std::string t(kAliceToken);
  t[t.rfind('.') + 1] = 'b';  // "a5Q…" -> "b5Q…": still valid base64url, other bytes
  const Verdict v = verify(t);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.why, "bad signature");
  // Truncated, extended, emptied.
  const std::string whole(kAliceToken);
  EXPECT_FALSE(verify(whole.substr(0, whole.size() - 4)).ok);
  EXPECT_FALSE(verify(whole + "AAAA").ok);
  EXPECT_FALSE(verify(whole.substr(0, whole.rfind('.') + 1)).ok);
  // The last character carries 2 unused bits: "U" and "V" decode alike, only "U" is accepted.
  std::string alias = whole;
  alias.back() = 'V';
  EXPECT_FALSE(verify(alias).ok);
}

// Correctly HMAC-SHA256-signed tokens whose header is unacceptable.
TEST(JwtVerify, RejectsEveryAlgButHs256) {
  const std::string payload = R"({"sub":"alice","exp":1700003600})";
  const std::vector<std::string> headers = {
      R"({"alg":"none","typ":"JWT"})",
      R"({"alg":"HS512","typ":"JWT"})",
      R"({"alg":"RS256","typ":"JWT"})",
      R"({"alg":"hs256"})",
      R"({"alg":"HS256 "})",
      R"({"alg":""})",
      R"({"alg":256})",
      R"({"alg":null})",
      R"({"alg":["HS256"]})",
      R"({"typ":"JWT"})",
      R"({})",
  };
  for (const auto& h : headers) {
    const Verdict v = verify(sign_raw(h, payload));
    EXPECT_FALSE(v.ok) << h;
    EXPECT_FALSE(v.why.empty()) << h;
  }
  EXPECT_EQ(verify(sign_raw(R"({"alg":"none"})", payload)).why, "alg is not HS256");
  // "alg":"none" with no signature at all, the classic attack.
  const std::string unsigned_token =
      base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + base64url_encode(payload) + ".";
  EXPECT_EQ(verify(unsigned_token).why, "alg is not HS256");
  // A genuine HS512 token made with the same secret.
  EXPECT_EQ(verify(sign_raw(R"({"alg":"HS512","typ":"JWT"})", payload, kSecret, EVP_sha512())).why,
            "alg is not HS256");
  // Two algs (a parser that reads the last one would see HS256); crit extensions.
  EXPECT_FALSE(verify(sign_raw(R"({"alg":"none","alg":"HS256"})", payload)).ok);
  EXPECT_FALSE(verify(sign_raw(R"({"alg":"HS256","alg":"HS256"})", payload)).ok);
  EXPECT_EQ(verify(sign_raw(R"({"alg":"HS256","crit":["b64"],"b64":false})", payload)).why,
            "crit header not supported");
  EXPECT_TRUE(verify(sign_raw(R"({"alg":"HS256"})", payload)).ok);
}

TEST(JwtVerify, RejectsMalformedStructure) {
  const std::string h = base64url_encode(kHs256);
  const std::string p = base64url_encode(R"({"sub":"alice","exp":1700003600})");
  const std::string good = sign_raw(kHs256, R"({"sub":"alice","exp":1700003600})");
  const std::string sig = good.substr(good.rfind('.') + 1);
  ASSERT_TRUE(verify(good).ok);
  const std::vector<std::string> bad = {
      "",
      ".",
      "..",
      "...",
      h,
      h + "." + p,
      h + "." + p + "." + sig + ".",
      h + "." + p + "." + sig + "." + sig,
      "." + p + "." + sig,
      h + ".." + sig,
      h + "=." + p + "." + sig,  // padding
      h + "." + p + "." + sig + "=",
      " " + good,
      good + " ",
      good + "\n",
      h + "." + p + "." + base64_encode("0123456789abcdef0123456789abcdef"),  // '=' padded
  };
  for (const auto& t : bad) {
    const Verdict v = verify(t);
    EXPECT_FALSE(v.ok) << t;
    EXPECT_FALSE(v.why.empty()) << t;
  }
  EXPECT_EQ(verify(h + "." + p).why, "not three dot-separated parts");
  EXPECT_EQ(verify(h + "=." + p + "." + sig).why, "bad base64url");
}

TEST(JwtVerify, RejectsHeaderOrPayloadThatIsNotOneObject) {
  const std::string payload = R"({"sub":"alice","exp":1700003600})";
  const std::string_view headers[] = {
      "",
      "[]",
      R"("HS256")",
      "null",
      "{",
      R"({"alg":"HS256")",
      R"({"alg":"HS256"} {})",
      R"({"alg":"HS256"}x)",
      R"({"alg":"HS256",})",
      std::string_view("{\"alg\":\"HS256\"}\0", 16),  // a NUL after the object
      "{\"alg\":\"HS256\",\"x\":\"\xff\"}",           // not UTF-8
  };
  for (std::string_view json : headers) {
    const Verdict v = verify(sign_raw(json, payload));
    EXPECT_FALSE(v.ok) << json;
  }
  EXPECT_EQ(verify(sign_raw("[]", payload)).why, "header is not a valid JSON object");
  const std::string_view payloads[] = {
      "",
      "[]",
      "42",
      R"("alice")",
      R"({"sub":"alice","exp":1700003600)",
      R"({"sub":"alice","exp":1700003600}])",
      R"({"sub":"alice","exp":1700003600,})",
      "{\"sub\":\"al\xc3\",\"exp\":1700003600}",  // not UTF-8
  };
  for (std::string_view json : payloads) {
    const Verdict v = verify(sign_raw(kHs256, json));
    EXPECT_FALSE(v.ok) << json;
  }
  EXPECT_EQ(verify(sign_raw(kHs256, "[]")).why, "payload is not a valid JSON object");
}

TEST(JwtVerify, RequiresStringSubAndIntegerExp) {
  struct Case {
    std::string_view payload, why;
  };
  const Case cases[] = {
      {R"({"exp":1700003600})", "sub missing or empty"},
      {R"({"sub":"","exp":1700003600})", "sub missing or empty"},
      {R"({"sub":7,"exp":1700003600})", "sub is not a string"},
      {R"({"sub":null,"exp":1700003600})", "sub is not a string"},
      {R"({"sub":["alice"],"exp":1700003600})", "sub is not a string"},
      {R"({"sub":"alice","exp":1700003600,"sub":"admin"})", "duplicate sub"},
      {R"({"sub":"alice"})", "exp missing"},
      {R"({"sub":"alice","iat":1700000000})", "exp missing"},
      {R"({"sub":"alice","exp":"1700003600"})", "exp is not an integer"},
      {R"({"sub":"alice","exp":1700003600.5})", "exp is not an integer"},
      {R"({"sub":"alice","exp":1.7e9})", "exp is not an integer"},
      {R"({"sub":"alice","exp":null})", "exp is not an integer"},
      {R"({"sub":"alice","exp":true})", "exp is not an integer"},
      {R"({"sub":"alice","exp":99999999999999999999})", "exp is not an integer"},
      {R"({"sub":"alice","exp":1700003600,"exp":1900000000})", "duplicate exp"},
  };
  for (const auto& c : cases) {
    const Verdict v = verify(sign_raw(kHs256, c.payload));
    EXPECT_FALSE(v.ok) << c.payload;
    EXPECT_EQ(v.why, c.why) << c.payload;
  }
}

TEST(JwtVerify, ExpiryHonoursLeeway) {
  const JwtKey key{std::string(kSecret)};
  const std::string t = jwt_sign(key, "alice", 900, 1000);
  EXPECT_TRUE(verify(t, 999).ok);
  EXPECT_TRUE(verify(t, 1000).ok);
  EXPECT_TRUE(verify(t, 1059).ok);  // within the default 60 s
  EXPECT_TRUE(verify(t, 1060).ok);  // exp + leeway == now
  EXPECT_EQ(verify(t, 1061).why, "token expired");
  EXPECT_FALSE(verify(t, kIat).ok);  // long gone
  EXPECT_TRUE(verify(t, 1000, 0).ok);
  EXPECT_FALSE(verify(t, 1001, 0).ok);
  EXPECT_TRUE(verify(t, 1300, 300).ok);
  EXPECT_FALSE(verify(t, 1301, 300).ok);
  // The offline token: valid until kExp + 60.
  EXPECT_TRUE(verify(kAliceToken, kExp + 60).ok);
  EXPECT_EQ(verify(kAliceToken, kExp + 61).why, "token expired");
  // Sums that would overflow int64 do not wrap around.
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  EXPECT_TRUE(verify(jwt_sign(key, "a", 0, max), max, 60).ok);
  EXPECT_FALSE(verify(jwt_sign(key, "a", 0, min), 0, -60).ok);
  EXPECT_FALSE(verify(jwt_sign(key, "a", 0, -1), 0, 0).ok);
}

TEST(JwtVerify, FailureLeavesClaimsUntouched) {
  JwtClaims claims{"before", 1, 2};
  std::string why;
  EXPECT_FALSE(jwt_verify(JwtKey(std::string(kSecret)),
                          sign_raw(kHs256, R"({"sub":"alice","exp":1})"), kIat, claims, why));
  EXPECT_EQ(why, "token expired");
  EXPECT_EQ(claims.sub, "before");
  EXPECT_EQ(claims.exp, 1);
  EXPECT_EQ(claims.iat, 2);
}

TEST(JwtVerify, RefusesOverlongTokens) {
  const JwtKey key{std::string(kSecret)};
  const std::string fits = jwt_sign(key, std::string(5000, 'x'), kIat, kExp);
  ASSERT_LE(fits.size(), kJwtMaxBytes);
  EXPECT_TRUE(verify(fits).ok);
  const std::string too_long = jwt_sign(key, std::string(kJwtMaxBytes, 'x'), kIat, kExp);
  EXPECT_EQ(verify(too_long).why, "token too long");
}

TEST(JwtKey, RandomKeysAreDistinct32ByteSecrets) {
  const JwtKey a = JwtKey::random();
  const JwtKey b = JwtKey::random();
  EXPECT_EQ(a.secret().size(), 32u);
  EXPECT_EQ(b.secret().size(), 32u);
  EXPECT_NE(a.secret(), b.secret());
  const std::string token = jwt_sign(a, "alice", kIat, kExp);
  JwtClaims claims;
  std::string why;
  EXPECT_TRUE(jwt_verify(a, token, kIat, claims, why)) << why;
  EXPECT_FALSE(jwt_verify(b, token, kIat, claims, why));
  EXPECT_EQ(JwtKey("s3cret").secret(), "s3cret");
}

}  // namespace
}  // namespace parley::auth
