#include "console.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "console_impl.h"

namespace parley::cli {

namespace {

constexpr int64_t kTypingSendEveryMs = 3000;  // at most one typing push per target per 3 s
constexpr size_t kMaxAutoWatch = 1000;        // peers of 1:1 chats watched after login
constexpr uint64_t kQuitPollMs = 50;          // how often a waiting quit checks for replies

}  // namespace

Console::Console(uv_loop_t* loop, const ConsoleOptions& o)
    : loop_(loop),
      options_(o),
      cursors_(cursor_path(o)),
      terminal_(loop, *this, ::isatty(0) && ::isatty(1)),
      current_(o.start_conversation) {}

std::string Console::cursor_path(const ConsoleOptions& o) {
  std::string dir = user_state_dir(o.endpoint, o.user, true);
  return dir.empty() ? "" : dir + "/cursors." + o.device;
}

int Console::run() {
  std::string err;
  if (!cursors_.load(&err)) print("! ignoring the cursor file: " + err);
  client::Session::Options so;
  so.user = options_.user;
  so.password = options_.password;
  so.token = options_.token;
  so.device = options_.device;
  session_ = std::make_unique<client::Session>(loop_, options_.endpoint, so, cursors_, *this);

  std::string history = user_state_dir(options_.endpoint, options_.user, true);
  terminal_.start("(offline) > ", history.empty() ? "" : history + "/history");
  update_prompt();
  signals_ = watch_signals(loop_, {SIGINT, SIGTERM, SIGHUP, SIGWINCH}, this, signal_cb);
  print("Connecting to " + options_.endpoint.display() + " as " + options_.user + " (device " +
        options_.device + ")…");
  session_->start();
  uv_run(loop_, UV_RUN_DEFAULT);
  return exit_code_;
}

// ---- Session events -------------------------------------------------------------------------

void Console::on_online(bool first, const std::vector<client::ConversationInfo>& convs) {
  save_token(options_.endpoint, options_.user, session_->token());
  // Piped commands wait for the login: they are meant to run, not to fail offline.
  if (!quitting_) terminal_.read_lines();
  remember_user(options_.endpoint, options_.user);
  if (!first) {
    print(stamp() + " ✓ reconnected; catching up");
    update_prompt();
    return;
  }
  std::vector<std::string> peers;
  std::string unread_list;
  for (const auto& c : convs) {
    if (c.key.empty()) continue;
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
  print(stamp() + " Logged in as " + options_.user + " on " + options_.endpoint.display() + ". " +
        std::to_string(convs.size()) + " conversation(s). Type :help for help.");
  if (!unread_list.empty()) print("  unread: " + unread_list);
  if (!current_.empty()) watch_peer(current_);
  if (!peers.empty()) session_->watch(peers, nullptr);
  update_prompt();
}

void Console::on_offline(std::string_view why, uint32_t retry_ms) {
  if (!offline_reported_) {
    offline_reported_ = true;
    char delay[32];
    std::snprintf(delay, sizeof(delay), "%.1f", retry_ms / 1000.0);
    print(stamp() + " ! " + std::string(why) + "; reconnecting (first try in " + delay + " s)");
  }
  update_prompt();
}

void Console::on_fatal(std::string_view code, std::string_view why) {
  print(stamp() + " ! " + std::string(why));
  quit(exit_code_for(code == "kicked" ? "internal" : code));
}

void Console::update_prompt() {
  bool online = session_ && session_->online();
  std::string p = online ? "" : "(offline) ";
  if (!current_.empty()) p += "[" + conversation_label(current_) + "] ";
  terminal_.set_prompt(p + "> ");
  if (online) offline_reported_ = false;
}

// ---- typed lines ----------------------------------------------------------------------------

void Console::on_line(const std::string& line) {
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

// Tells the current conversation we are typing: at most every few seconds, and not for
// commands or lines addressed elsewhere with @user / #group.
void Console::on_keystroke(int first_char) {
  if (first_char == ':' || first_char == '@' || first_char == '#') return;
  if (current_.empty() || !session_->online()) return;
  int64_t now = wall_ms();
  int64_t& last = typing_sent_[current_];
  if (now - last < kTypingSendEveryMs) return;
  last = now;
  session_->typing(current_);
}

void Console::on_input_end(bool piped) {
  if (piped) {
    quit_when_idle();  // wait for what the script sent to be confirmed
  } else {
    quit(kExitOk);
  }
}

void Console::send_text(const std::string& conv, const std::string& text) {
  if (conv.empty()) {
    print("! no current conversation: start the line with @user or #group (:help)");
    return;
  }
  typing_sent_.erase(conv);
  if (!session_->online()) {
    print(stamp() + " [" + conversation_label(conv) + "] (queued until reconnected) " + text);
  }
  session_->send_message(conv, text, [this, conv, text](const client::Reply& r) {
    std::string label = conversation_label(conv);
    if (!r.ok) {
      print(stamp() + " [" + label + "] ! not sent: " + describe(r) + ": " + snippet(text));
      return;
    }
    simdjson::dom::parser p;
    simdjson::dom::element e;
    uint64_t seq = 0;
    int64_t ts = wall_ms();
    if (p.parse(r.json).get(e) == simdjson::SUCCESS) {
      seq = client::u64_of(e, "seq");
      ts = client::i64_of(e, "ts");
    }
    remember_own(conv, seq, text);
    known_.insert(conv);
    print(format_time(ts, wall_ms()) + " [" + label + "] " + options_.user + ": " + text + " ✓");
    if (conv == current_) session_->mark_read(conv);
  });
}

void Console::switch_to(const std::string& conv) {
  current_ = conv;
  unread_.erase(conv);
  session_->mark_read(conv);
  watch_peer(conv);
  update_prompt();
}

void Console::watch_peer(const std::string& conv) {
  if (conv.empty() || conv.front() == '#' || conv == options_.user) return;
  if (!watched_.insert(conv).second) return;
  ++inflight_;
  session_->watch({conv}, [this, conv](const client::Reply& r) {
    --inflight_;
    if (!r.ok) {
      watched_.erase(conv);
      if (r.code == "not_found") print("! there is no user " + conv);
      return;
    }
    for (const auto& p : client::parse_presence_list(r.json, "presence")) {
      on_presence(p.user, p.online, p.last_seen);
    }
  });
}

// ---- shutdown -------------------------------------------------------------------------------

bool Console::idle() const { return inflight_ == 0 && session_->pending_sends() == 0; }

// Quits once every request and send has its reply, or the session went offline (exit 3 if
// something was still unanswered then).
void Console::quit_when_idle() {
  if (idle() || !session_->online()) {
    quit(idle() ? kExitOk : kExitUnavailable);
    return;
  }
  if (quit_timer_ != nullptr) return;  // already waiting
  quit_timer_ = new uv_timer_t;
  uv_timer_init(loop_, quit_timer_);
  quit_timer_->data = this;
  uv_timer_start(
      quit_timer_,
      [](uv_timer_t* h) {
        auto* self = static_cast<Console*>(h->data);
        if (self->idle() || !self->session_->online()) {
          self->quit(self->idle() ? kExitOk : kExitUnavailable);
        }
      },
      kQuitPollMs, kQuitPollMs);
}

void Console::quit(int code) {
  if (quitting_) return;
  quitting_ = true;
  exit_code_ = code;
  terminal_.stop();
  if (quit_timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(quit_timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    quit_timer_ = nullptr;
  }
  close_signals(signals_);
  session_->stop();
}

void Console::signal_cb(uv_signal_t* h, int sig) {
  auto* self = static_cast<Console*>(h->data);
  if (sig == SIGWINCH) {
    self->terminal_.resized();
    return;
  }
  if (sig == SIGINT && self->terminal_.editing() && self->interrupts_ == 0) {
    self->interrupts_ = 1;
    self->print("^C (Ctrl-U clears the line; Ctrl-C again, :q or Ctrl-D quits)");
    return;
  }
  self->quit(sig == SIGINT ? 130 : kExitOk);
}

int run_console(const ConsoleOptions& options) {
  return with_loop([&](uv_loop_t* loop) {
    Console console(loop, options);
    int code = console.run();
    uv_run(loop, UV_RUN_DEFAULT);  // let closing handles finish while the console exists
    return code;
  });
}

}  // namespace parley::cli
