#include "e2e/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace parley::test {
namespace {

// Port of "NAME=HOST:PORT" when NAME is one of `names`, else 0.
uint16_t endpoint_port(const std::string& token, std::initializer_list<std::string_view> names) {
  size_t eq = token.find('=');
  size_t colon = token.rfind(':');
  if (eq == std::string::npos || colon == std::string::npos || colon < eq) return 0;
  std::string_view name(token.data(), eq);
  bool known = false;
  for (std::string_view n : names) known = known || n == name;
  if (!known || colon + 1 >= token.size()) return 0;
  unsigned port = 0;
  for (size_t i = colon + 1; i < token.size(); ++i) {
    if (token[i] < '0' || token[i] > '9') return 0;
    port = port * 10 + static_cast<unsigned>(token[i] - '0');
    if (port > 65535) return 0;
  }
  return static_cast<uint16_t>(port);
}

// Parses "listening http=HOST:PORT tcp=HOST:PORT" (no regex: GCC 12's <regex> trips
// -Wmaybe-uninitialized under the sanitizers).
bool parse_listening(const std::string& line, uint16_t* a, uint16_t* b) {
  std::istringstream in(line);
  std::string word, first, second, extra;
  if (!(in >> word >> first >> second) || word != "listening" || (in >> extra)) return false;
  *a = endpoint_port(first, {"http", "ws"});
  *b = endpoint_port(second, {"tcp"});
  return *a != 0 && *b != 0;
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

pid_t spawn(const std::string& binary, const std::vector<std::string>& args, int* err_fd) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 2);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  *err_fd = pipefd[0];
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string binary_from_env(const char* var) {
  const char* v = std::getenv(var);
  return v != nullptr ? v : "";
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/parley-test-XXXXXX";
  path_ = mkdtemp(tmpl);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop(SIGKILL, 2000);
  if (err_fd_ >= 0) close(err_fd_);
}

void ServerProcess::pump_stderr(int timeout_ms) {
  if (err_fd_ < 0) return;
  pollfd p{err_fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  for (;;) {
    ssize_t n = read(err_fd_, buf, sizeof buf);
    if (n <= 0) break;
    err_.append(buf, static_cast<size_t>(n));
  }
}

bool ServerProcess::start(const std::string& binary, const std::vector<std::string>& args,
                          int timeout_ms) {
  // A restart: forget the previous process's output (its listening line names old ports).
  if (err_fd_ >= 0) {
    ::close(err_fd_);
    err_fd_ = -1;
  }
  err_.clear();
  listening_line_.clear();
  pid_ = spawn(binary, args, &err_fd_);
  if (pid_ < 0) return false;
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    pump_stderr(50);
    size_t start = 0;
    while (start < err_.size()) {
      size_t nl = err_.find('\n', start);
      if (nl == std::string::npos) break;
      std::string line = err_.substr(start, nl - start);
      if (parse_listening(line, &port_a_, &port_b_)) {
        listening_line_ = line;
        return true;
      }
      start = nl + 1;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      pump_stderr(0);
      return false;
    }
  }
  return false;
}

int ServerProcess::run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                               std::string* output, int timeout_ms) {
  ServerProcess p;
  p.pid_ = spawn(binary, args, &p.err_fd_);
  if (p.pid_ < 0) return -1;
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    p.pump_stderr(50);
    int status;
    if (waitpid(p.pid_, &status, WNOHANG) == p.pid_) {
      p.pid_ = -1;
      p.pump_stderr(0);
      if (output != nullptr) *output = p.err_;
      return decode_status(status);
    }
  }
  if (output != nullptr) *output = p.err_;
  return -1;
}

int ServerProcess::stop(int sig, int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      pump_stderr(0);
      return decode_status(status);
    }
    pump_stderr(20);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return -1;
}

int ServerProcess::listening_lines_seen() {
  pump_stderr(0);
  int n = 0;
  for (size_t pos = 0; (pos = err_.find("listening ", pos)) != std::string::npos; ++pos) {
    if (pos == 0 || err_[pos - 1] == '\n') ++n;
  }
  return n;
}

std::string ServerProcess::log() {
  pump_stderr(0);
  return err_;
}

}  // namespace parley::test
