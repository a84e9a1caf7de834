#include "parley/client/cursors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace parley::client {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

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
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (error) *error = tmp + ": " + std::strerror(errno);
    return false;
  }
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (error) *error = tmp + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    if (error) *error = path_ + ": " + std::strerror(errno);
    return false;
  }
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
