// libFuzzer target: the auth codecs on arbitrary bytes. The input is taken as a token (the seeds
// are real tokens signed with kSecret) and checked four ways:
//  1. jwt_verify never crashes; on failure it gives a reason and leaves the claims alone; a token
//     it accepts has a non-empty sub, has not expired, and fails under any other key.
//  2. Everything before the last '.' is re-signed with the key, so the JSON checks behind the
//     signature are reached too; a token accepted as is must give the same claims re-signed.
//  3. base64url and base64 decoding accept only canonical text (decode then encode gives the
//     input back) and encoding round-trips.
//  4. The input as a subject: jwt_sign then jwt_verify gives it back when it is valid UTF-8.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/auth/base64.h"
#include "parley/auth/jwt.h"
#include "parley/net/utf8.h"

namespace {

using parley::auth::JwtClaims;
using parley::auth::JwtKey;

constexpr std::string_view kSecret = "fuzz-secret";
constexpr int64_t kNow = 1700000000;

const JwtKey& key() {
  static const JwtKey k{std::string(kSecret)};
  return k;
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Checks what jwt_verify says about `token`; returns whether it accepted it.
bool verify_checked(std::string_view token, JwtClaims& claims) {
  std::string why;
  const JwtClaims before = claims;
  const bool ok = parley::auth::jwt_verify(key(), token, kNow, claims, why);
  if (!ok) {
    check(!why.empty() && claims.sub == before.sub && claims.exp == before.exp);
    return false;
  }
  check(!claims.sub.empty() && claims.exp >= kNow - 60 &&
        token.size() <= parley::auth::kJwtMaxBytes);
  // Another key never accepts it.
  JwtClaims other;
  check(!parley::auth::jwt_verify(JwtKey("not the " + std::string(kSecret)), token, kNow, other,
                                  why));
  return true;
}

// `signing_input` ("header.payload") followed by its HMAC-SHA256 under kSecret.
std::string resign(std::string_view signing_input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_len);
  std::string token(signing_input);
  token += '.';
  token +=
      parley::auth::base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
  return token;
}

void check_base64(std::string_view in) {
  std::string out;
  if (parley::auth::base64url_decode(in, out)) check(parley::auth::base64url_encode(out) == in);
  if (parley::auth::base64_decode(in, out)) check(parley::auth::base64_encode(out) == in);
  check(parley::auth::base64url_decode(parley::auth::base64url_encode(in), out) && out == in);
  check(parley::auth::base64_decode(parley::auth::base64_encode(in), out) && out == in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  JwtClaims claims;
  const bool accepted = verify_checked(in, claims);
  const size_t last_dot = in.rfind('.');
  if (last_dot != std::string_view::npos) {
    JwtClaims resigned;
    const bool ok = verify_checked(resign(in.substr(0, last_dot)), resigned);
    if (accepted) check(ok && resigned.sub == claims.sub && resigned.exp == claims.exp);
  }

  check_base64(in);

  if (!in.empty() && in.size() <= 512 && parley::net::utf8_valid(in)) {
    JwtClaims back;
    const std::string token = parley::auth::jwt_sign(key(), in, kNow, kNow + 3600);
    check(verify_checked(token, back) && back.sub == in && back.exp == kNow + 3600 &&
          back.iat == kNow);
  }
  check(parley::auth::equal_constant_time(in, in));
  check(!parley::auth::equal_constant_time(in, std::string(in) + "x"));
  return 0;
}
