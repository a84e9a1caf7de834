// One client connection to parleyd over raw TCP or WebSocket on a libuv loop, re-opened with
// exponential backoff whenever it drops. It moves whole JSON frames and knows nothing of chat:
// the Session above it logs in, matches replies and keeps cursors.
//
// Threading: everything runs on the loop's thread; no method may be called from another one.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "parley/client/endpoint.h"

namespace parley::client {

// Delays between reconnect attempts: `initial_ms`, doubled after each failure up to `max_ms`,
// each drawn uniformly from [delay/2, delay] so many clients restarted together spread out.
struct Backoff {
  uint32_t initial_ms = 250;
  uint32_t max_ms = 30000;
};

class Connection {
 public:
  // Callbacks, all on the loop thread. The Connection may be closed or sent to from inside them.
  class Handler {
   public:
    virtual ~Handler() = default;
    // The transport is ready (TCP connected; for WebSocket, the upgrade was accepted).
    virtual void on_open() = 0;
    // One whole JSON frame from the server. The view is valid only during the call.
    virtual void on_frame(std::string_view json) = 0;
    // The connection was lost (or could not be made); another attempt starts in `retry_ms`
    // unless close() is called.
    virtual void on_drop(std::string_view why, uint32_t retry_ms) = 0;
  };

  struct Options {
    Backoff backoff;
    uint32_t connect_timeout_ms = 10000;  // TCP connect plus the WebSocket upgrade
    size_t max_frame = 64 << 20;          // largest server frame accepted (history pages)
    bool reconnect = true;                // false: one attempt; a drop is final
  };

  Connection(uv_loop_t* loop, Endpoint endpoint, Handler& handler, Options options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the first attempt.
  void start();
  // Queues one JSON frame. Returns false (and sends nothing) when the transport is not open.
  bool send(std::string_view json);
  // Closes the current socket and schedules a reconnect, as if the server had dropped it.
  void drop(std::string_view why);
  // Closes for good: no callback follows, no reconnect. Safe to call more than once.
  void close();
  // The next failure waits `initial_ms` again (call once a login succeeded on this socket).
  void reset_backoff() { next_delay_ms_ = options_.backoff.initial_ms; }

  bool is_open() const { return state_ == State::kOpen; }
  const Endpoint& endpoint() const { return endpoint_; }
  // Bytes queued in the kernel-facing write queue of the current socket.
  size_t write_queue_size() const;

 private:
  enum class State : uint8_t {
    kIdle,
    kResolving,
    kConnecting,
    kUpgrading,
    kOpen,
    kWaiting,
    kClosed
  };
  struct Socket;
  struct ResolveReq;

  void attempt();
  void on_resolved(int status, addrinfo* res);
  void on_connected(int status);
  void on_read(std::string_view bytes);
  void process_ws();
  void process_tcp();
  void fail(std::string why);
  void release_socket();
  void write_raw(std::string bytes);
  uint32_t take_delay();

  static void resolved_cb(uv_getaddrinfo_t* req, int status, addrinfo* res);
  static void connect_cb(uv_connect_t* req, int status);
  static void alloc_cb(uv_handle_t* h, size_t hint, uv_buf_t* buf);
  static void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void write_cb(uv_write_t* req, int status);
  static void timer_cb(uv_timer_t* t);

  uv_loop_t* loop_;
  Endpoint endpoint_;
  Handler& handler_;
  Options options_;
  State state_ = State::kIdle;
  std::unique_ptr<Socket> socket_;   // the current attempt's socket and buffers
  ResolveReq* resolving_ = nullptr;  // the name lookup in flight, owned by libuv
  uv_timer_t* timer_ = nullptr;      // reconnect delay and connect timeout; closed in close()
  uint32_t next_delay_ms_;
  std::mt19937 rng_;  // backoff jitter and WebSocket masking keys
  std::string ws_key_;
  uint64_t generation_ = 0;  // bumped per attempt so stale libuv callbacks are ignored
};

}  // namespace parley::client
