// JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (JWS compact form, RFC 7515): parleyd
// mints them at login, and a business back-end may mint them with any JWT library sharing
// `jwt_secret`. Only HS256 is accepted, and `exp` is required (PROTOCOL.md, "Identity").
// Every function here is pure apart from JwtKey::random(); any thread; none blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::auth {

// Compares without an early exit (timing does not reveal a matching prefix); different lengths
// -> false. The running time depends only on a.size(), so pass the untrusted input as `a` and
// the secret as `b`: not even the secret's length leaks.
bool equal_constant_time(std::string_view a, std::string_view b);

// An HS256 key. A plain value; copy it to each thread that verifies.
class JwtKey {
 public:
  explicit JwtKey(std::string secret);  // HS256 key bytes (any length, any bytes)
  // 32 random bytes from RAND_bytes (used when jwt_secret is empty). Aborts the process if
  // OpenSSL has no entropy: a predictable key would let anyone log in as anyone.
  static JwtKey random();
  const std::string& secret() const;

 private:
  std::string secret_;
};

struct JwtClaims {
  std::string sub;  // the user name; never empty in a verified token
  int64_t exp = 0;  // expiry, seconds since the epoch
  int64_t iat = 0;  // issued at, seconds since the epoch; 0 when absent or not an integer
};

// Tokens longer than this are refused unread (a login token is ~200 bytes).
inline constexpr size_t kJwtMaxBytes = 8192;

// Header {"alg":"HS256","typ":"JWT"}, payload {"sub":…,"iat":…,"exp":…} (`sub` JSON-escaped;
// it must be UTF-8, or the token will not verify).
std::string jwt_sign(const JwtKey& key, std::string_view sub, int64_t iat_s, int64_t exp_s);

// Verifies an HS256 compact JWS. Rejects: not 3 base64url parts, header not a JSON object,
// alg != "HS256" (including "none", "HS512", "RS256", missing alg), a `crit` header (no
// extension is understood), bad signature (HMAC-SHA256 via OpenSSL, compared in constant
// time), payload not a JSON object, sub missing/not a string/empty, exp missing or not an
// integer number, exp + leeway_s < now_s (default leeway 60 s as the protocol says), a
// duplicated alg/sub/exp, and tokens over kJwtMaxBytes. Accepts tokens minted by standard JWT
// libraries (e.g. PyJWT): header keys in any order, `typ` optional, other claims (nbf, aud, …)
// ignored. On success fills `out` and returns true (`why` untouched); on failure returns false,
// sets `why` to a short human reason and leaves `out` untouched.
bool jwt_verify(const JwtKey& key, std::string_view token, int64_t now_s, JwtClaims& out,
                std::string& why, int64_t leeway_s = 60);

}  // namespace parley::auth
