// What the server pushes, as lines above the input: messages, receipts, presence, typing and
// friend requests. Each line starts with a time stamp and, for a conversation, its label.
#include "console_impl.h"

namespace parley::cli {

namespace {

constexpr int64_t kTypingShowEveryMs = 10000;  // show "is typing" once per 10 s per sender
constexpr size_t kOwnRemembered = 200;         // own messages kept per chat for receipts

}  // namespace

bool Console::on_message(const client::Message& m) {
  std::string ts = format_time(m.ts, wall_ms());
  if (m.broadcast) {
    print(ts + " [broadcast] " + m.body);
    return true;
  }
  std::string label = conversation_label(m.conversation);
  known_.insert(m.conversation);
  if (m.type == "system") {
    print(ts + " [" + label + "] * " + m.body);
  } else {
    std::string body = m.body;
    if (m.type != "text") body = "(" + m.type + ") " + body;
    std::string who = m.from == options_.user ? m.from + " (other device)" : m.from;
    print(ts + " [" + label + "] " + who + ": " + body);
  }
  if (m.from != options_.user) typing_shown_.erase(m.conversation + "\n" + m.from);
  if (current_.empty() && m.from != options_.user) {
    current_ = m.conversation;
    print("  (now talking in " + label + "; plain lines go there)");
    update_prompt();
  }
  if (m.conversation == current_) {
    session_->mark_read(current_);
  } else {
    ++unread_[m.conversation];
  }
  return true;
}

// Our sends by seq, so a receipt can quote the message it confirms.
void Console::remember_own(const std::string& conv, uint64_t seq, const std::string& text) {
  auto& mine = own_[conv];
  mine[seq] = text;
  while (mine.size() > kOwnRemembered) mine.erase(mine.begin());
}

void Console::on_receipt(const std::string& conv, const std::string& user, std::string_view kind,
                         uint64_t seq) {
  std::string label = conversation_label(conv);
  std::string what;
  auto own = own_.find(conv);
  if (own != own_.end()) {
    auto it = own->second.upper_bound(seq);
    if (it != own->second.begin()) what = " \"" + snippet(std::prev(it)->second) + "\"";
  }
  if (what.empty()) what = " up to #" + std::to_string(seq);
  if (kind == "read") {
    print(stamp() + " [" + label + "] ✓✓ read by " + user + ":" + what);
  } else {
    print(stamp() + " [" + label + "] ✓✓ delivered to " + user + ":" + what);
  }
}

void Console::on_presence(const std::string& user, bool online, int64_t ts) {
  auto it = presence_.find(user);
  if (it != presence_.end() && it->second == online) return;  // friend and watch both push
  presence_[user] = online;
  if (online) {
    print(stamp() + " * " + user + " is online");
  } else if (ts > 0) {
    print(stamp() + " * " + user + " is offline (last seen " + format_time(ts, wall_ms()) + ")");
  } else {
    print(stamp() + " * " + user + " is offline");
  }
}

void Console::on_typing(const std::string& conv, const std::string& from) {
  int64_t now = wall_ms();
  int64_t& last = typing_shown_[conv + "\n" + from];
  if (last != 0 && now - last < kTypingShowEveryMs) return;
  last = now;
  print(stamp() + " [" + conversation_label(conv) + "] " + from + " is typing…");
}

void Console::on_friend_request(const std::string& from, int64_t) {
  print(stamp() + " * " + from + " asks to be your friend (:accept " + from + ")");
}

void Console::on_friend_accepted(const std::string& user) {
  print(stamp() + " * " + user + " accepted your friend request");
}

}  // namespace parley::cli
