// The RocksDB key schema and a tiny value codec. Everything lives in one DB, default column
// family; the first byte of a key names its table. Integers in keys are 8-byte big-endian so
// that byte order is numeric order (seq 255 sorts before seq 256) and prefix scans walk a
// conversation or a user's rows in order.
//
//   key                                       value (Writer-encoded record)
//   'u' name                                  a user account
//   'c' conv(17) seq(8)                       one message of a conversation
//   'm' conv(17) uid(8)                       a group member (conversation side)
//   'l' uid(8) conv(17)                       the user's conversation list (user side)
//   'd' uid(8) conv(17) device                a device's delivery cursor in a conversation
//   'e' uid(8) cid                            dedupe entry of a client message id
//   'z' name                                  server metadata (schema version, ...)
//   'g' name                                  a group's record (gid, created)
//   'p' uid(8)                                a user's last_seen
//   'f' uid(8) peer(8)                        uid's side of a friendship with peer
//   'F' file id                               an uploaded file's record (owner, size, type, ...)
//   'b' file id chunk(4)                      one chunk of its bytes (blob files hold them)
//   'U' file id                               an upload in progress (its chunks are not a file yet)
//
// A conversation id is 17 bytes: a kind byte ('p' = 1:1, 'g' = group) and two u64 BE. A 1:1
// conversation is ('p', min(uidA, uidB), max(uidA, uidB)), so both sides name it the same way;
// a group is ('g', gid, 0). Decoders for the variable parts take a whole key and check its
// table byte, its length and the conversation kind; string_views they return point into `key`.
//
// Pure functions, no state: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::store {

struct ConvId {
  static constexpr size_t kSize = 17;  // bytes()
  static constexpr char kPair = 'p';
  static constexpr char kGroup = 'g';

  char kind = 0;   // kPair or kGroup; 0 in a default-constructed (invalid) id
  uint64_t a = 0;  // pair: the smaller uid; group: the gid
  uint64_t b = 0;  // pair: the larger uid; group: 0

  static ConvId pair(uint64_t u1, uint64_t u2);
  static ConvId group(uint64_t gid);

  bool is_group() const { return kind == kGroup; }
  bool operator==(const ConvId&) const = default;

  // The 17-byte encoding used inside keys.
  std::string bytes() const;
  void append_to(std::string& out) const;
  // Exactly kSize bytes, a known kind, a <= b for a pair and b == 0 for a group; else false
  // and `out` untouched.
  static bool parse(std::string_view in, ConvId& out);

  // Stable across runs, builds and machines (unlike std::hash): shard and, later, node
  // ownership is hash() % N. Never change the function once data is routed by it.
  uint64_t hash() const;
};

// The table bytes: the first byte of every key.
namespace table {
inline constexpr char kUser = 'u';
inline constexpr char kMsg = 'c';
inline constexpr char kMember = 'm';
inline constexpr char kUserConv = 'l';
inline constexpr char kDevice = 'd';
inline constexpr char kDedupe = 'e';
inline constexpr char kMeta = 'z';
inline constexpr char kGroupRec = 'g';
inline constexpr char kPresence = 'p';
inline constexpr char kFriend = 'f';
}  // namespace table

// msg_prefix(conv).size(): the table byte and the conversation id.
inline constexpr size_t kMsgPrefixSize = 1 + ConvId::kSize;
// dedupe_prefix(uid).size(): the table byte and the big-endian uid.
inline constexpr size_t kDedupePrefixSize = 1 + 8;

// ---- encoders
std::string user_key(std::string_view name);
std::string msg_key(const ConvId& conv, uint64_t seq);
std::string msg_prefix(const ConvId& conv);
std::string member_key(const ConvId& conv, uint64_t uid);
std::string member_prefix(const ConvId& conv);
std::string user_conv_key(uint64_t uid, const ConvId& conv);
std::string user_conv_prefix(uint64_t uid);
std::string device_key(uint64_t uid, const ConvId& conv, std::string_view device);
std::string device_prefix(uint64_t uid);
std::string dedupe_key(uint64_t uid, std::string_view cid);
std::string dedupe_prefix(uint64_t uid);
std::string meta_key(std::string_view name);
std::string group_key(std::string_view name);            // "g" + name: a group's record
std::string presence_key(uint64_t uid);                  // "p" + uid: last_seen
std::string friend_key(uint64_t uid, uint64_t peer);     // "f" + uid + peer: one side of a friendship
std::string friend_prefix(uint64_t uid);
bool parse_friend_key(std::string_view key, uint64_t& uid, uint64_t& peer);
std::string file_key(std::string_view id);                       // "F" + id
std::string file_chunk_key(std::string_view id, uint32_t chunk);  // "b" + id + chunk (BE)
std::string upload_key(std::string_view id);                     // "U" + id

// ---- decoders: true and the parts on a well-formed key of that table; false (outputs
// unspecified) on a key of another table, a short or long key, or a malformed conversation id.
bool parse_msg_key(std::string_view key, ConvId& conv, uint64_t& seq);
bool parse_member_key(std::string_view key, ConvId& conv, uint64_t& uid);
bool parse_user_conv_key(std::string_view key, uint64_t& uid, ConvId& conv);
bool parse_device_key(std::string_view key, uint64_t& uid, ConvId& conv, std::string_view& device);
bool parse_dedupe_key(std::string_view key, uint64_t& uid, std::string_view& cid);

// Big-endian integer helpers, exposed for callers that build their own keys.
void put_be64(std::string& out, uint64_t v);
void put_be32(std::string& out, uint32_t v);
uint64_t get_be64(const char* p);  // reads 8 bytes at p

// ---- value codec. A record is a sequence of fields in an order both sides agree on:
//   u64: LEB128 varint (1..10 bytes); i64: zigzag, then varint; str: varint length, bytes.
// Append new fields at the end; a decoder that ignores done() accepts records written by a
// newer version with more fields.
class Writer {
 public:
  void put_u64(uint64_t v);
  void put_i64(int64_t v);
  void put_str(std::string_view s);
  size_t size() const { return out_.size(); }
  // The encoded record; the writer is empty afterwards.
  std::string take();

 private:
  std::string out_;
};

// Reads fields from `in` (not owned; must outlive the reader and the views it returns). Every
// read is bounds-checked. A failed read (truncated input, overlong or overflowing varint, a
// length past the end) returns false and makes every later read fail too, so a decoder can
// chain reads and check once.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u64(uint64_t& v);
  bool i64(int64_t& v);
  bool str(std::string_view& s);  // s points into the input
  // True when no read failed and every byte has been read.
  bool done() const { return ok_ && pos_ == in_.size(); }
  bool ok() const { return ok_; }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace parley::store
