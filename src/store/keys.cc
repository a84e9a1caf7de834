#include "parley/store/keys.h"

#include <algorithm>

namespace parley::store {
namespace {

using table::kDedupe;
using table::kDevice;
using table::kMember;
using table::kMeta;
using table::kMsg;
using table::kUser;
using table::kUserConv;

constexpr size_t kU64 = 8;

// splitmix64's finalizer: a fixed, well-mixed 64-bit permutation.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string tagged(char table, size_t reserve) {
  std::string k;
  k.reserve(1 + reserve);
  k.push_back(table);
  return k;
}

std::string tagged_name(char table, std::string_view name) {
  std::string k = tagged(table, name.size());
  k.append(name);
  return k;
}

// The key starts with `table` and holds at least `size` bytes.
bool starts(std::string_view key, char table, size_t size) {
  return key.size() >= size && key[0] == table;
}

}  // namespace

void put_be64(std::string& out, uint64_t v) {
  char b[kU64];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(b, kU64);
}

void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t get_be64(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < kU64; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// ---- ConvId

ConvId ConvId::pair(uint64_t u1, uint64_t u2) {
  return ConvId{kPair, std::min(u1, u2), std::max(u1, u2)};
}

ConvId ConvId::group(uint64_t gid) { return ConvId{kGroup, gid, 0}; }

void ConvId::append_to(std::string& out) const {
  out.push_back(kind);
  put_be64(out, a);
  put_be64(out, b);
}

std::string ConvId::bytes() const {
  std::string out;
  out.reserve(kSize);
  append_to(out);
  return out;
}

bool ConvId::parse(std::string_view in, ConvId& out) {
  if (in.size() != kSize) return false;
  ConvId c{in[0], get_be64(in.data() + 1), get_be64(in.data() + 1 + kU64)};
  if (c.kind == kPair) {
    if (c.a > c.b) return false;
  } else if (c.kind == kGroup) {
    if (c.b != 0) return false;
  } else {
    return false;
  }
  out = c;
  return true;
}

uint64_t ConvId::hash() const { return mix(mix(mix(static_cast<uint8_t>(kind)) ^ a) ^ b); }

// ---- encoders

std::string user_key(std::string_view name) { return tagged_name(kUser, name); }

std::string msg_prefix(const ConvId& conv) {
  std::string k = tagged(kMsg, ConvId::kSize + kU64);
  conv.append_to(k);
  return k;
}

std::string msg_key(const ConvId& conv, uint64_t seq) {
  std::string k = msg_prefix(conv);
  put_be64(k, seq);
  return k;
}

std::string member_prefix(const ConvId& conv) {
  std::string k = tagged(kMember, ConvId::kSize + kU64);
  conv.append_to(k);
  return k;
}

std::string member_key(const ConvId& conv, uint64_t uid) {
  std::string k = member_prefix(conv);
  put_be64(k, uid);
  return k;
}

std::string user_conv_prefix(uint64_t uid) {
  std::string k = tagged(kUserConv, kU64 + ConvId::kSize);
  put_be64(k, uid);
  return k;
}

std::string user_conv_key(uint64_t uid, const ConvId& conv) {
  std::string k = user_conv_prefix(uid);
  conv.append_to(k);
  return k;
}

std::string device_prefix(uint64_t uid) {
  std::string k = tagged(kDevice, kU64 + ConvId::kSize + 16);
  put_be64(k, uid);
  return k;
}

std::string device_key(uint64_t uid, const ConvId& conv, std::string_view device) {
  std::string k = device_prefix(uid);
  conv.append_to(k);
  k.append(device);
  return k;
}

std::string dedupe_prefix(uint64_t uid) {
  std::string k = tagged(kDedupe, kU64 + 16);
  put_be64(k, uid);
  return k;
}

std::string dedupe_key(uint64_t uid, std::string_view cid) {
  std::string k = dedupe_prefix(uid);
  k.append(cid);
  return k;
}

std::string meta_key(std::string_view name) { return tagged_name(kMeta, name); }

std::string group_key(std::string_view name) { return tagged_name(table::kGroupRec, name); }

std::string presence_key(uint64_t uid) {
  std::string k(1, table::kPresence);
  put_be64(k, uid);
  return k;
}

std::string friend_prefix(uint64_t uid) {
  std::string k(1, table::kFriend);
  put_be64(k, uid);
  return k;
}

std::string friend_key(uint64_t uid, uint64_t peer) {
  std::string k = friend_prefix(uid);
  put_be64(k, peer);
  return k;
}

std::string file_key(std::string_view id) {
  std::string k(1, 'F');
  k += id;
  return k;
}

std::string upload_key(std::string_view id) {
  std::string k(1, 'U');
  k += id;
  return k;
}

std::string file_chunk_key(std::string_view id, uint32_t chunk) {
  std::string k(1, 'b');
  k += id;
  put_be32(k, chunk);
  return k;
}

bool parse_friend_key(std::string_view key, uint64_t& uid, uint64_t& peer) {
  if (key.size() != 17 || key[0] != table::kFriend) return false;
  uid = get_be64(key.data() + 1);
  peer = get_be64(key.data() + 9);
  return true;
}

// ---- decoders

bool parse_msg_key(std::string_view key, ConvId& conv, uint64_t& seq) {
  constexpr size_t kLen = 1 + ConvId::kSize + kU64;
  if (key.size() != kLen || key[0] != kMsg) return false;
  if (!ConvId::parse(key.substr(1, ConvId::kSize), conv)) return false;
  seq = get_be64(key.data() + 1 + ConvId::kSize);
  return true;
}

bool parse_member_key(std::string_view key, ConvId& conv, uint64_t& uid) {
  constexpr size_t kLen = 1 + ConvId::kSize + kU64;
  if (key.size() != kLen || key[0] != kMember) return false;
  if (!ConvId::parse(key.substr(1, ConvId::kSize), conv)) return false;
  uid = get_be64(key.data() + 1 + ConvId::kSize);
  return true;
}

bool parse_user_conv_key(std::string_view key, uint64_t& uid, ConvId& conv) {
  constexpr size_t kLen = 1 + kU64 + ConvId::kSize;
  if (key.size() != kLen || key[0] != kUserConv) return false;
  if (!ConvId::parse(key.substr(1 + kU64, ConvId::kSize), conv)) return false;
  uid = get_be64(key.data() + 1);
  return true;
}

bool parse_device_key(std::string_view key, uint64_t& uid, ConvId& conv, std::string_view& device) {
  constexpr size_t kFixed = 1 + kU64 + ConvId::kSize;
  if (!starts(key, kDevice, kFixed)) return false;
  if (!ConvId::parse(key.substr(1 + kU64, ConvId::kSize), conv)) return false;
  uid = get_be64(key.data() + 1);
  device = key.substr(kFixed);
  return true;
}

bool parse_dedupe_key(std::string_view key, uint64_t& uid, std::string_view& cid) {
  constexpr size_t kFixed = 1 + kU64;
  if (!starts(key, kDedupe, kFixed)) return false;
  uid = get_be64(key.data() + 1);
  cid = key.substr(kFixed);
  return true;
}

// ---- Writer

void Writer::put_u64(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void Writer::put_i64(int64_t v) {
  put_u64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void Writer::put_str(std::string_view s) {
  put_u64(s.size());
  out_.append(s);
}

std::string Writer::take() {
  std::string out = std::move(out_);
  out_.clear();
  return out;
}

// ---- Reader

bool Reader::u64(uint64_t& v) {
  if (!ok_) return false;
  uint64_t result = 0;
  // At most 10 bytes; the 10th carries bit 63 only, so it must be 0 or 1.
  for (int shift = 0, i = 0; i < 10; ++i, shift += 7) {
    if (pos_ >= in_.size()) return fail();
    uint8_t byte = static_cast<uint8_t>(in_[pos_++]);
    if (i == 9 && byte > 1) return fail();
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      v = result;
      return true;
    }
  }
  return fail();
}

bool Reader::i64(int64_t& v) {
  uint64_t z;
  if (!u64(z)) return false;
  v = static_cast<int64_t>((z >> 1) ^ (0 - (z & 1)));
  return true;
}

bool Reader::str(std::string_view& s) {
  uint64_t len;
  if (!u64(len)) return false;
  if (len > in_.size() - pos_) return fail();
  s = in_.substr(pos_, len);
  pos_ += len;
  return true;
}

}  // namespace parley::store
