// The interactive console: `parley login USER`. Line editing with libedit's readline
// interface driven from the libuv loop (rl_callback_read_char when stdin is readable), so
// incoming messages, receipts, presence and typing are printed above the line being typed
// without garbling it. Without a terminal on stdin it reads plain lines instead.
#pragma once

#include <string>

#include "parley/client/endpoint.h"

namespace parley::cli {

struct ConsoleOptions {
  client::Endpoint endpoint;
  std::string user;
  std::string password;
  std::string token;
  std::string device = "console";
  std::string start_conversation;  // "bob" or "#team": the current conversation at start
};

// Runs until :q, Ctrl-D, SIGTERM or a fatal session error; returns the exit code.
int run_console(const ConsoleOptions& options);

}  // namespace parley::cli
