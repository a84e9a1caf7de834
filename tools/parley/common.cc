#include "common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include "parley/client/cursors.h"
#include "parley/client/private_file.h"

namespace parley::cli {

ExitCode exit_code_for(std::string_view code) {
  if (code == "unauthorized") return kExitAuth;
  if (code == "not_found") return kExitNotFound;
  if (code == "forbidden") return kExitForbidden;
  if (code == "conflict") return kExitConflict;
  if (code == "too_large") return kExitTooLarge;
  if (code == "disconnected" || code == "unavailable" || code == "rate_limited" ||
      code == "timeout") {
    return kExitUnavailable;
  }
  return kExitError;
}

std::string state_root() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/parley";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return std::string(home) + "/.local/state/parley";
  return "";
}

namespace {

bool make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  return true;
}

// A file name for the endpoint: '/' cannot appear in one.
std::string server_dir_name(const client::Endpoint& ep) {
  std::string name = ep.display();
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

}  // namespace

std::string user_state_dir(const client::Endpoint& ep, std::string_view user, bool create) {
  std::string root = state_root();
  if (root.empty() || !client::valid_name(user)) return "";
  std::string dir = root + "/" + server_dir_name(ep) + "/" + std::string(user);
  if (create && !make_dirs(dir)) return "";
  return dir;
}

std::string last_user(const client::Endpoint& ep) {
  std::string root = state_root();
  if (root.empty()) return "";
  auto line = read_first_line(root + "/" + server_dir_name(ep) + "/last_user");
  return line && client::valid_name(*line) ? *line : "";
}

void remember_user(const client::Endpoint& ep, std::string_view user) {
  std::string root = state_root();
  if (root.empty()) return;
  std::string dir = root + "/" + server_dir_name(ep);
  if (make_dirs(dir)) client::write_private_file(dir + "/last_user", std::string(user) + "\n");
}

std::string saved_token(const client::Endpoint& ep, std::string_view user) {
  std::string dir = user_state_dir(ep, user, false);
  if (dir.empty()) return "";
  return read_first_line(dir + "/token").value_or("");
}

void save_token(const client::Endpoint& ep, std::string_view user, std::string_view token) {
  std::string dir = user_state_dir(ep, user, true);
  if (!dir.empty() && !token.empty())
    client::write_private_file(dir + "/token", std::string(token) + "\n");
}

std::optional<std::string> read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

namespace {

int g_tty_fd = -1;
termios g_saved_termios;

void restore_tty_and_exit(int sig) {
  if (g_tty_fd >= 0) ::tcsetattr(g_tty_fd, TCSADRAIN, &g_saved_termios);
  const char nl = '\n';
  (void)!::write(g_tty_fd >= 0 ? g_tty_fd : 2, &nl, 1);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

std::optional<std::string> prompt_password(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  termios t;
  if (::tcgetattr(fd, &t) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  g_tty_fd = fd;
  g_saved_termios = t;
  struct sigaction sa {
  }, old_int{}, old_term{};
  sa.sa_handler = restore_tty_and_exit;
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  termios quiet = t;
  quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
  quiet.c_lflag |= ECHONL;
  // Echo goes off before the prompt appears, so nothing typed after it is ever shown.
  ::tcsetattr(fd, TCSADRAIN, &quiet);
  (void)!::write(fd, prompt.data(), prompt.size());
  std::string line;
  bool got = false;
  char c;
  while (true) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (c == '\n' || c == '\r') {
      got = true;
      break;
    }
    line.push_back(c);
  }
  ::tcsetattr(fd, TCSADRAIN, &t);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  g_tty_fd = -1;
  ::close(fd);
  if (!got && line.empty()) return std::nullopt;
  return line;
}

int64_t wall_ms() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string format_time(int64_t ts_ms, int64_t now_ms) {
  time_t t = static_cast<time_t>(ts_ms / 1000);
  time_t n = static_cast<time_t>(now_ms / 1000);
  tm lt{}, ln{};
  ::localtime_r(&t, &lt);
  ::localtime_r(&n, &ln);
  char buf[32];
  if (lt.tm_year == ln.tm_year && lt.tm_yday == ln.tm_yday) {
    std::strftime(buf, sizeof(buf), "%H:%M:%S", &lt);
  } else {
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &lt);
  }
  return buf;
}

std::string snippet(std::string_view body) {
  constexpr size_t kMax = 40;
  std::string_view first = body.substr(0, body.find('\n'));
  size_t cut = std::min(first.size(), kMax);
  // Back up to the start of the character that the cut would split.
  if (cut < first.size()) {
    while (cut > 0 && (static_cast<unsigned char>(first[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out(first.substr(0, cut));
  if (out.size() < body.size()) out += "…";
  return out;
}

int with_loop(const std::function<int(uv_loop_t*)>& body) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = body(&loop);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}

std::vector<uv_signal_t*> watch_signals(uv_loop_t* loop, std::initializer_list<int> signals,
                                        void* data, uv_signal_cb cb) {
  std::vector<uv_signal_t*> out;
  for (int sig : signals) {
    auto* h = new uv_signal_t;
    uv_signal_init(loop, h);
    h->data = data;
    uv_signal_start(h, cb, sig);
    out.push_back(h);
  }
  return out;
}

void close_signals(std::vector<uv_signal_t*>& signals) {
  for (auto* s : signals) {
    uv_close(reinterpret_cast<uv_handle_t*>(s),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
  }
  signals.clear();
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::optional<std::string> parse_conversation(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '#') {
    if (!client::valid_name(text.substr(1))) return std::nullopt;
    return std::string(text);
  }
  if (text.front() == '@') text.remove_prefix(1);
  if (!client::valid_name(text)) return std::nullopt;
  return std::string(text);
}

std::string conversation_label(std::string_view key) {
  if (!key.empty() && key.front() == '#') return std::string(key);
  return "@" + std::string(key);
}

Input parse_input(std::string_view line) {
  Input in;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (trim(line).empty()) return in;
  // Prefixes count only in the first column: " @bob" or " :q" is sent as typed.
  if (line.substr(0, 2) == "::") {
    in.kind = Input::Kind::kText;
    in.text = std::string(line.substr(1));
    return in;
  }
  if (line.front() == ':') {
    std::string_view body = trim(line.substr(1));
    size_t sp = body.find_first_of(" \t");
    in.kind = Input::Kind::kCommand;
    in.command = std::string(body.substr(0, sp));
    if (sp != std::string_view::npos) {
      in.rest = std::string(trim(body.substr(sp)));
      in.args = split_words(in.rest);
    }
    if (in.command.empty() || line.size() < 2 || line[1] == ' ') {
      in = Input{};
      in.kind = Input::Kind::kInvalid;
      in.error = "a command name must follow ':' (try :help)";
    }
    return in;
  }
  if (line.front() == '@' || line.front() == '#') {
    size_t sp = line.find_first_of(" \t");
    std::string_view name = line.substr(0, sp);
    auto key = parse_conversation(name);
    if (!key) {
      in.kind = Input::Kind::kInvalid;
      in.error = "'" + std::string(name) +
                 "' is not a valid name (1-32 of A-Z a-z 0-9 _ . -); start the line with a "
                 "space to send it as it is";
      return in;
    }
    in.target = *key;
    std::string_view text = sp == std::string_view::npos ? "" : trim(line.substr(sp));
    if (text.empty()) {
      in.kind = Input::Kind::kSwitch;
    } else {
      in.kind = Input::Kind::kText;
      in.text = std::string(text);
    }
    return in;
  }
  in.kind = Input::Kind::kText;
  in.text = std::string(line);
  return in;
}

}  // namespace parley::cli
