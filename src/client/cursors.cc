#include "parley/client/cursors.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "parley/client/private_file.h"

namespace parley::client {

namespace {

bool valid_key(std::string_view key) {
  if (!key.empty() && key.front() == '#') key.remove_prefix(1);
  return valid_name(key);
}

}  // namespace

bool CursorStore::load(std::string* error) {
  if (path_.empty()) return true;
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return true;
    if (error) *error = path_ + ": " + std::strerror(errno);
    return false;
  }
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string key;
    ConversationCursor c;
    if (!(fields >> key >> c.seen >> c.peer_recv >> c.peer_read) || !valid_key(key)) {
      if (error) *error = path_ + ":" + std::to_string(lineno) + ": malformed line";
      return false;
    }
    cursors_[key] = c;
  }
  return true;
}

bool CursorStore::save(std::string* error) {
  if (path_.empty() || !dirty_) return true;
  std::string text;
  for (const auto& [key, c] : cursors_) {
    text += key + " " + std::to_string(c.seen) + " " + std::to_string(c.peer_recv) + " " +
            std::to_string(c.peer_read) + "\n";
  }
  if (!write_private_file(path_, text, error)) return false;
  dirty_ = false;
  return true;
}

void CursorStore::skip_own(const std::string& key, ConversationCursor& c) {
  auto it = own_ahead_.find(key);
  if (it == own_ahead_.end()) return;
  auto& ahead = it->second;
  while (!ahead.empty() && *ahead.begin() <= c.seen + 1) {
    c.seen = std::max(c.seen, *ahead.begin());
    ahead.erase(ahead.begin());
  }
}

bool CursorStore::accept(const std::string& key, uint64_t seq) {
  ConversationCursor& c = cursors_[key];
  if (seq <= c.seen) return false;
  auto own = own_ahead_.find(key);
  if (own != own_ahead_.end() && own->second.count(seq) != 0) {
    // Our own message coming back (a resync after a reconnect): already shown as sent.
    own->second.erase(seq);
    c.seen = seq;
    skip_own(key, c);
    dirty_ = true;
    return false;
  }
  c.seen = seq;
  skip_own(key, c);
  dirty_ = true;
  return true;
}

void CursorStore::own_sent(const std::string& key, uint64_t seq) {
  ConversationCursor& c = cursors_[key];
  if (seq <= c.seen) return;
  own_ahead_[key].insert(seq);
  skip_own(key, c);
  dirty_ = true;
}

void CursorStore::unaccept(const std::string& key, uint64_t seq) {
  auto it = cursors_.find(key);
  if (it == cursors_.end() || it->second.seen != seq || seq == 0) return;
  it->second.seen = seq - 1;
  dirty_ = true;
}

bool CursorStore::advance_peer_recv(const std::string& key, uint64_t seq) {
  ConversationCursor& c = cursors_[key];
  if (seq <= c.peer_recv) return false;
  c.peer_recv = seq;
  dirty_ = true;
  return true;
}

bool CursorStore::advance_peer_read(const std::string& key, uint64_t seq) {
  ConversationCursor& c = cursors_[key];
  if (seq <= c.peer_read) return false;
  c.peer_read = seq;
  c.peer_recv = std::max(c.peer_recv, seq);
  dirty_ = true;
  return true;
}

uint64_t CursorStore::seen(const std::string& key) const {
  auto it = cursors_.find(key);
  return it == cursors_.end() ? 0 : it->second.seen;
}

}  // namespace parley::client
