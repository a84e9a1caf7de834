// Password hashing with salted scrypt (RFC 7914, computed by OpenSSL). The stored form carries
// its own parameters, "scrypt$N$r$p$<salt base64>$<hash base64>", so the cost can be raised
// later without invalidating existing records. Any thread. Both functions are deliberately
// slow (tens of milliseconds and 128 * N * r bytes of memory at the defaults): call them off
// the event loop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::auth {

struct ScryptParams {
  uint64_t n = 16384;  // CPU/memory cost: a power of two
  uint32_t r = 8;      // block size
  uint32_t p = 1;      // parallelism (OpenSSL computes the p lanes one after another)
};

// The parameters hash_password() and verify_password() accept; the same bounds as the
// configuration (conf/parley.toml, [auth] scrypt_*), so any hash the server made can be
// checked again, and a corrupt record cannot make it allocate more than 1 GiB.
inline constexpr uint64_t kScryptMaxN = uint64_t{1} << 24;
inline constexpr uint32_t kScryptMaxR = 64;
inline constexpr uint32_t kScryptMaxP = 64;
inline constexpr uint64_t kScryptMaxMemory = uint64_t{1} << 30;  // 128 * N * r

// True when `params` are within the bounds above and acceptable to scrypt itself: N a power of
// two >= 2, r and p >= 1, and N < 2^(16 r) (RFC 7914 section 2, which rules out r = 1 with
// N >= 65536).
bool scrypt_params_valid(const ScryptParams& params);

// Salted scrypt (OpenSSL EVP_PBE_scrypt), 16-byte random salt, 32-byte output, in the stored
// form above (standard base64 with padding). Returns an empty string when `params` are not
// valid (scrypt_params_valid()) or OpenSSL fails.
std::string hash_password(std::string_view password, const ScryptParams& params);

// Recomputes with the parameters stored in `stored` and compares in constant time. False for a
// wrong password and for a malformed `stored` (never crashes): wrong field count or prefix,
// numbers that do not parse, parameters scrypt_params_valid() refuses, bad base64, a salt
// outside 8-64 bytes or a hash outside 16-64 bytes.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace parley::auth
