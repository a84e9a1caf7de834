// The client's per-conversation cursors, kept in a small text file so that a restarted or
// reconnected client resumes exactly where it stopped: nothing missed, nothing shown twice.
//
// A conversation key is the peer's name for a 1:1 chat ("bob") or '#' and the group's name
// ("#team"), the same keys the protocol's login `after` map uses.
//
// File format, one conversation per line: KEY SEEN PEER_RECV PEER_READ, decimal, e.g.
//   bob 12 12 11
//   #team 40 0 0
// Written to a temporary file and renamed over the old one, so a crash leaves either version.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "parley/proto/request.h"

namespace parley::client {

struct ConversationCursor {
  uint64_t seen = 0;       // every message up to this seq was shown (or was our own send)
  uint64_t peer_recv = 0;  // 1:1: the delivered receipt last shown for the peer
  uint64_t peer_read = 0;  // 1:1: the read receipt last shown for the peer
};

class CursorStore {
 public:
  // `path` empty: keep cursors in memory only.
  explicit CursorStore(std::string path) : path_(std::move(path)) {}

  // Reads the file; a missing file is an empty store. Returns false (and keeps what was read
  // before the bad line) for an unreadable or malformed file, with the reason in `error`.
  bool load(std::string* error = nullptr);
  // Writes the file if anything changed since the last save. Returns false on an I/O error.
  bool save(std::string* error = nullptr);

  // Decides whether message `seq` of `key` is new, and moves the cursor if it is. The server
  // never reorders a conversation, but skips our own sends (they come back only as replies),
  // so a seq above seen + 1 is accepted too.
  bool accept(const std::string& key, uint64_t seq);
  // Records that `seq` of `key` is our own message (the reply to our send). The cursor moves
  // over it once everything before it was seen; until then it is remembered in memory.
  void own_sent(const std::string& key, uint64_t seq);
  // Undoes accept(key, seq) for the message just accepted (it could not be shown).
  void unaccept(const std::string& key, uint64_t seq);

  // Moves a receipt cursor forward; returns true if it moved (so the receipt is new).
  bool advance_peer_recv(const std::string& key, uint64_t seq);
  bool advance_peer_read(const std::string& key, uint64_t seq);

  uint64_t seen(const std::string& key) const;
  const std::map<std::string, ConversationCursor>& all() const { return cursors_; }
  bool dirty() const { return dirty_; }
  const std::string& path() const { return path_; }

 private:
  void skip_own(const std::string& key, ConversationCursor& c);

  std::string path_;
  std::map<std::string, ConversationCursor> cursors_;
  std::map<std::string, std::set<uint64_t>> own_ahead_;  // own sends above `seen`, not persisted
  bool dirty_ = false;
};

// Valid user and group names: 1-32 of A-Z a-z 0-9 _ . - (the server's own check).
using proto::valid_name;

}  // namespace parley::client
