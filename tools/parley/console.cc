#include "console.h"

#include <editline/readline.h>
#include <simdjson.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "common.h"
#include "parley/client/session.h"
#include "parley/proto/json_writer.h"

namespace parley::cli {
namespace {

namespace dom = simdjson::dom;
using client::Reply;

constexpr int64_t kTypingSendEveryMs = 3000;    // at most one typing push per target per 3 s
constexpr int64_t kTypingShowEveryMs = 10000;   // show "is typing" once per 10 s per sender
constexpr size_t kOwnRemembered = 200;          // own messages kept per chat for receipts
constexpr size_t kMaxAutoWatch = 1000;
constexpr int kDefaultHistory = 20;
constexpr int kMaxHistory = 200;

std::string json_quote(std::string_view s) {
  std::string out;
  proto::append_json_string(out, s);
  return out;
}

std::string str_of(dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

uint64_t u64_of(dom::element e, const char* key) {
  uint64_t v = 0;
  if (e[key].get(v) != simdjson::SUCCESS) return 0;
  return v;
}

int64_t i64_of(dom::element e, const char* key) {
  int64_t v = 0;
  if (e[key].get(v) != simdjson::SUCCESS) return 0;
  return v;
}

// Terminal columns taken by UTF-8 text (one per code point; good enough for a prompt).
size_t columns(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// The first line of a body, shortened for a receipt line.
std::string snippet(std::string_view body) {
  std::string_view first = body.substr(0, body.find('\n'));
  std::string out(first.substr(0, 40));
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
  if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
  if (out.size() < body.size()) out += "…";
  return out;
}

const char* kHelp =
    "Messages:\n"
    "  TEXT              send to the current conversation\n"
    "  @bob TEXT         send to bob (and make him the current conversation)\n"
    "  #team TEXT        send to the group team\n"
    "  @bob | #team      switch the current conversation\n"
    "  ::TEXT            send \":TEXT\" (a line starting with a space is sent as typed)\n"
    "Commands:\n"
    "  :switch @bob|#team   current conversation     :ls             conversations, unread\n"
    "  :history [N]         last N messages (20)     :olu, :online   who is online\n"
    "  :friends             friends and requests     :add USER       ask USER to be friends\n"
    "  :accept USER         accept a request         :unfriend USER  end or decline\n"
    "  :groups              your groups              :create GROUP [USER...]\n"
    "  :invite GROUP USER...   add members (owner)   :kick GROUP USER...  remove (owner)\n"
    "  :members [GROUP]     members and cursors      :leave [GROUP]  leave a group\n"
    "  :join GROUP          (groups are joined by invitation; explains how)\n"
    "  :watch USER...       presence of USER         :unwatch USER...\n"
    "  :status              connection and account   :help           this text\n"
    "  :q, :quit            quit (also Ctrl-D on an empty line, or Ctrl-C twice)\n"
    "Receipts: ✓ sent (stored by the server), ✓✓ delivered, ✓✓ read.";

class Console;
Console* g_console = nullptr;  // libedit's callback interface is global; so is this

class Console final : public client::Session::Events {
 public:
  Console(uv_loop_t* loop, const ConsoleOptions& o)
      : loop_(loop), options_(o), cursors_(cursor_path(o)) {
    tty_ = ::isatty(0) && ::isatty(1);
    current_ = o.start_conversation;
  }

  int run() {
    std::string err;
    if (!cursors_.load(&err)) {
      print("! ignoring the cursor file: " + err);
    }
    client::Session::Options so;
    so.user = options_.user;
    so.password = options_.password;
    so.token = options_.token;
    so.device = options_.device;
    session_ = std::make_unique<client::Session>(loop_, options_.endpoint, so, cursors_, *this);

    g_console = this;
    start_input();
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) {
      auto* h = new uv_signal_t;
      uv_signal_init(loop_, h);
      h->data = this;
      uv_signal_start(h, signal_cb, sig);
      signals_.push_back(h);
    }
    print("Connecting to " + options_.endpoint.display() + " as " + options_.user +
          " (device " + options_.device + ")…");
    session_->start();
    uv_run(loop_, UV_RUN_DEFAULT);
    g_console = nullptr;
    return exit_code_;
  }

  // ---- Session events ----------------------------------------------------------------------

  void on_online(bool first, const std::vector<client::ConversationInfo>& convs) override {
    save_token(options_.endpoint, options_.user, session_->token());
    if (!tty_ && !reading_ && !quitting_) {
      reading_ = true;
      uv_poll_start(&stdin_poll_, UV_READABLE, stdin_cb);
    }
    remember_user(options_.endpoint, options_.user);
    if (!first) {
      print(stamp() + " ✓ reconnected; catching up");
      update_prompt();
      return;
    }
    std::vector<std::string> peers;
    std::string unread_list;
    for (const auto& c : convs) {
      known_.insert(c.key);
      uint64_t unread = c.head > c.read ? c.head - c.read : 0;
      if (unread > 0) {
        unread_[c.key] = unread;
        unread_list += (unread_list.empty() ? "" : ", ") + conversation_label(c.key) + " (" +
                       std::to_string(unread) + ")";
      }
      if (c.key.front() != '#' && c.key != options_.user && peers.size() < kMaxAutoWatch) {
        peers.push_back(c.key);
      }
    }
    print(stamp() + " Logged in as " + options_.user + " on " + options_.endpoint.display() +
          ". " + std::to_string(convs.size()) + " conversation(s). Type :help for help.");
    if (!unread_list.empty()) print("  unread: " + unread_list);
    if (!current_.empty()) watch_peer(current_);
    if (!peers.empty()) session_->watch(peers, nullptr);
    update_prompt();
  }

  void on_offline(std::string_view why, uint32_t retry_ms) override {
    if (!offline_reported_) {
      offline_reported_ = true;
      char delay[32];
      std::snprintf(delay, sizeof(delay), "%.1f", retry_ms / 1000.0);
      print(stamp() + " ! " + std::string(why) + "; reconnecting (first try in " + delay +
            " s)");
    }
    update_prompt();
  }

  bool on_message(const client::Message& m) override {
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

  void on_receipt(const std::string& conv, const std::string& user, std::string_view kind,
                  uint64_t seq) override {
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

  void on_presence(const std::string& user, bool online, int64_t ts) override {
    auto it = presence_.find(user);
    if (it != presence_.end() && it->second == online) return;  // friend and watch both push
    presence_[user] = online;
    if (online) {
      print(stamp() + " * " + user + " is online");
    } else if (ts > 0) {
      print(stamp() + " * " + user + " is offline (last seen " + format_time(ts, wall_ms()) +
            ")");
    } else {
      print(stamp() + " * " + user + " is offline");
    }
  }

  void on_typing(const std::string& conv, const std::string& from) override {
    int64_t now = wall_ms();
    int64_t& last = typing_shown_[conv + "\n" + from];
    if (last != 0 && now - last < kTypingShowEveryMs) return;
    last = now;
    print(stamp() + " [" + conversation_label(conv) + "] " + from + " is typing…");
  }

  void on_friend_request(const std::string& from, int64_t) override {
    print(stamp() + " * " + from + " asks to be your friend (:accept " + from + ")");
  }

  void on_friend_accepted(const std::string& user) override {
    print(stamp() + " * " + user + " accepted your friend request");
  }

  void on_fatal(std::string_view code, std::string_view why) override {
    print(stamp() + " ! " + std::string(why));
    quit(exit_code_for(code == "kicked" ? "internal" : code));
  }

 private:
  static std::string cursor_path(const ConsoleOptions& o) {
    std::string dir = user_state_dir(o.endpoint, o.user, true);
    return dir.empty() ? "" : dir + "/cursors." + o.device;
  }

  std::string stamp() const { return format_time(wall_ms(), wall_ms()); }

  // ---- output ------------------------------------------------------------------------------

  // Prints one line above the input line: erase what libedit drew, print, let it redraw.
  // libedit's rl_line_buffer is not read anywhere: its readline emulation may leave it pointing
  // at a stale conversion buffer. rl_point and rl_end are refreshed after every key.
  void print(const std::string& line) {
    if (!tty_ || !editing_) {
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
      return;
    }
    std::string out = erase_input();
    out += line;
    out += "\r\n";
    redraw(out);
  }

  // The escape sequences that move to the start of the input area and clear it. The cursor
  // row is estimated from bytes, which is exact for ASCII and errs high for other text.
  std::string erase_input() const {
    if (stale_) return "\r\033[J";
    winsize ws{};
    size_t cols = ::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    size_t before = columns(prompt_) + static_cast<size_t>(std::max(rl_point, 0));
    size_t rows_up = before / cols;
    std::string out;
    if (rows_up > 0) out += "\033[" + std::to_string(rows_up) + "A";
    return out + "\r\033[J";
  }

  // Writes `out` and puts the prompt and the line being typed back below it. Right after a
  // line was entered libedit still holds it until the next key, so then only the prompt is
  // drawn (the line is logically empty).
  void redraw(std::string out) {
    if (stale_) {
      out += prompt_;
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
      return;
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    rl_forced_update_display();
  }

  void update_prompt() {
    std::string p;
    if (!session_ || !session_->online()) p += "(offline) ";
    p += current_.empty() ? "" : "[" + conversation_label(current_) + "] ";
    p += "> ";
    if (p == prompt_) return;
    prompt_ = p;
    if (tty_ && editing_) {
      std::string out = erase_input();
      rl_set_prompt(prompt_.c_str());
      redraw(out);
    }
    if (session_ && session_->online()) offline_reported_ = false;
  }

  // ---- input -------------------------------------------------------------------------------

  void start_input() {
    uv_poll_init(loop_, &stdin_poll_, 0);
    stdin_poll_.data = this;
    if (tty_) {
      rl_readline_name = "parley";
      rl_catch_signals = 0;
      rl_getc_function = read_key;  // before any call that initializes libedit
      using_history();
      stifle_history(1000);
      history_path_ = user_state_dir(options_.endpoint, options_.user, true);
      if (!history_path_.empty()) {
        history_path_ += "/history";
        read_history(history_path_.c_str());
      }
      prompt_ = "(offline) > ";
      rl_callback_handler_install(prompt_.c_str(), line_cb);
      editing_ = true;
      update_prompt();
      uv_poll_start(&stdin_poll_, UV_READABLE, stdin_cb);
    }
    // Piped commands wait for the login: they are meant to run, not to fail offline.
  }

  static void stdin_cb(uv_poll_t* h, int status, int) {
    auto* self = static_cast<Console*>(h->data);
    if (status < 0) {
      self->quit(kExitOk);
      return;
    }
    if (self->tty_) {
      self->line_entered_ = false;
      rl_callback_read_char();
      if (!self->editing_) return;
      if (self->eof_key_) {
        self->quit(kExitOk);
        return;
      }
      if (self->line_entered_) {
        // libedit leaves its unbuffered (key by key) mode after a line, and its next read
        // would block the loop until Enter. Installing the handler again turns it back on.
        if (self->editing_) rl_callback_handler_install(self->prompt_.c_str(), line_cb);
        self->stale_ = true;
        return;
      }
      self->stale_ = false;
      if (self->typed_) {
        self->typed_ = false;
        self->after_keystroke();
      }
      return;
    }
    char buf[4096];
    ssize_t n = ::read(0, buf, sizeof(buf));
    if (n <= 0) {
      if (!self->pending_line_.empty()) self->on_line(std::exchange(self->pending_line_, ""));
      self->stdin_eof_ = true;
      self->quit_when_idle();
      return;
    }
    self->pending_line_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while (!self->quitting_ && (nl = self->pending_line_.find('\n')) != std::string::npos) {
      std::string line = self->pending_line_.substr(0, nl);
      self->pending_line_.erase(0, nl + 1);
      self->on_line(line);
    }
  }

  static void line_cb(char* line) {
    Console* self = g_console;
    if (self == nullptr) {
      std::free(line);
      return;
    }
    if (line == nullptr) {  // Ctrl-D on an empty line
      self->quit(kExitOk);
      return;
    }
    std::string text(line);
    std::free(line);
    self->line_entered_ = true;
    self->at_line_start_ = true;
    self->stale_ = true;  // what on_line prints must not redraw the entered line
    if (!text.empty()) {
      add_history(text.c_str());
    }
    self->on_line(text);
  }

  // Tells the current conversation we are typing: at most every few seconds, and not for
  // commands or lines addressed elsewhere with @user / #group.
  void after_keystroke() {
    if (first_char_ == ':' || first_char_ == '@' || first_char_ == '#') return;
    if (current_.empty() || !session_->online()) return;
    int64_t now = wall_ms();
    int64_t& last = typing_sent_[current_];
    if (now - last < kTypingSendEveryMs) return;
    last = now;
    session_->typing(current_);
  }

  // libedit reads keys through this, so the console knows the first byte of a line without
  // reading rl_line_buffer.
  static int read_key(FILE* in) {
    unsigned char c;
    while (true) {
      ssize_t n = ::read(::fileno(in), &c, 1);
      if (n == 1) break;
      if (n < 0 && errno == EINTR) continue;
      return EOF;
    }
    Console* self = g_console;
    if (self == nullptr) return c;
    if (c == 0x15) {  // Ctrl-U: the line is empty again
      self->at_line_start_ = true;
    } else if (c == 0x04 && self->at_line_start_) {
      // Ctrl-D on an empty line. libedit's callback mode does not report it, so end the
      // line here and quit once the read returns.
      self->eof_key_ = true;
      return '\n';
    } else if (c >= 0x20 && c != 0x7f) {
      if (self->at_line_start_) self->first_char_ = c;
      self->at_line_start_ = false;
      self->typed_ = true;
    }
    return c;
  }

  void on_line(const std::string& line) {
    interrupts_ = 0;
    Input in = parse_input(line);
    switch (in.kind) {
      case Input::Kind::kEmpty:
        return;
      case Input::Kind::kInvalid:
        print("! " + in.error);
        return;
      case Input::Kind::kSwitch:
        switch_to(in.target);
        return;
      case Input::Kind::kText:
        if (!in.target.empty() && in.target != current_) switch_to(in.target);
        send_text(in.target.empty() ? current_ : in.target, in.text);
        return;
      case Input::Kind::kCommand:
        command(in);
        return;
    }
  }

  void send_text(const std::string& conv, const std::string& text) {
    if (conv.empty()) {
      print("! no current conversation: start the line with @user or #group (:help)");
      return;
    }
    typing_sent_.erase(conv);
    if (!session_->online()) {
      print(stamp() + " [" + conversation_label(conv) + "] (queued until reconnected) " + text);
    }
    session_->send_message(conv, text, [this, conv, text](const Reply& r) {
      std::string label = conversation_label(conv);
      if (!r.ok) {
        print(stamp() + " [" + label + "] ! not sent: " + describe(r) + ": " + snippet(text));
        return;
      }
      dom::parser p;
      dom::element e;
      uint64_t seq = 0;
      int64_t ts = wall_ms();
      if (p.parse(r.json).get(e) == simdjson::SUCCESS) {
        seq = u64_of(e, "seq");
        ts = i64_of(e, "ts");
      }
      auto& mine = own_[conv];
      mine[seq] = text;
      while (mine.size() > kOwnRemembered) mine.erase(mine.begin());
      known_.insert(conv);
      print(format_time(ts, wall_ms()) + " [" + label + "] " + options_.user + ": " + text +
            " ✓");
      if (conv == current_) session_->mark_read(conv);
    });
  }

  void switch_to(const std::string& conv) {
    current_ = conv;
    unread_.erase(conv);
    session_->mark_read(conv);
    watch_peer(conv);
    update_prompt();
  }

  void watch_peer(const std::string& conv) {
    if (conv.empty() || conv.front() == '#' || conv == options_.user) return;
    if (!watched_.insert(conv).second) return;
    ++inflight_;
    session_->watch({conv}, [this, conv](const Reply& r) {
      --inflight_;
      if (!r.ok) {
        watched_.erase(conv);
        if (r.code == "not_found") print("! there is no user " + conv);
        return;
      }
      show_presence_list(r.json, "presence");
    });
  }

  static std::string describe(const Reply& r) {
    if (r.code == "disconnected") return "not connected";
    return r.code + (r.message.empty() ? "" : " (" + r.message + ")");
  }

  // Calls `op` and prints an error, or hands a parsed ok reply to `fn`.
  template <typename Fn>
  void call(std::string_view op, std::string fields, Fn fn) {
    ++inflight_;
    session_->request(op, std::move(fields), [this, op = std::string(op), fn](const Reply& r) mutable {
      --inflight_;
      if (!r.ok) {
        print("! " + op + ": " + describe(r));
        return;
      }
      dom::parser p;
      dom::element e;
      if (p.parse(r.json).get(e) != simdjson::SUCCESS) return;
      fn(e);
    });
  }

  void show_presence_list(const std::string& json, const char* key) {
    dom::parser p;
    dom::element e;
    dom::array arr;
    if (p.parse(json).get(e) != simdjson::SUCCESS || e[key].get(arr) != simdjson::SUCCESS) return;
    for (dom::element x : arr) {
      bool on = false;
      if (x["online"].get(on) != simdjson::SUCCESS) on = {};
      on_presence(str_of(x, "user"), on, i64_of(x, "last_seen"));
    }
  }

  std::string group_arg(const Input& in, size_t index) {
    if (in.args.size() > index) {
      auto key = parse_conversation(in.args[index][0] == '#' ? in.args[index]
                                                             : "#" + in.args[index]);
      return key ? key->substr(1) : "";
    }
    if (!current_.empty() && current_.front() == '#') return current_.substr(1);
    return "";
  }

  static std::string names_json(const std::vector<std::string>& names, size_t from) {
    std::string out = "[";
    for (size_t i = from; i < names.size(); ++i) {
      if (i > from) out += ',';
      std::string n = names[i];
      if (!n.empty() && n.front() == '@') n.erase(0, 1);
      proto::append_json_string(out, n);
    }
    return out + "]";
  }

  void command(const Input& in) {
    const std::string& c = in.command;
    const auto& a = in.args;
    if (c == "q" || c == "quit" || c == "exit") {
      if (session_->online() && !idle()) {
        print("  waiting for the server to confirm what was sent…");
        quit_when_idle();
        return;
      }
      if (session_->pending_sends() > 0 && !quit_warned_) {
        quit_warned_ = true;
        print("! offline: " + std::to_string(session_->pending_sends()) +
              " message(s) not sent yet; :q again to quit anyway");
        return;
      }
      quit(kExitOk);
    } else if (c == "help" || c == "h" || c == "?") {
      print(kHelp);
    } else if (c == "switch" || c == "s" || c == "to") {
      auto key = a.size() == 1 ? parse_conversation(a[0]) : std::nullopt;
      if (!key) {
        print("usage: :switch @user | #group");
        return;
      }
      switch_to(*key);
    } else if (c == "olu" || c == "online" || c == "who") {
      list_online("", {}, 0);
    } else if (c == "friends") {
      call("friends", "", [this](dom::element e) { show_friends(e); });
    } else if (c == "add" || c == "friend") {
      one_user(in, "friend_request", "friend request sent to ");
    } else if (c == "accept") {
      one_user(in, "friend_accept", "you are now friends with ");
    } else if (c == "unfriend" || c == "decline") {
      one_user(in, "friend_remove", "no longer friends (or request withdrawn): ");
    } else if (c == "groups") {
      call("groups", "", [this](dom::element e) { show_groups(e); });
    } else if (c == "create") {
      if (a.empty() || !parse_conversation("#" + (a[0][0] == '#' ? a[0].substr(1) : a[0]))) {
        print("usage: :create GROUP [USER...]");
        return;
      }
      std::string g = a[0][0] == '#' ? a[0].substr(1) : a[0];
      call("group_create", "\"group\":" + json_quote(g) + ",\"members\":" + names_json(a, 1),
           [this, g](dom::element) {
             print(stamp() + " * created #" + g + " (you are its owner)");
             switch_to("#" + g);
           });
    } else if (c == "invite" || c == "kick") {
      std::string g = a.size() >= 2 ? group_arg(in, 0) : "";
      if (g.empty()) {
        print("usage: :" + c + " GROUP USER...");
        return;
      }
      call(c == "invite" ? "group_add" : "group_remove",
           "\"group\":" + json_quote(g) + ",\"members\":" + names_json(a, 1),
           [this, g, c](dom::element) {
             print(stamp() + " * #" + g + ": " + (c == "invite" ? "added" : "removed"));
           });
    } else if (c == "join") {
      print("Parley groups are joined by invitation: ask an owner of the group to run "
            ":invite GROUP " + options_.user + ". To start a group of your own: :create GROUP.");
    } else if (c == "leave" || c == "part") {
      std::string g = group_arg(in, 0);
      if (g.empty()) {
        print("usage: :leave GROUP (or switch to the group first)");
        return;
      }
      call("group_leave", "\"group\":" + json_quote(g), [this, g](dom::element) {
        print(stamp() + " * you left #" + g);
        if (current_ == "#" + g) {
          current_.clear();
          update_prompt();
        }
      });
    } else if (c == "members") {
      std::string g = group_arg(in, 0);
      if (g.empty()) {
        print("usage: :members GROUP (or switch to the group first)");
        return;
      }
      call("group_members", "\"group\":" + json_quote(g),
           [this, g](dom::element e) { show_members(g, e); });
    } else if (c == "history" || c == "hist") {
      history(in);
    } else if (c == "watch" || c == "unwatch") {
      if (a.empty()) {
        print("usage: :" + c + " USER...");
        return;
      }
      std::vector<std::string> users;
      for (const auto& u : a) users.push_back(u[0] == '@' ? u.substr(1) : u);
      if (c == "watch") {
        session_->watch(users, [this](const Reply& r) {
          if (!r.ok) {
            print("! watch: " + describe(r));
            return;
          }
          dom::parser p;
          dom::element e;
          dom::array arr;
          if (p.parse(r.json).get(e) != simdjson::SUCCESS ||
              e["presence"].get(arr) != simdjson::SUCCESS) {
            return;
          }
          for (dom::element x : arr) {
            bool on = false;
            if (x["online"].get(on) != simdjson::SUCCESS) on = {};
            std::string u = str_of(x, "user");
            presence_[u] = on;
            int64_t seen = i64_of(x, "last_seen");
            print(stamp() + " * watching " + u + ": " +
                  (on ? "online" : seen > 0 ? "offline, last seen " + format_time(seen, wall_ms())
                                            : "offline, never seen"));
          }
        });
      } else {
        session_->unwatch(users, [this](const Reply& r) {
          if (!r.ok) print("! unwatch: " + describe(r));
        });
      }
    } else if (c == "ls" || c == "conversations" || c == "list") {
      show_conversations();
    } else if (c == "status" || c == "me") {
      print(options_.user + " (device " + options_.device + ") on " +
            options_.endpoint.display() + ": " + (session_->online() ? "online" : "offline") +
            ", " + std::to_string(session_->pending_sends()) + " message(s) awaiting ✓" +
            (cursors_.path().empty() ? "" : "; cursors in " + cursors_.path()));
    } else {
      print("! unknown command :" + c + " (try :help)");
    }
  }

  void one_user(const Input& in, const char* op, std::string done) {
    if (in.args.size() != 1) {
      print("usage: :" + in.command + " USER");
      return;
    }
    std::string u = in.args[0][0] == '@' ? in.args[0].substr(1) : in.args[0];
    call(op, "\"user\":" + json_quote(u),
         [this, u, done](dom::element) { print(stamp() + " * " + done + u); });
  }

  void list_online(std::string after, std::vector<std::string> users, int pages) {
    std::string fields = "\"limit\":1000";
    if (!after.empty()) fields += ",\"after\":" + json_quote(after);
    call("online", fields, [this, users, pages](dom::element e) mutable {
      dom::array arr;
      uint64_t count = u64_of(e, "count");
      size_t got = 0;
      if (e["users"].get(arr) == simdjson::SUCCESS) {
        for (dom::element u : arr) {
          std::string_view name;
          if (u.get(name) == simdjson::SUCCESS) users.emplace_back(name);
          ++got;
        }
      }
      if (got == 1000 && pages < 9) {  // more pages: up to 10,000 names on screen
        list_online(users.back(), std::move(users), pages + 1);
        return;
      }
      std::string line = stamp() + " online (" + std::to_string(count) + "):";
      for (const auto& u : users) line += " " + u;
      if (users.size() < count) line += " …";
      print(line);
    });
  }

  void show_friends(dom::element e) {
    dom::array arr;
    std::string line = stamp() + " friends:";
    size_t n = 0;
    if (e["friends"].get(arr) == simdjson::SUCCESS) {
      for (dom::element f : arr) {
        bool on = false;
        if (f["online"].get(on) != simdjson::SUCCESS) on = {};
        int64_t seen = i64_of(f, "last_seen");
        line += std::string(n++ ? ", " : " ") + str_of(f, "user") +
                (on ? " (online)" : seen > 0 ? " (last seen " + format_time(seen, wall_ms()) + ")"
                                             : " (offline)");
      }
    }
    if (n == 0) line += " none yet (:add USER)";
    print(line);
    for (const char* dir : {"in", "out"}) {
      dom::array p;
      if (e["pending"][dir].get(p) != simdjson::SUCCESS || p.size() == 0) continue;
      std::string l = std::string("  ") +
                      (std::string(dir) == "in" ? "asking you (:accept USER):" : "you asked:");
      for (dom::element u : p) {
        std::string_view name;
        if (u.get(name) == simdjson::SUCCESS) l += " " + std::string(name);
      }
      print(l);
    }
  }

  void show_groups(dom::element e) {
    dom::array arr;
    if (e["groups"].get(arr) != simdjson::SUCCESS || arr.size() == 0) {
      print(stamp() + " groups: none (:create GROUP USER...)");
      return;
    }
    print(stamp() + " groups:");
    for (dom::element g : arr) {
      std::string name = str_of(g, "group");
      uint64_t head = u64_of(g, "head"), read = u64_of(g, "read");
      known_.insert("#" + name);
      print("  #" + name + " (" + str_of(g, "role") + ", " + std::to_string(u64_of(g, "members")) +
            " members" + (head > read ? ", " + std::to_string(head - read) + " unread" : "") +
            ")");
    }
  }

  void show_members(const std::string& g, dom::element e) {
    dom::array arr;
    if (e["members"].get(arr) != simdjson::SUCCESS) return;
    std::string line = stamp() + " #" + g + ":";
    size_t n = 0;
    for (dom::element m : arr) {
      bool on = false;
      if (m["online"].get(on) != simdjson::SUCCESS) on = {};
      std::string role = str_of(m, "role");
      line += std::string(n++ ? ", " : " ") + str_of(m, "user") +
              (role == "owner" ? " (owner" : " (") + (role == "owner" && on ? ", " : "") +
              (on ? "online" : "") + ")";
    }
    // Drop the "()" of offline plain members.
    for (size_t pos; (pos = line.find(" ()")) != std::string::npos;) line.erase(pos, 3);
    print(line);
  }

  void show_conversations() {
    if (known_.empty()) {
      print("no conversations yet: say hello with @user TEXT");
      return;
    }
    std::string line = stamp() + " conversations:";
    for (const auto& k : known_) {
      line += " " + conversation_label(k);
      auto it = unread_.find(k);
      if (it != unread_.end() && it->second > 0) line += " (" + std::to_string(it->second) + ")";
      if (k == current_) line += " *";
    }
    print(line);
  }

  void history(const Input& in) {
    if (current_.empty()) {
      print("! no current conversation (:switch @user or #group first)");
      return;
    }
    int n = kDefaultHistory;
    if (!in.args.empty()) {
      n = std::atoi(in.args[0].c_str());
      if (n <= 0) {
        print("usage: :history [N]   (N from 1 to " + std::to_string(kMaxHistory) + ")");
        return;
      }
      n = std::min(n, kMaxHistory);
    }
    std::string conv = current_;
    call("history",
         client::Session::target_field(conv, "peer") + ",\"limit\":" + std::to_string(n),
         [this, conv](dom::element e) {
           dom::array arr;
           if (e["messages"].get(arr) != simdjson::SUCCESS) return;
           std::vector<std::string> lines;
           for (dom::element m : arr) {
             std::string who = str_of(m, "from");
             std::string type = str_of(m, "type");
             std::string body = str_of(m, "body");
             std::string ts = format_time(i64_of(m, "ts"), wall_ms());
             lines.push_back(ts + " " + (type == "system" ? "* " + body : who + ": " + body));
           }
           std::string label = conversation_label(conv);
           print("── " + label + ": last " + std::to_string(lines.size()) + " message(s) ──");
           for (auto it = lines.rbegin(); it != lines.rend(); ++it) print("  " + *it);
           print("── end of history " + label + " ──");
         });
  }

  // ---- shutdown ----------------------------------------------------------------------------

  // No request or send waits for its reply.
  bool idle() const { return inflight_ == 0 && session_->pending_sends() == 0; }

  void quit_when_idle() {
    // Piped input ended: wait for sends to be confirmed (or the session to give up).
    if (idle() || !session_->online()) {
      quit(idle() ? kExitOk : kExitUnavailable);
      return;
    }
    auto* t = new uv_timer_t;
    uv_timer_init(loop_, t);
    t->data = this;
    uv_timer_start(
        t,
        [](uv_timer_t* h) {
          auto* self = static_cast<Console*>(h->data);
          if (self->quitting_ || self->idle() || !self->session_->online()) {
            uv_close(reinterpret_cast<uv_handle_t*>(h),
                     [](uv_handle_t* x) { delete reinterpret_cast<uv_timer_t*>(x); });
            self->quit(self->idle() ? kExitOk : kExitUnavailable);
          }
        },
        50, 50);
  }

  void quit(int code) {
    if (quitting_) return;
    quitting_ = true;
    exit_code_ = code;
    if (editing_) {
      editing_ = false;
      rl_callback_handler_remove();
      if (!history_path_.empty()) write_history(history_path_.c_str());
      std::fputs("\r\033[K", stdout);
      std::fflush(stdout);
    }
    uv_poll_stop(&stdin_poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&stdin_poll_), nullptr);
    for (auto* s : signals_) {
      uv_close(reinterpret_cast<uv_handle_t*>(s),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
    }
    signals_.clear();
    session_->stop();
  }

  static void signal_cb(uv_signal_t* h, int sig) {
    auto* self = static_cast<Console*>(h->data);
    if (sig == SIGWINCH) {
      if (self->editing_) rl_resize_terminal();
      return;
    }
    if (sig == SIGINT && self->editing_ && self->interrupts_ == 0) {
      self->interrupts_ = 1;
      self->print("^C (Ctrl-U clears the line; Ctrl-C again, :q or Ctrl-D quits)");
      return;
    }
    self->quit(sig == SIGINT ? 130 : kExitOk);
  }

  uv_loop_t* loop_;
  ConsoleOptions options_;
  client::CursorStore cursors_;
  std::unique_ptr<client::Session> session_;
  bool tty_ = false;
  bool editing_ = false;   // libedit owns the bottom line of the terminal
  bool quitting_ = false;
  bool quit_warned_ = false;
  bool stdin_eof_ = false;
  bool offline_reported_ = false;
  bool reading_ = false;
  bool stale_ = false;         // a line was just entered; libedit clears it at the next key
  bool line_entered_ = false;  // set by line_cb during one rl_callback_read_char
  // Key tracking done in read_key, since libedit's line buffer is not reliable to read here.
  bool at_line_start_ = true;  // nothing printable typed on this line yet
  bool typed_ = false;         // a printable key was read during this rl_callback_read_char
  bool eof_key_ = false;       // Ctrl-D on an empty line
  int first_char_ = 0;         // first printable byte of the line being typed   // piped stdin is being read (after the first login)
  int interrupts_ = 0;
  int inflight_ = 0;       // requests sent through call() and not answered yet
  int exit_code_ = kExitOk;
  std::string prompt_;
  std::string history_path_;
  std::string pending_line_;   // piped input: a line not finished yet
  std::string current_;        // "bob", "#team" or "" (none yet)
  std::set<std::string> known_;                       // conversations seen this session
  std::map<std::string, uint64_t> unread_;            // outside the current conversation
  std::map<std::string, std::map<uint64_t, std::string>> own_;  // our sends by seq, for receipts
  std::map<std::string, bool> presence_;              // last state shown per user
  std::map<std::string, int64_t> typing_sent_;        // target → last typing push (ms)
  std::map<std::string, int64_t> typing_shown_;       // conv + '\n' + user → last shown (ms)
  std::set<std::string> watched_;
  uv_poll_t stdin_poll_;
  std::vector<uv_signal_t*> signals_;
};

}  // namespace

int run_console(const ConsoleOptions& options) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code;
  {
    Console console(&loop, options);
    code = console.run();
    uv_run(&loop, UV_RUN_DEFAULT);  // let closing handles finish
  }
  uv_loop_close(&loop);
  return code;
}

}  // namespace parley::cli
