// A scripted stand-in for parleyd in Session unit tests: a libuv TCP listener on 127.0.0.1:0,
// on the test's own loop, speaking the server's 4-byte length-prefixed JSON frames. Each
// received frame goes to the test's script, which answers with send() or cuts the connection
// with drop(). No chat logic of its own.
//
// Threading: the loop's thread only. close() it and run the loop until its handles are closed
// before destroying it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

class FakeServer {
 public:
  // Called for each whole frame from connection `conn` (0 for the first accepted, 1 for the
  // next, ...). `json` is valid only during the call.
  using Script = std::function<void(int conn, std::string_view json)>;

  explicit FakeServer(uv_loop_t* loop) : loop_(loop) {}
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  // Listens on 127.0.0.1 on a free port. False on failure.
  bool listen();
  uint16_t port() const { return port_; }
  void set_script(Script script) { script_ = std::move(script); }

  // Sends one frame to connection `conn` if it is still open.
  void send(int conn, std::string_view json);
  // Closes connection `conn` without a goodbye (the client sees the server go away).
  void drop(int conn);
  // Stops listening and closes every connection.
  void close();

  int accepted() const { return static_cast<int>(conns_.size()); }
  bool is_open(int conn) const;

 private:
  struct Conn;
  static void connection_cb(uv_stream_t* server, int status);
  void on_bytes(Conn& c, std::string_view bytes);

  uv_loop_t* loop_;
  uv_tcp_t listener_{};
  bool listening_ = false;
  uint16_t port_ = 0;
  Script script_;
  std::vector<Conn*> conns_;  // by connection number; null once closed
};

// Runs `loop` until `done()` holds or `timeout_ms` passed; returns done(). Never sleeps: it
// waits in uv_run for the next event, with a timer as the deadline.
bool run_until(uv_loop_t* loop, const std::function<bool()>& done, int timeout_ms);

}  // namespace parley::test
