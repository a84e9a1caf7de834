// What every parley command shares: exit codes, where state lives, credentials, time stamps,
// and the parsing of a console input line. Pure functions except where noted.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/client/endpoint.h"

namespace parley::cli {

// Exit codes scripts can rely on (documented in docs/CLIENT.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // the server refused the request (bad_request, internal, ...) or kicked
  kExitUsage = 2,        // bad command line
  kExitUnavailable = 3,  // could not reach the server in time, or it was unavailable: retry later
  kExitAuth = 4,         // unauthorized: wrong user, password or token; or no credentials
  kExitNotFound = 5,     // no such user or group
  kExitForbidden = 6,    // not allowed (not a member, not a friend, registration closed)
  kExitConflict = 7,     // the name is taken (register, group create)
  kExitTooLarge = 8,     // the message is over the server's limit
};

// Maps a protocol error code (or "disconnected") to the exit code above.
ExitCode exit_code_for(std::string_view code);

// $XDG_STATE_HOME/parley, else $HOME/.local/state/parley. Empty if neither is set.
std::string state_root();
// The directory for one server and user ("<root>/127.0.0.1:7070/alice"), created (0700) when
// `create`. Returns "" when there is no state root or it cannot be created.
std::string user_state_dir(const client::Endpoint& ep, std::string_view user, bool create);
// The user of the last interactive login on this server, or "".
std::string last_user(const client::Endpoint& ep);
void remember_user(const client::Endpoint& ep, std::string_view user);
// The saved token of `user` on this server ("" if none); saving writes it with mode 0600.
std::string saved_token(const client::Endpoint& ep, std::string_view user);
void save_token(const client::Endpoint& ep, std::string_view user, std::string_view token);

// Reads a password from the controlling terminal without echo. nullopt when there is no
// terminal (or on EOF). Blocks.
std::optional<std::string> prompt_password(const std::string& prompt);
// The first line of a file (a password file), nullopt if unreadable.
std::optional<std::string> read_first_line(const std::string& path);

// "14:03:07" for today (local time), "2024-06-10 14:03" otherwise.
std::string format_time(int64_t ts_ms, int64_t now_ms);
int64_t wall_ms();

// The first line of a message body, at most 40 bytes cut at a character boundary, with "…"
// when something was left out. For receipt and error lines.
std::string snippet(std::string_view body);

// ---- libuv plumbing shared by the console and the one-shots (loop thread only) ----

// Runs `body` on a fresh loop, lets the handles it closed finish, and closes the loop.
// Returns what `body` returned.
int with_loop(const std::function<int(uv_loop_t*)>& body);
// Starts one signal handle per signal, each with `data` and `cb`.
std::vector<uv_signal_t*> watch_signals(uv_loop_t* loop, std::initializer_list<int> signals,
                                        void* data, uv_signal_cb cb);
// Closes (and later frees) the handles of watch_signals() and empties the list.
void close_signals(std::vector<uv_signal_t*>& signals);

// One line typed in the console.
struct Input {
  enum class Kind : uint8_t {
    kEmpty,    // blank
    kText,     // a message: to `target` if set, else to the current conversation
    kSwitch,   // "@bob" or "#team" alone: make it the current conversation
    kCommand,  // ":name args..."
    kInvalid,  // e.g. "@" followed by an invalid name; `error` says why
  };
  Kind kind = Kind::kEmpty;
  std::string target;             // "bob" or "#team" (kText with a prefix, kSwitch)
  std::string text;               // kText: the message
  std::string command;            // kCommand: without the ':' ("olu")
  std::vector<std::string> args;  // kCommand: whitespace-separated arguments
  std::string rest;               // kCommand: everything after the command name, trimmed
  std::string error;
};

// Parses a console line: "@bob hi" → 1:1, "#team hi" → group, ":cmd args" → command,
// "::text" → the text ":text", anything else → the current conversation.
Input parse_input(std::string_view line);

// Parses "@bob", "bob" or "#team" into a conversation key ("bob" / "#team"); nullopt if the
// name is not valid.
std::optional<std::string> parse_conversation(std::string_view text);
// "@bob" or "#team" for display.
std::string conversation_label(std::string_view key);

}  // namespace parley::cli
