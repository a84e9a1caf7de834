// Base64 (RFC 4648): the URL-safe alphabet without padding (section 5; JWT parts) and the
// standard alphabet with padding (section 4; stored password hashes). Pure functions, any
// thread. Decoders are strict, so every byte string has exactly one accepted encoding: no
// whitespace, no characters from the other alphabet, and the unused low bits of the last
// character must be zero (so a signature cannot be re-encoded into a second valid token).
#pragma once

#include <string>
#include <string_view>

namespace parley::auth {

// Encodes `bytes` with the alphabet A-Z a-z 0-9 - _ and no '=' padding.
std::string base64url_encode(std::string_view bytes);

// Decodes unpadded base64url. On success replaces `out` with the bytes and returns true. Returns
// false (and leaves `out` unspecified) for '=' padding, a character outside the alphabet, a
// length of 4k+1, or non-zero unused bits in the last character.
bool base64url_decode(std::string_view text, std::string& out);

// Encodes `bytes` with the alphabet A-Z a-z 0-9 + / and '=' padding to a multiple of 4.
std::string base64_encode(std::string_view bytes);

// Decodes padded standard base64. Same contract as base64url_decode(), except that the length
// must be a multiple of 4, with one or two '=' exactly where the encoder puts them.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace parley::auth
