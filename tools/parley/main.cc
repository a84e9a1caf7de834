// parley: the console client. `parley login USER` opens an interactive chat; `send`, `tail`
// and `register` are one-shot commands for scripts. See docs/CLIENT.md.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <langinfo.h>
#include <clocale>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include "common.h"
#include "console.h"
#include "oneshot.h"
#include "parley/client/cursors.h"

namespace {

using namespace parley;
using namespace parley::cli;

struct Globals {
  std::string server;
  std::string ws;
  std::string user;
  std::string token;
  std::string password_file;
  std::string device;
  double timeout_s = 30;
};

std::optional<client::Endpoint> endpoint_of(const Globals& g) {
  if (!g.ws.empty()) return client::parse_ws_url(g.ws);
  std::string server = g.server;
  if (server.empty()) {
    const char* env = std::getenv("PARLEY_SERVER");
    server = env != nullptr && env[0] != '\0' ? env : "127.0.0.1:7070";
  }
  if (server.rfind("ws://", 0) == 0) return client::parse_ws_url(server);
  return client::parse_tcp_endpoint(server);
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' ? std::string(v) : fallback;
}

// Fills the password or token of `o` from the options, the environment, the saved token
// (when `saved_ok`), or a prompt on the terminal. Returns an exit code, or -1 on success.
int credentials(const Globals& g, OneShotOptions& o, bool saved_ok, const char* why) {
  o.token = g.token.empty() ? env_or("PARLEY_TOKEN", "") : g.token;
  if (!g.password_file.empty()) {
    auto pw = read_first_line(g.password_file);
    if (!pw) {
      std::cerr << "parley: cannot read " << g.password_file << "\n";
      return kExitUsage;
    }
    o.password = *pw;
  } else {
    o.password = env_or("PARLEY_PASSWORD", "");
  }
  // A password given explicitly wins over the token saved by an earlier login.
  if (o.token.empty() && o.password.empty() && saved_ok) {
    o.token = saved_token(o.endpoint, o.user);
  }
  if (!o.token.empty() || !o.password.empty()) return -1;
  auto pw = prompt_password(std::string(why) + " password for " + o.user + ": ");
  if (!pw) {
    std::cerr << "parley: no password: give --token, --password-file or PARLEY_PASSWORD, "
                 "or run on a terminal\n";
    return kExitAuth;
  }
  o.password = *pw;
  return -1;
}

// The stdin of `parley send ... -`: the whole input as one message, or each line as one.
std::vector<std::string> read_stdin_bodies(bool lines) {
  std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  if (!lines) {
    while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
    if (!all.empty()) out.push_back(all);
    return out;
  }
  size_t start = 0;
  while (start < all.size()) {
    size_t nl = all.find('\n', start);
    std::string line = all.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

void use_utf8_locale() {
  std::setlocale(LC_ALL, "");
  std::string cs = nl_langinfo(CODESET);
  if (cs != "UTF-8") {
    // The protocol is UTF-8; line editing of non-ASCII text needs a UTF-8 ctype.
    std::setlocale(LC_CTYPE, "C.UTF-8");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  use_utf8_locale();

  CLI::App app{"parley: the Parley chat client (interactive console and one-shot commands)"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--server", g.server,
                 "server as HOST:PORT over raw TCP (default $PARLEY_SERVER or 127.0.0.1:7070)");
  app.add_option("--ws", g.ws, "connect over WebSocket instead, e.g. ws://127.0.0.1:8080/ws");
  app.add_option("--token", g.token, "log in with this token instead of a password");
  app.add_option("--password-file", g.password_file,
                 "read the password from the first line of this file");
  app.add_option("--device", g.device,
                 "device name (default: console for login, send, tail for the others)");
  app.add_option("--timeout", g.timeout_s, "seconds a one-shot command may take (default 30)");
  app.set_version_flag("--version", std::string("parley ") + PARLEY_VERSION);

  auto* login = app.add_subcommand("login", "log in and chat interactively");
  std::string login_user, start_conv;
  login->add_option("USER", login_user, "your user name")->required();
  login->add_option("--to", start_conv, "start in this conversation (@bob or #team)");

  auto* reg = app.add_subcommand("register", "create an account");
  std::string reg_user;
  reg->add_option("USER", reg_user, "the new user name")->required();

  auto* send = app.add_subcommand("send", "send a message and exit when the server stored it");
  std::string send_to, send_group, send_type = "text";
  std::vector<std::string> send_text;
  bool send_lines = false, send_json = false;
  send->add_option("-u,--user", g.user, "send as this user (default $PARLEY_USER or last login)");
  auto* to_opt = send->add_option("--to", send_to, "recipient user");
  auto* group_opt = send->add_option("--group", send_group, "recipient group");
  to_opt->excludes(group_opt);
  send->add_option("--type", send_type, "message type: text, image, file or custom");
  send->add_flag("--lines", send_lines, "with -: send each input line as its own message");
  send->add_flag("--json", send_json, "print each stored message as a JSON line");
  send->add_option("TEXT", send_text, "the message (words are joined by spaces); - reads stdin")
      ->required();

  auto* tail = app.add_subcommand("tail", "print incoming messages as JSON lines");
  uint64_t tail_count = 0;
  bool tail_no_ack = false;
  std::string tail_only;
  tail->add_option("-u,--user", g.user, "as this user (default $PARLEY_USER or last login)");
  tail->add_option("-n,--count", tail_count, "exit after this many messages (default: never)");
  tail->add_flag("--no-ack", tail_no_ack, "do not ack (senders will not see delivered)");
  tail->add_option("--conversation", tail_only, "only this conversation (@bob or #team)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  auto ep = endpoint_of(g);
  if (!ep) {
    std::cerr << "parley: bad server address (HOST:PORT, or ws://HOST:PORT/PATH with --ws)\n";
    return kExitUsage;
  }
  OneShotOptions o;
  o.endpoint = *ep;
  o.timeout_ms = g.timeout_s <= 0 ? 0 : static_cast<uint32_t>(g.timeout_s * 1000);

  if (*login) {
    if (!client::valid_name(login_user)) {
      std::cerr << "parley: '" << login_user << "' is not a valid user name\n";
      return kExitUsage;
    }
    ConsoleOptions c;
    c.endpoint = *ep;
    c.user = login_user;
    c.device = g.device.empty() ? "console" : g.device;
    if (!start_conv.empty()) {
      auto key = parse_conversation(start_conv);
      if (!key) {
        std::cerr << "parley: --to takes @user or #group\n";
        return kExitUsage;
      }
      c.start_conversation = *key;
    }
    o.user = login_user;
    if (int rc = credentials(g, o, false, "Parley"); rc >= 0) return rc;
    c.password = o.password;
    c.token = o.token;
    return run_console(c);
  }

  if (*reg) {
    if (!client::valid_name(reg_user)) {
      std::cerr << "parley: a user name is 1-32 of A-Z a-z 0-9 _ . -\n";
      return kExitUsage;
    }
    o.user = reg_user;
    if (!g.password_file.empty() || std::getenv("PARLEY_PASSWORD") != nullptr) {
      Globals pw_only = g;
      pw_only.token.clear();
      if (int rc = credentials(pw_only, o, false, "New"); rc >= 0) return rc;
    } else {
      auto a = prompt_password("New password for " + reg_user + ": ");
      auto b = a ? prompt_password("Repeat the password: ") : std::nullopt;
      if (!a || !b) {
        std::cerr << "parley: no password: give --password-file or PARLEY_PASSWORD, or run on "
                     "a terminal\n";
        return kExitAuth;
      }
      if (*a != *b) {
        std::cerr << "parley: the passwords differ\n";
        return kExitUsage;
      }
      o.password = *a;
    }
    return run_register(o);
  }

  // send and tail act as a user who logged in before, or the one named.
  o.user = g.user.empty() ? env_or("PARLEY_USER", last_user(*ep)) : g.user;
  if (!client::valid_name(o.user)) {
    std::cerr << "parley: which user? give --user (or set PARLEY_USER)\n";
    return kExitUsage;
  }

  if (*send) {
    std::string conv;
    if (!send_to.empty()) {
      auto key = parse_conversation(send_to);
      if (!key || key->front() == '#') {
        std::cerr << "parley: --to takes a user name\n";
        return kExitUsage;
      }
      conv = *key;
    } else if (!send_group.empty()) {
      auto key =
          parse_conversation("#" + (send_group[0] == '#' ? send_group.substr(1) : send_group));
      if (!key) {
        std::cerr << "parley: --group takes a group name\n";
        return kExitUsage;
      }
      conv = *key;
    } else {
      std::cerr << "parley: send needs --to USER or --group GROUP\n";
      return kExitUsage;
    }
    std::vector<std::string> bodies;
    if (send_text.size() == 1 && send_text[0] == "-") {
      bodies = read_stdin_bodies(send_lines);
      if (bodies.empty()) {
        std::cerr << "parley: nothing to send on stdin\n";
        return kExitUsage;
      }
    } else {
      std::string body;
      for (const auto& w : send_text) body += (body.empty() ? "" : " ") + w;
      bodies.push_back(body);
    }
    o.device = g.device.empty() ? "send" : g.device;
    if (int rc = credentials(g, o, true, "Parley"); rc >= 0) return rc;
    return run_send(o, conv, bodies, send_type, send_json);
  }

  if (*tail) {
    std::string only;
    if (!tail_only.empty()) {
      auto key = parse_conversation(tail_only);
      if (!key) {
        std::cerr << "parley: --conversation takes @user or #group\n";
        return kExitUsage;
      }
      only = *key;
    }
    o.device = g.device.empty() ? "tail" : g.device;
    if (int rc = credentials(g, o, true, "Parley"); rc >= 0) return rc;
    return run_tail(o, tail_count, !tail_no_ack, only);
  }
  return kExitUsage;
}
