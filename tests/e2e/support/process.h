// Starts a real server binary (parleyd or parley-echo) as a child process on ephemeral loopback
// ports, reads its stderr until the "listening ..." line, and stops it (SIGTERM or SIGKILL).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace parley::test {

class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Runs `binary args...`, waiting up to timeout_ms for the listening line. Returns false (with
  // the captured stderr in log()) if the process exits or the line does not come.
  bool start(const std::string& binary, const std::vector<std::string>& args,
             int timeout_ms = 10000);
  // Like start() but for a process expected to fail: waits for it to exit, returns its status.
  static int run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                         std::string* output, int timeout_ms = 10000);

  // Sends `sig` and waits up to timeout_ms for exit. Returns the exit status (128+signal if
  // killed by one), or -1 on timeout (the process is then killed).
  int stop(int sig, int timeout_ms = 6000);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  uint16_t http_port() const { return port_a_; }  // parleyd http= / parley-echo ws=
  uint16_t tcp_port() const { return port_b_; }
  const std::string& listening_line() const { return listening_line_; }
  int listening_lines_seen();  // how many "listening" lines stderr has shown so far
  std::string log();           // stderr captured so far

 private:
  void pump_stderr(int timeout_ms);

  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::string err_;
  std::string listening_line_;
  uint16_t port_a_ = 0, port_b_ = 0;
};

// Path of a binary given by an environment variable set by meson (PARLEYD, PARLEY_ECHO).
std::string binary_from_env(const char* var);
// A fresh empty temporary directory (removed by the returned object's destructor).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace parley::test
