// The client engine: worker threads, each with its own libuv loop and its own connections,
// speaking WebSocket (RFC 6455, client side: masked frames) or Parley's length-prefixed TCP.
//
// Cost per message is kept low on purpose, so that the harness is not the bottleneck:
// - one read buffer per connection, parsed in place (frames are handed to the driver as spans
//   into it, followed by at least kReadPadding readable bytes, enough for simdjson);
// - every frame queued on a connection during one loop iteration goes out in one write, from
//   the worker's prepare handle (uv_try_write first; uv_write only for what the socket refuses);
// - buffers keep their capacity, so the steady state allocates nothing per message.
//
// Threading: a Worker and its connections are touched only by the worker's thread, except
// request_stop() (any thread). The Driver is called on the worker's thread only.
#pragma once

#include <netinet/in.h>
#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "parley/net/ws_frame.h"

namespace parley::bench {

// xorshift32: a cheap non-cryptographic sequence (WebSocket masks against our own server, the
// mix of actions). `state` must not be 0.
inline uint32_t xorshift32(uint32_t& state) {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

enum class Transport : uint8_t { kWs, kTcp };

// Where connections go.
struct Endpoint {
  sockaddr_in addr{};  // the server (TCP port, or the HTTP port for WebSocket)
  Transport transport = Transport::kWs;
  std::string host_header;  // "127.0.0.1:8080", for the WebSocket request
  std::string path = "/ws";
};

// Readable bytes guaranteed after every frame handed to Driver::on_frame (simdjson's padding).
inline constexpr size_t kReadPadding = 64;

uint64_t now_ns();  // CLOCK_MONOTONIC, in nanoseconds

class Worker;

class Conn {
 public:
  Conn(Worker& worker, uint32_t index);
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  uint32_t index() const { return index_; }  // the driver's number for it, fixed at connect
  bool is_open() const { return state_ == State::kOpen; }
  bool is_closed() const { return state_ == State::kClosed; }
  Worker& worker() { return worker_; }

  // Queues one frame whose payload the caller appends to `out()` between the two calls. The
  // frame goes out with everything else queued in this loop iteration.
  size_t begin_frame();
  std::string& out() { return out_; }
  void end_frame(size_t mark);
  void send_frame(std::string_view payload);  // begin_frame + append + end_frame

  // Closes the socket (no closing handshake); on_closed is called.
  void close(std::string_view why);
  bool can_reconnect() const { return state_ == State::kClosed; }

  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

 private:
  friend class Worker;
  enum class State : uint8_t { kIdle, kConnecting, kHandshake, kOpen, kClosing, kClosed };

  void connect(const Endpoint& ep, const sockaddr_in* source);
  void reset();  // a closed connection back to kIdle, keeping its buffers' capacity
  void on_connected(int status);
  void on_read(ssize_t n);
  void process_input();
  bool process_ws(size_t& pos);
  void flush();
  void on_write_done(int status);
  void mark_dirty();
  uint32_t next_mask();

  Worker& worker_;
  uint32_t index_;
  State state_ = State::kIdle;
  Transport transport_ = Transport::kWs;
  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  std::unique_ptr<uint8_t[]> rbuf_;  // capacity rcap_ + kReadPadding
  size_t rcap_ = 0;
  size_t rlen_ = 0;
  std::string out_;       // frames queued in this iteration
  std::string inflight_;  // what a pending uv_write is sending
  bool writing_ = false;
  bool dirty_ = false;
  bool in_read_ = false;
  std::string ws_key_;
  std::string close_reason_;
  net::WsDecoder ws_decoder_{net::WsLimits{.max_message = 64u << 20, .require_mask = false}};
  uint32_t mask_state_;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
};

// What a scenario does with one worker's connections; every call is on the worker's thread.
class Driver {
 public:
  virtual ~Driver() = default;
  virtual void on_start(Worker& w) = 0;              // the loop is running: connect here
  virtual void on_open(Conn& c) = 0;                 // connected (WebSocket: handshake done)
  // One whole frame's payload (WebSocket text/binary message or TCP frame), in place in the
  // connection's read buffer and followed by kReadPadding readable bytes. Valid during the call.
  virtual void on_frame(Conn& c, std::span<const uint8_t> payload) = 0;
  virtual void on_closed(Conn& c, std::string_view why) = 0;
  virtual void on_tick(uint64_t now) = 0;            // every tick (1 ms)
  // The run is over: close whatever the driver opened itself on this loop (other handles).
  virtual void on_stop() {}
};

class Worker {
 public:
  Worker(int id, std::unique_ptr<Driver> driver);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();          // starts the thread
  void request_stop();   // any thread: close everything and end the loop
  void join();

  int id() const { return id_; }
  Driver& driver() { return *driver_; }
  uv_loop_t* loop() { return &loop_; }

  // Worker thread only. Opens a new connection; `source` binds a local address (may be null).
  Conn& connect(uint32_t index, const Endpoint& ep, const sockaddr_in* source = nullptr);
  // Opens `c` again (same index, same object, so churn allocates nothing); c.can_reconnect()
  // must hold, i.e. on_closed has returned. Not from inside on_closed: from on_tick.
  void reconnect(Conn& c, const Endpoint& ep, const sockaddr_in* source = nullptr);
  std::vector<std::unique_ptr<Conn>>& conns() { return conns_; }

 private:
  friend class Conn;
  void run();
  void flush_dirty();
  void shutdown();

  int id_;
  std::unique_ptr<Driver> driver_;
  uv_loop_t loop_{};
  uv_prepare_t flush_{};
  uv_timer_t tick_{};
  std::atomic<bool> stop_{false};
  bool stopping_ = false;
  std::thread thread_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> dirty_;
  std::vector<Conn*> flushing_;
  std::vector<uint8_t> scratch_;  // a reassembled WebSocket message, padded
};

}  // namespace parley::bench
