// Test support for the console client: a child process on a pseudo-terminal that a test
// types into and whose screen output it waits on (every wait has a deadline), a shell pipeline
// runner, and a parleyd on fixed loopback ports that can be restarted on the same ports.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "e2e/support/process.h"

namespace parley::test {

class PtyProcess {
 public:
  PtyProcess() = default;
  ~PtyProcess();
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  // Starts `argv` on a new pty of cols x rows with `env` added to the environment.
  bool spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
             int cols = 160, int rows = 40);
  void type(std::string_view keys);
  // Waits until `needle` appears in the output after the previous match; moves past it.
  // False on timeout or if the process ended without printing it.
  bool wait_for(std::string_view needle, int timeout_ms = 10000);
  // Reads whatever arrives within `ms` (used only to collect output before counting).
  void drain(int ms);
  // How many times `needle` appears in all output so far.
  size_t count(std::string_view needle) const;
  // All output, with escape sequences and carriage returns removed.
  std::string text() const;
  // The output after the last match (for failure messages).
  std::string tail() const;
  // Waits for the exit; returns the exit status, 128+signal, or -1 on timeout.
  int wait_exit(int timeout_ms = 10000);
  void kill_now();
  pid_t pid() const { return pid_; }

 private:
  bool pump(int timeout_ms);

  pid_t pid_ = -1;
  int fd_ = -1;
  int status_ = -1;
  std::string out_;  // raw output
  size_t from_ = 0;  // where the next wait_for starts searching
};

// Runs `command` with /bin/bash -c (pipefail set), `env` added, stdin from /dev/null unless
// the command redirects it; returns the exit status (-1 on timeout, after a SIGKILL).
int run_shell(const std::string& command, const std::vector<std::string>& env, std::string* out,
              int timeout_ms = 20000);

// A free loopback TCP port (bound and released; good enough for a test on one box).
uint16_t free_port();

// parleyd on fixed ports, so clients reconnect to the same address after a restart.
class FixedServer {
 public:
  bool start(const std::string& data_dir);
  int stop(int sig);
  bool restart();
  uint16_t tcp_port() const { return tcp_port_; }
  uint16_t http_port() const { return http_port_; }
  std::string tcp_address() const { return "127.0.0.1:" + std::to_string(tcp_port_); }
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(http_port_) + "/ws"; }
  std::string log() { return server_.log(); }
  bool running() const { return server_.running(); }

 private:
  ServerProcess server_;
  std::vector<std::string> args_;
  uint16_t tcp_port_ = 0, http_port_ = 0;
};

}  // namespace parley::test
