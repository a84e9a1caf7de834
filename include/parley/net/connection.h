// One client socket, owned by one shard: reading, framing (HTTP, WebSocket, raw TCP), the
// output buffer and its limit, deadlines, closing. See net_shard.h for the per-shard side.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "parley/net/handler.h"
#include "parley/net/out_buffer.h"
#include "parley/net/timer_wheel.h"
#include "parley/util/token_bucket.h"

namespace parley::http {
class RequestParser;
}

namespace parley::net {

class NetShard;
class WsDecoder;

enum class Transport : uint8_t { kHttp, kWebSocket, kTcp };
std::string_view to_string(Transport);

// What happened to a frame handed to Connection::send().
//  kOk           queued, output still under max_outbuf.
//  kBackpressure queued, but output is now over max_outbuf: reading from this client pauses until
//                it drains below half; a delivery pump must stop here and resume on writable.
//  kClosed       not queued: the connection is closing or closed (for an ephemeral frame: it
//                would have passed the limit, so the connection was closed with 1008).
enum class SendStatus : uint8_t { kOk, kBackpressure, kClosed };

// Replies that answer a request are always queued (reading pauses instead); ephemeral pushes
// (receipts, presence, typing) must never take a connection past its limit.
enum class SendKind : uint8_t { kReply, kEphemeral };

// What Connection::admit() decided about one request.
enum class Admit : uint8_t { kOk, kRefused, kClosed };

// A weak, thread-tagged reference to a connection: valid on any thread, resolved only on the
// owning shard (NetShard::find), and stale once the connection is gone or has moved shards.
struct ConnId {
  uint32_t shard = 0;
  uint32_t slot = 0;
  uint32_t gen = 0;
  bool operator==(const ConnId&) const = default;
};

class Connection {
 public:
  Connection(NetShard& net, ConnId id, Transport t, uint64_t now_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  ConnId id() const { return id_; }
  Transport transport() const { return transport_; }
  NetShard& net() { return *net_; }
  bool open() const { return state_ == State::kOpen; }
  const std::string& peer() const { return peer_; }
  // The peer's slot in NetOptions::addresses (-1: none).
  int64_t address_slot() const { return address_slot_; }

  // Sends one message: a WebSocket text (or binary) frame, or a length-prefixed TCP frame.
  // Queued now, written at the end of this loop iteration together with everything else queued
  // for this socket (one write for many frames).
  SendStatus send(std::string_view payload, SendKind kind = SendKind::kReply, bool binary = false);
  // Room left before max_outbuf (0 when over). A pump sends while this is positive.
  size_t out_room() const;
  size_t out_size() const { return out_.size(); }

  // Answers the pending HTTP request (see Handler::on_http). Closes after it if the request
  // asked to, or if `close` is set.
  void respond(std::string response, bool close = false);
  // Streamed HTTP bodies (Handler::on_http_headers): while held, the connection neither reads
  // nor parses, so a body arrives no faster than it can be stored. Releasing it goes on with
  // bytes already received.
  void hold_body(bool hold);

  // Charges one request to this connection's rate limit (NetOptions::rate_limit, a token
  // bucket). kRefused: answer rate_limited and drop the request. kClosed: the client has been
  // over the limit for NetOptions::rate_abuse_ms straight and is being closed (WebSocket 1008): drop it too.
  Admit admit();

  // Marks the client as logged in: the login deadline no longer applies.
  void set_authenticated();
  bool authenticated() const { return authenticated_; }

  // Closes the connection: WebSocket sends a close frame with `ws_code` first (0: no frame),
  // TCP and HTTP just close. Pending output is flushed first, briefly; the handler's on_close
  // runs once. Safe to call more than once.
  void close(uint16_t ws_code = 1000, std::string_view reason = {});
  // Closes now, dropping any pending output.
  void abort();

  // Hands this connection to shard `to` (see NetShard::handoff).
  void handoff(int to, std::function<void(Connection&)> on_arrival);

  ConnContext* context() const { return ctx_.get(); }
  void set_context(std::unique_ptr<ConnContext> ctx) { ctx_ = std::move(ctx); }

 private:
  friend class NetShard;
  enum class State : uint8_t { kOpen, kClosing, kHandingOff, kClosed };

  void on_read(ssize_t nread, const uv_buf_t* buf);
  void process_input(std::span<uint8_t> data, bool data_is_in_buf);
  size_t process(std::span<uint8_t> data);
  size_t process_tcp(std::span<uint8_t> data);
  size_t process_ws(std::span<uint8_t> data);
  size_t process_http(std::span<uint8_t> data);
  bool upgrade_to_websocket(http::Request& req);
  void announce_headers();
  void deliver(std::string_view payload, bool binary);
  void queue_raw(std::string_view bytes);
  void send_ws_control(uint8_t opcode, std::string_view payload);
  void mark_dirty();
  void flush();
  void on_write_done(int status, size_t bytes);
  void update_reading();
  void begin_close();
  void finish_close();
  uint64_t deadline() const;
  void expire();

  NetShard* net_;
  ConnId id_;
  Transport transport_;
  State state_ = State::kOpen;
  bool authenticated_ = false;
  bool reading_ = false;
  bool read_paused_output_ = false;  // output over the limit: not reading
  bool read_paused_shard_ = false;   // the shard's cross-shard queues are congested: not reading
  bool write_in_flight_ = false;
  bool dirty_ = false;               // queued on the shard's flush list
  bool http_busy_ = false;           // an HTTP request waits for respond()
  bool body_held_ = false;           // hold_body(): a streamed body waits for its consumer
  bool headers_seen_ = false;        // on_http_headers ran for the request being read
  bool body_streamed_ = false;       // ... and took its body (on_http_body)
  bool close_after_flush_ = false;
  bool in_process_ = false;
  bool handler_closed_ = false;      // on_close already called
  uint64_t opened_ms_;
  uint64_t last_rx_ms_;
  uint64_t request_start_ms_ = 0;    // HTTP: first byte of the request being read (0: none)
  uint64_t closing_since_ms_ = 0;
  size_t inflight_ = 0;              // bytes of out_ handed to an in-flight uv_write
  std::string in_;                   // received bytes not yet framed
  OutBuffer out_;
  std::unique_ptr<WsDecoder> ws_;
  std::unique_ptr<http::RequestParser> http_;
  std::unique_ptr<ConnContext> ctx_;
  TokenBucket rate_;
  int64_t address_slot_ = -1;        // counted in NetOptions::addresses until release
  uint64_t over_since_ms_ = 0;       // first refusal of the current run of them (0: none)
  uint64_t last_refused_ms_ = 0;
  std::function<void(Connection&)> on_arrival_;  // pending hand-off
  int handoff_to_ = -1;
  std::string peer_;
  WheelHook wheel_;
  uv_tcp_t tcp_;
};

}  // namespace parley::net
