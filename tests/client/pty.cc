#include "client/pty.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace parley::test {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

PtyProcess::~PtyProcess() {
  kill_now();
  if (fd_ >= 0) ::close(fd_);
}

bool PtyProcess::spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       int cols, int rows) {
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = env;
  pid_ = ::forkpty(&fd_, nullptr, nullptr, &ws);
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    for (auto& e : envs) ::putenv(e.data());
    auto cargs = c_strings(args);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  return true;
}

void PtyProcess::type(std::string_view keys) {
  while (!keys.empty()) {
    ssize_t n = ::write(fd_, keys.data(), keys.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      pump(10);
      continue;
    }
    if (n <= 0) return;
    keys.remove_prefix(static_cast<size_t>(n));
  }
}

bool PtyProcess::pump(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  if (r <= 0) return r == 0;
  char buf[8192];
  ssize_t n = ::read(fd_, buf, sizeof(buf));
  if (n > 0) {
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  return false;  // EIO: the child closed the terminal
}

bool PtyProcess::wait_for(std::string_view needle, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    size_t at = out_.find(needle, from_);
    if (at != std::string::npos) {
      from_ = at + needle.size();
      return true;
    }
    int left = ms_left(deadline);
    if (left == 0) return false;
    if (!pump(std::min(left, 100))) {
      // The terminal closed: one last look at what arrived.
      at = out_.find(needle, from_);
      if (at != std::string::npos) from_ = at + needle.size();
      return at != std::string::npos;
    }
  }
}

void PtyProcess::drain(int ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  while (ms_left(deadline) > 0) {
    if (!pump(ms_left(deadline))) break;
  }
}

size_t PtyProcess::count(std::string_view needle) const {
  size_t n = 0;
  for (size_t at = out_.find(needle); at != std::string::npos;
       at = out_.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

namespace {

// Drops CSI escape sequences and the control characters a line editor uses to redraw.
std::string strip_escapes(std::string_view raw) {
  std::string t;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\033') {
      if (i + 1 < raw.size() && raw[i + 1] == '[') {
        i += 2;
        while (i < raw.size() && !(raw[i] >= '@' && raw[i] <= '~')) ++i;
      } else {
        ++i;
      }
      continue;
    }
    if (c == '\r' || c == '\b' || c == '\a') continue;
    t.push_back(c);
  }
  return t;
}

}  // namespace

std::string PtyProcess::text() const { return strip_escapes(out_); }

std::string PtyProcess::tail() const {
  return strip_escapes(std::string_view(out_).substr(std::min(from_, out_.size())));
}

int PtyProcess::wait_exit(int timeout_ms) {
  if (pid_ <= 0) return status_;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      status_ = decode_status(st);
      drain(50);
      return status_;
    }
    if (ms_left(deadline) == 0) return -1;
    pump(20);  // keep reading so the child never blocks on a full terminal
  }
}

void PtyProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

int run_shell(const std::string& command, const std::vector<std::string>& env, std::string* out,
              int timeout_ms) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  std::vector<std::string> envs = env;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();  // no controlling terminal: the client must not find a /dev/tty to prompt on
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(pipefd[1], 1);
    for (auto& e : envs) ::putenv(e.data());
    std::string script = "set -o pipefail; " + command;
    ::execl("/bin/bash", "bash", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string collected;
  bool timed_out = false;
  while (true) {
    pollfd p{pipefd[0], POLLIN, 0};
    int left = ms_left(deadline);
    if (left == 0) {
      timed_out = true;
      break;
    }
    int r = ::poll(&p, 1, left);
    if (r <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(pipefd[0], buf, sizeof(buf));
    if (n <= 0) break;
    collected.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  if (timed_out) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (out != nullptr) *out = collected;
  return timed_out ? -1 : decode_status(st);
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool FixedServer::start(const std::string& data_dir) {
  std::string conf = data_dir + ".toml";
  // Cheap password hashing keeps the suite fast.
  std::ofstream(conf) << "[auth]\nscrypt_n = 1024\njwt_secret = \"client-e2e\"\n";
  for (int attempt = 0; attempt < 5; ++attempt) {
    tcp_port_ = free_port();
    http_port_ = free_port();
    if (tcp_port_ == http_port_) continue;
    args_ = {"--config",    conf,
             "--data-dir",  data_dir,
             "--http-port", std::to_string(http_port_),
             "--tcp-port",  std::to_string(tcp_port_),
             "--shards",    "2",
             "--sync",      "always"};
    if (server_.start(binary_from_env("PARLEYD"), args_)) return true;
  }
  return false;
}

int FixedServer::stop(int sig) { return server_.stop(sig); }

bool FixedServer::restart() {
  if (server_.running()) server_.stop(SIGTERM);
  // The ports were ours a moment ago; retry briefly if the kernel has not released them yet.
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (server_.start(binary_from_env("PARLEYD"), args_)) return true;
    ::usleep(250 * 1000);
  }
  return false;
}

}  // namespace parley::test
