#include "parley/auth/base64.h"

#include <array>
#include <cstdint>

namespace parley::auth {
namespace {

constexpr std::string_view kStdAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr uint8_t kInvalid = 0xff;
using DecodeTable = std::array<uint8_t, 256>;

constexpr DecodeTable make_table(std::string_view alphabet) {
  DecodeTable t{};
  for (auto& v : t) v = kInvalid;
  for (size_t i = 0; i < alphabet.size(); ++i)
    t[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
  return t;
}

constexpr DecodeTable kStdTable = make_table(kStdAlphabet);
constexpr DecodeTable kUrlTable = make_table(kUrlAlphabet);

// Appends the encoding of `bytes`; a partial last group gets 2 or 3 characters (no padding).
void encode(std::string_view bytes, std::string_view alphabet, std::string& out) {
  out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    out.push_back(alphabet[v >> 18]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return;
  const uint32_t v = at(i) << 16 | (rest == 2 ? at(i + 1) << 8 : 0);
  out.push_back(alphabet[v >> 18]);
  out.push_back(alphabet[(v >> 12) & 63]);
  if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
}

// Decodes unpadded text (any length but 4k+1); false on a character outside `table` or on
// non-zero unused bits in the last character.
bool decode(std::string_view text, const DecodeTable& table, std::string& out) {
  if (text.size() % 4 == 1) return false;
  out.clear();
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;  // the bits of the current group of up to 4 characters
  int count = 0;     // characters in `acc`
  for (char c : text) {
    const uint8_t v = table[static_cast<uint8_t>(c)];
    if (v == kInvalid) return false;
    acc = acc << 6 | v;
    if (++count == 4) {
      out.push_back(static_cast<char>(acc >> 16));
      out.push_back(static_cast<char>(acc >> 8));
      out.push_back(static_cast<char>(acc));
      acc = 0;
      count = 0;
    }
  }
  if (count == 2) {  // 12 bits: one byte and 4 unused bits
    if ((acc & 0xf) != 0) return false;
    out.push_back(static_cast<char>(acc >> 4));
  } else if (count == 3) {  // 18 bits: two bytes and 2 unused bits
    if ((acc & 0x3) != 0) return false;
    out.push_back(static_cast<char>(acc >> 10));
    out.push_back(static_cast<char>(acc >> 2));
  }
  return true;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  encode(bytes, kUrlAlphabet, out);
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  return decode(text, kUrlTable, out);
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  encode(bytes, kStdAlphabet, out);
  out.append((4 - out.size() % 4) % 4, '=');
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  // With the padding stripped, decode() refuses any other '=' (it is not in the alphabet) and a
  // third '=' (a 4k+1 length).
  return decode(text.substr(0, text.size() - pad), kStdTable, out);
}

}  // namespace parley::auth
