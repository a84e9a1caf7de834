#include "parley/auth/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <simdjson.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "parley/auth/base64.h"
#include "parley/proto/json_writer.h"

namespace parley::auth {
namespace {

using JsonValue = simdjson::ondemand::value;

constexpr size_t kMacBytes = 32;  // HMAC-SHA256
constexpr size_t kRandomKeyBytes = 32;
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

// HMAC-SHA256 of `data` under `key` into `mac`; false only if OpenSSL fails.
bool hmac_sha256(std::string_view key, std::string_view data, std::string& mac) {
  if (key.size() > INT_MAX) return false;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
           &md_len) == nullptr ||
      md_len != kMacBytes) {
    return false;
  }
  mac.assign(reinterpret_cast<const char*>(md), md_len);
  return true;
}

// One parser per thread: it keeps its buffers between tokens, and a document borrows it.
simdjson::ondemand::parser& json_parser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

// Calls on_field(key, value) for each member of `json`, which must be exactly one JSON object
// (nothing after it). on_field returns false to stop; then, or when `json` is not such an
// object, returns false. Keys are unescaped ("\u0061lg" is "alg").
template <typename OnField>
bool for_each_field(std::string_view json, OnField&& on_field) {
  const simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (json_parser().iterate(padded).get(doc)) return false;
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) return false;
  for (auto member : object) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(member).get(field) || field.unescaped_key().get(key)) return false;
    if (!on_field(key, field.value())) return false;
  }
  const char* trailing;  // current_location() fails exactly when nothing follows the object
  return doc.current_location().get(trailing) != simdjson::SUCCESS;
}

// Checks the JOSE header; on failure returns the reason.
const char* check_header(std::string_view json) {
  bool seen_alg = false;
  bool alg_ok = false;
  bool crit = false;
  const bool parsed = for_each_field(json, [&](std::string_view key, JsonValue& value) {
    if (key == "alg") {
      std::string_view alg;
      if (seen_alg || value.get_string().get(alg)) return false;
      seen_alg = true;
      alg_ok = alg == "HS256";
    } else if (key == "crit") {
      crit = true;  // RFC 7515 4.1.11: extensions we do not understand make the token invalid
    }
    return true;
  });
  if (!parsed) return "header is not a valid JSON object";
  if (!alg_ok) return "alg is not HS256";
  if (crit) return "crit header not supported";
  return nullptr;
}

// Reads the claims we use; on failure returns the reason.
const char* read_claims(std::string_view json, JwtClaims& claims) {
  bool seen_sub = false;
  bool seen_exp = false;
  const char* problem = "payload is not a valid JSON object";
  auto bad = [&problem](const char* reason) {
    problem = reason;
    return false;
  };
  const bool parsed = for_each_field(json, [&](std::string_view key, JsonValue& value) {
    if (key == "sub") {
      std::string_view sub;
      if (seen_sub) return bad("duplicate sub");
      if (value.get_string().get(sub)) return bad("sub is not a string");
      seen_sub = true;
      claims.sub.assign(sub);
    } else if (key == "exp") {
      if (seen_exp) return bad("duplicate exp");
      if (value.get_int64().get(claims.exp)) return bad("exp is not an integer");
      seen_exp = true;
    } else if (key == "iat") {
      int64_t iat;
      claims.iat = value.get_int64().get(iat) ? 0 : iat;
    }
    return true;
  });
  if (!parsed) return problem;
  if (!seen_sub || claims.sub.empty()) return "sub missing or empty";
  if (!seen_exp) return "exp missing";
  return nullptr;
}

// exp + leeway < now, without overflow.
bool expired(int64_t exp, int64_t now, int64_t leeway) {
  int64_t limit;
  if (__builtin_add_overflow(exp, leeway, &limit)) {
    limit = leeway > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return limit < now;
}

}  // namespace

bool equal_constant_time(std::string_view a, std::string_view b) {
  // CRYPTO_memcmp reads all a.size() bytes of both sides. When the sizes differ, `a` is compared
  // with itself, so the work is the same and the time still depends only on a.size().
  const bool same_size = a.size() == b.size();
  const char* other = same_size ? b.data() : a.data();
  const int diff = CRYPTO_memcmp(a.data(), other, a.size());
  return same_size && diff == 0;
}

JwtKey::JwtKey(std::string secret) : secret_(std::move(secret)) {}

JwtKey JwtKey::random() {
  unsigned char bytes[kRandomKeyBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    std::fputs("parley: RAND_bytes failed; cannot create a JWT key\n", stderr);
    std::abort();
  }
  return JwtKey(std::string(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

const std::string& JwtKey::secret() const { return secret_; }

std::string jwt_sign(const JwtKey& key, std::string_view sub, int64_t iat_s, int64_t exp_s) {
  std::string payload;
  proto::JsonWriter(payload)
      .begin_object()
      .field("sub", sub)
      .field("iat", iat_s)
      .field("exp", exp_s)
      .end_object();
  std::string token = base64url_encode(kHeaderJson);
  token += '.';
  token += base64url_encode(payload);
  std::string mac;
  if (!hmac_sha256(key.secret(), token, mac)) return {};
  token += '.';
  token += base64url_encode(mac);
  return token;
}

bool jwt_verify(const JwtKey& key, std::string_view token, int64_t now_s, JwtClaims& out,
                std::string& why, int64_t leeway_s) {
  auto fail = [&why](const char* reason) {
    why = reason;
    return false;
  };
  if (token.size() > kJwtMaxBytes) return fail("token too long");
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail("not three dot-separated parts");
  }
  std::string header;
  std::string payload;
  std::string signature;
  if (!base64url_decode(token.substr(0, dot1), header) ||
      !base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), payload) ||
      !base64url_decode(token.substr(dot2 + 1), signature)) {
    return fail("bad base64url");
  }
  if (const char* problem = check_header(header)) return fail(problem);

  // The signature covers the encoded header and payload exactly as they appear in the token.
  std::string mac;
  if (!hmac_sha256(key.secret(), token.substr(0, dot2), mac)) return fail("HMAC failed");
  if (!equal_constant_time(signature, mac)) return fail("bad signature");

  JwtClaims claims;
  if (const char* problem = read_claims(payload, claims)) return fail(problem);
  if (expired(claims.exp, now_s, leeway_s)) return fail("token expired");
  out = std::move(claims);
  return true;
}

}  // namespace parley::auth
