#include "parley/auth/password.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "parley/auth/base64.h"

namespace parley::auth {
namespace {

// Small parameters keep the tests fast (1 MiB, about a millisecond per hash).
constexpr ScryptParams kFast{1024, 8, 1};

// The fields of a stored hash.
std::vector<std::string> fields_of(const std::string& stored) {
  std::vector<std::string> out(1);
  for (char c : stored) {
    if (c == '$') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

TEST(Password, HashVerifiesAndWrongPasswordFails) {
  const std::string stored = hash_password("correct horse", kFast);
  ASSERT_FALSE(stored.empty());
  EXPECT_TRUE(verify_password("correct horse", stored));
  EXPECT_FALSE(verify_password("correct hors", stored));
  EXPECT_FALSE(verify_password("correct horse ", stored));
  EXPECT_FALSE(verify_password("Correct horse", stored));
  EXPECT_FALSE(verify_password("", stored));
}

TEST(Password, StoredFormCarriesParametersSaltAndHash) {
  const std::string stored = hash_password("secret", ScryptParams{2048, 4, 2});
  const auto f = fields_of(stored);
  ASSERT_EQ(f.size(), 6u) << stored;
  EXPECT_EQ(f[0], "scrypt");
  EXPECT_EQ(f[1], "2048");
  EXPECT_EQ(f[2], "4");
  EXPECT_EQ(f[3], "2");
  std::string salt, hash;
  ASSERT_TRUE(base64_decode(f[4], salt));
  ASSERT_TRUE(base64_decode(f[5], hash));
  EXPECT_EQ(salt.size(), 16u);
  EXPECT_EQ(hash.size(), 32u);
  EXPECT_TRUE(verify_password("secret", stored));
}

TEST(Password, SaltMakesEveryHashDifferent) {
  const std::string a = hash_password("same password", kFast);
  const std::string b = hash_password("same password", kFast);
  EXPECT_NE(a, b);
  EXPECT_NE(fields_of(a)[4], fields_of(b)[4]);
  EXPECT_NE(fields_of(a)[5], fields_of(b)[5]);
  EXPECT_TRUE(verify_password("same password", a));
  EXPECT_TRUE(verify_password("same password", b));
}

// Records computed offline with Python's hashlib.scrypt. The first is RFC 7914 section 12's
// third test vector (P "pleaseletmein", S "SodiumChloride", N 16384, r 8, p 1, 64-byte output,
// 7023bdcb…45575887), at the default parameters.
TEST(Password, VerifiesRecordsComputedOffline) {
  const std::string rfc =
      "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/"
      "2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2L"
      "UlwUkKpr55h6F3A1lHkDfzwF7RVdYhw==";
  EXPECT_TRUE(verify_password("pleaseletmein", rfc));
  EXPECT_FALSE(verify_password("pleaseletmeIn", rfc));
  // Salt bytes 0..15, the shape hash_password() writes.
  const std::string ours =
      "scrypt$1024$8$1$AAECAwQFBgcICQoLDA0ODw==$8GnOOkn5hPbrxI/DuDFoVPUKY/Oy5P9ZW2mbSsEOY8o=";
  EXPECT_TRUE(verify_password("hunter22", ours));
  EXPECT_FALSE(verify_password("hunter2", ours));
  // The same record with other parameters does not match.
  EXPECT_FALSE(verify_password(
      "hunter22",
      "scrypt$2048$8$1$AAECAwQFBgcICQoLDA0ODw==$8GnOOkn5hPbrxI/DuDFoVPUKY/Oy5P9ZW2mbSsEOY8o="));
  EXPECT_FALSE(verify_password(
      "hunter22",
      "scrypt$1024$8$2$AAECAwQFBgcICQoLDA0ODw==$8GnOOkn5hPbrxI/DuDFoVPUKY/Oy5P9ZW2mbSsEOY8o="));
}

TEST(Password, UnicodeAndBinaryPasswords) {
  const std::string pw = std::string("p\xc3\xa4ss\0w\xf0\x9f\x94\x91rd", 13);
  const std::string stored = hash_password(pw, kFast);
  EXPECT_TRUE(verify_password(pw, stored));
  EXPECT_FALSE(verify_password(pw.substr(0, 5), stored));  // stops at the NUL
  const std::string long_pw(256, 'x');
  EXPECT_TRUE(verify_password(long_pw, hash_password(long_pw, kFast)));
}

// N 32768, r 8: a little over OpenSSL's default memory cap (32 MiB), which we must lift.
// Computed offline with Python's hashlib.scrypt.
TEST(Password, WorksAboveOpenSslDefaultMemoryCap) {
  EXPECT_TRUE(verify_password(
      "pw",
      "scrypt$32768$8$1$cGFybGV5LXNhbHQtMzJNQg==$6M59C3eOiL2BPZNLG5ezYUO+6jnCgVBK7DnN6TjXPRc="));
}

TEST(Password, RefusesInvalidParametersWhenHashing) {
  EXPECT_TRUE(hash_password("pw", ScryptParams{1000, 8, 1}).empty());  // not a power of two
  EXPECT_TRUE(hash_password("pw", ScryptParams{1, 8, 1}).empty());
  EXPECT_TRUE(hash_password("pw", ScryptParams{0, 8, 1}).empty());
  EXPECT_TRUE(hash_password("pw", ScryptParams{1024, 0, 1}).empty());
  EXPECT_TRUE(hash_password("pw", ScryptParams{1024, 8, 0}).empty());
  EXPECT_TRUE(hash_password("pw", ScryptParams{1024, 65, 1}).empty());
  EXPECT_TRUE(hash_password("pw", ScryptParams{1024, 8, 65}).empty());
  EXPECT_TRUE(hash_password("pw", ScryptParams{uint64_t{1} << 25, 1, 1}).empty());
  EXPECT_TRUE(hash_password("pw", ScryptParams{uint64_t{1} << 20, 16, 1}).empty());  // 2 GiB
  EXPECT_TRUE(hash_password("pw", ScryptParams{uint64_t{1} << 16, 1, 1}).empty());   // N >= 2^16r
}

TEST(Password, ParamsValidity) {
  EXPECT_TRUE(scrypt_params_valid(ScryptParams{}));
  EXPECT_TRUE(scrypt_params_valid(ScryptParams{2, 1, 1}));
  EXPECT_TRUE(scrypt_params_valid(ScryptParams{uint64_t{1} << 15, 1, 1}));
  EXPECT_TRUE(scrypt_params_valid(ScryptParams{uint64_t{1} << 20, 8, 1}));   // exactly 1 GiB
  EXPECT_TRUE(scrypt_params_valid(ScryptParams{uint64_t{1} << 22, 2, 64}));  // 1 GiB
  EXPECT_FALSE(scrypt_params_valid(ScryptParams{uint64_t{1} << 16, 1, 1}));  // N >= 2^(16 r)
  EXPECT_FALSE(scrypt_params_valid(ScryptParams{uint64_t{1} << 23, 1, 1}));
  EXPECT_FALSE(scrypt_params_valid(ScryptParams{uint64_t{1} << 20, 9, 1}));
  EXPECT_FALSE(scrypt_params_valid(ScryptParams{uint64_t{1} << 24, 1, 1}));  // 2 GiB
  EXPECT_FALSE(scrypt_params_valid(ScryptParams{uint64_t{3} << 10, 8, 1}));
  EXPECT_FALSE(scrypt_params_valid(ScryptParams{uint64_t{1} << 63, 8, 1}));
}

TEST(Password, MalformedStoredFormsFailCleanly) {
  const std::string good = hash_password("pw", kFast);
  const auto f = fields_of(good);
  ASSERT_TRUE(verify_password("pw", good));
  auto with = [&](size_t i, const std::string& v) {
    auto g = f;
    g[i] = v;
    std::string s = g[0];
    for (size_t k = 1; k < g.size(); ++k) s += "$" + g[k];
    return s;
  };
  const std::string huge_hash = base64_encode(std::string(65, 'h'));
  const std::vector<std::string> bad = {
      "",
      "$",
      "$$$$$",
      "scrypt",
      "scrypt$1024$8$1$" + f[4],  // five fields
      good + "$",                 // seven fields
      good + "$extra",
      "x" + good,
      with(0, "bcrypt"),
      with(0, "SCRYPT"),
      with(1, ""),
      with(1, "-1024"),
      with(1, "+1024"),
      with(1, " 1024"),
      with(1, "1024 "),
      with(1, "1e3"),
      with(1, "0x400"),
      with(1, "1000"),  // not a power of two
      with(1, "1"),
      with(1, "0"),
      with(1, "18446744073709551616"),  // 2^64: does not fit
      with(1, "9223372036854775808"),   // 2^63: a power of two, far too big
      with(1, "2097152"),               // 2^21 * r 8 = 2 GiB
      with(1, "33554432"),              // 2^25
      with(2, "0"),
      with(2, "65"),
      with(2, "4294967297"),  // wraps to 1 as uint32
      with(3, "0"),
      with(3, "65"),
      with(3, "99999999999"),
      with(4, ""),  // empty salt
      with(4, "!!!!"),
      with(4, f[4].substr(0, f[4].size() - 2)),  // padding removed
      with(4, base64_encode("short")),           // salt under 8 bytes
      with(4, base64_encode(std::string(65, 's'))),
      with(5, ""),
      with(5, "@@@@"),
      with(5, f[5] + "AAAA"),                     // 35 bytes: another length, another hash
      with(5, base64_encode("0123456789abcde")),  // 15 bytes
      with(5, huge_hash),
      std::string(good.size(), '\0'),
      good.substr(0, good.size() - 1),
  };
  for (const auto& s : bad) {
    EXPECT_FALSE(verify_password("pw", s)) << testing::PrintToString(s);
  }
}

TEST(Password, AcceptsOtherSaltAndHashLengths) {
  // Records made with other lengths (e.g. by a later version) still verify: the stored hash
  // length decides how much scrypt output is compared. Build one from a known record: the
  // first 16 bytes of scrypt output are a prefix of the 32-byte output (PBKDF2 blocks).
  const std::string good = hash_password("pw", kFast);
  auto f = fields_of(good);
  std::string hash;
  ASSERT_TRUE(base64_decode(f[5], hash));
  const std::string shorter = f[0] + "$" + f[1] + "$" + f[2] + "$" + f[3] + "$" + f[4] + "$" +
                              base64_encode(hash.substr(0, 16));
  EXPECT_TRUE(verify_password("pw", shorter));
  EXPECT_FALSE(verify_password("pv", shorter));
}

}  // namespace
}  // namespace parley::auth
