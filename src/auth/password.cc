#include "parley/auth/password.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>

#include "parley/auth/base64.h"
#include "parley/auth/jwt.h"

namespace parley::auth {
namespace {

constexpr std::string_view kScheme = "scrypt";
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMinStoredSalt = 8;
constexpr size_t kMaxStoredSalt = 64;
constexpr size_t kMinStoredHash = 16;
constexpr size_t kMaxStoredHash = 64;

// scrypt of `password` into `key_len` bytes; false if OpenSSL refuses. `params` must be valid.
bool scrypt(std::string_view password, std::string_view salt, const ScryptParams& params,
            size_t key_len, std::string& key) {
  // What OpenSSL allocates: B (128 r p bytes) and V plus scratch (128 r (N + 2) bytes). Passed
  // as the cap so its default cap (32 MiB) does not refuse parameters we accept.
  const uint64_t memory = 128 * uint64_t{params.r} * (params.n + 2 + params.p);
  key.resize(key_len);
  return EVP_PBE_scrypt(password.data(), password.size(),
                        reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), params.n,
                        params.r, params.p, memory, reinterpret_cast<unsigned char*>(key.data()),
                        key.size()) == 1;
}

// Parses a whole decimal field; no sign, no spaces.
template <typename T>
bool parse_number(std::string_view text, T& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return !text.empty() && ec == std::errc() && ptr == end;
}

// Splits `text` at '$' into exactly out.size() fields.
template <size_t N>
bool split_fields(std::string_view text, std::array<std::string_view, N>& out) {
  for (size_t i = 0; i + 1 < N; ++i) {
    const size_t sep = text.find('$');
    if (sep == std::string_view::npos) return false;
    out[i] = text.substr(0, sep);
    text.remove_prefix(sep + 1);
  }
  out[N - 1] = text;
  return text.find('$') == std::string_view::npos;
}

}  // namespace

bool scrypt_params_valid(const ScryptParams& params) {
  const uint64_t n = params.n;
  if (n < 2 || n > kScryptMaxN || (n & (n - 1)) != 0) return false;
  if (params.r < 1 || params.r > kScryptMaxR || params.p < 1 || params.p > kScryptMaxP) {
    return false;
  }
  if (128 * n * params.r > kScryptMaxMemory) return false;
  // RFC 7914: N < 2^(128 r / 8). Only r = 1 (N < 2^16) is reachable within the bounds above.
  return 16 * params.r >= 64 || n < (uint64_t{1} << (16 * params.r));
}

std::string hash_password(std::string_view password, const ScryptParams& params) {
  if (!scrypt_params_valid(params)) return {};
  std::string salt(kSaltBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) !=
      1) {
    return {};
  }
  std::string hash;
  if (!scrypt(password, salt, params, kHashBytes, hash)) return {};
  std::string out(kScheme);
  for (uint64_t v : {params.n, uint64_t{params.r}, uint64_t{params.p}}) {
    out += '$';
    out += std::to_string(v);
  }
  out += '$';
  out += base64_encode(salt);
  out += '$';
  out += base64_encode(hash);
  return out;
}

bool verify_password(std::string_view password, std::string_view stored) {
  std::array<std::string_view, 6> f;
  if (!split_fields(stored, f) || f[0] != kScheme) return false;
  ScryptParams params;
  if (!parse_number(f[1], params.n) || !parse_number(f[2], params.r) ||
      !parse_number(f[3], params.p) || !scrypt_params_valid(params)) {
    return false;
  }
  std::string salt;
  std::string want;
  if (!base64_decode(f[4], salt) || salt.size() < kMinStoredSalt || salt.size() > kMaxStoredSalt ||
      !base64_decode(f[5], want) || want.size() < kMinStoredHash || want.size() > kMaxStoredHash) {
    return false;
  }
  std::string got;
  if (!scrypt(password, salt, params, want.size(), got)) return false;
  return equal_constant_time(got, want);
}

}  // namespace parley::auth
