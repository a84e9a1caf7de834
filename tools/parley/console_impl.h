// The interactive console's state, shared by the files that implement it (internal to
// tools/parley; run_console() in console.h is the interface):
//   console.cc   lifecycle: start, login/offline/fatal events, typed lines, sending, quitting
//   render.cc    what the server pushes: messages, receipts, presence, typing, friend requests
//   commands.cc  the `:command` table, its handlers and the rendering of their replies
//   terminal.cc  the input line (libedit) and printing above it
//
// Threading: everything runs on the loop's thread.
#pragma once

#include <simdjson.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common.h"
#include "console.h"
#include "parley/client/json.h"
#include "parley/client/session.h"
#include "terminal.h"

namespace parley::cli {

class Console final : public client::Session::Events, private Terminal::Listener {
 public:
  Console(uv_loop_t* loop, const ConsoleOptions& options);
  // Runs the loop until the console quits; returns the exit code.
  int run();

  // ---- Session events (console.cc) ----
  void on_online(bool first, const std::vector<client::ConversationInfo>& convs) override;
  void on_offline(std::string_view why, uint32_t retry_ms) override;
  void on_fatal(std::string_view code, std::string_view why) override;
  // ---- Session events (render.cc) ----
  bool on_message(const client::Message& m) override;
  void on_receipt(const std::string& conv, const std::string& user, std::string_view kind,
                  uint64_t seq) override;
  void on_presence(const std::string& user, bool online, int64_t ts) override;
  void on_typing(const std::string& conv, const std::string& from) override;
  void on_friend_request(const std::string& from, int64_t ts) override;
  void on_friend_accepted(const std::string& user) override;

 private:
  // One `:command`: its names (the first is the one :help shows) and its handler.
  struct Command {
    std::vector<std::string_view> names;
    void (Console::*run)(const Input& in);
  };
  static const std::vector<Command>& commands();

  // ---- Terminal events (console.cc) ----
  void on_line(const std::string& line) override;
  void on_keystroke(int first_char) override;
  void on_input_end(bool piped) override;

  // ---- console.cc ----
  static std::string cursor_path(const ConsoleOptions& o);
  std::string stamp() const { return format_time(wall_ms(), wall_ms()); }
  void print(const std::string& line) { terminal_.print(line); }
  void update_prompt();
  void send_text(const std::string& conv, const std::string& text);
  void switch_to(const std::string& conv);
  void watch_peer(const std::string& conv);
  bool idle() const;  // no request or send waits for its reply
  void quit_when_idle();
  void quit(int code);
  static void signal_cb(uv_signal_t* h, int sig);

  // ---- render.cc ----
  void remember_own(const std::string& conv, uint64_t seq, const std::string& text);

  // ---- commands.cc ----
  void command(const Input& in);
  // Calls `op`; prints an error, or hands the parsed ok reply to `fn`.
  void call(std::string_view op, std::string fields,
            std::function<void(simdjson::dom::element)> fn);
  static std::string describe(const client::Reply& r);
  std::string group_arg(const Input& in, size_t index) const;
  void cmd_quit(const Input& in);
  void cmd_help(const Input& in);
  void cmd_switch(const Input& in);
  void cmd_online(const Input& in);
  void cmd_friends(const Input& in);
  void cmd_friend_op(const Input& in);  // add, accept, unfriend
  void cmd_groups(const Input& in);
  void cmd_create(const Input& in);
  void cmd_members_op(const Input& in);  // invite, kick
  void cmd_join(const Input& in);
  void cmd_leave(const Input& in);
  void cmd_members(const Input& in);
  void cmd_history(const Input& in);
  void cmd_watch(const Input& in);
  void cmd_unwatch(const Input& in);
  void cmd_ls(const Input& in);
  void cmd_status(const Input& in);
  void list_online(std::string after, std::vector<std::string> users, int pages);
  void show_friends(simdjson::dom::element e);
  void show_groups(simdjson::dom::element e);
  void show_members(const std::string& group, simdjson::dom::element e);

  uv_loop_t* loop_;
  ConsoleOptions options_;
  client::CursorStore cursors_;
  Terminal terminal_;
  std::unique_ptr<client::Session> session_;
  bool quitting_ = false;
  bool quit_warned_ = false;       // :q while offline with unsent messages asked once
  bool offline_reported_ = false;  // the current outage was announced
  int interrupts_ = 0;             // Ctrl-C presses since the last line
  int inflight_ = 0;               // requests sent through call() and not answered yet
  int exit_code_ = kExitOk;
  uv_timer_t* quit_timer_ = nullptr;        // waits for replies before quitting; closed by quit()
  std::string current_;                     // "bob", "#team" or "" (none yet)
  std::set<std::string> known_;             // conversations seen this session
  std::map<std::string, uint64_t> unread_;  // outside the current conversation
  std::map<std::string, std::map<uint64_t, std::string>> own_;  // our sends by seq, for receipts
  std::map<std::string, bool> presence_;                        // last state shown per user
  std::map<std::string, int64_t> typing_sent_;                  // target → last typing push (ms)
  std::map<std::string, int64_t> typing_shown_;  // conv + '\n' + user → last shown (ms)
  std::set<std::string> watched_;                // users watched by watch_peer
  std::vector<uv_signal_t*> signals_;
};

}  // namespace parley::cli
