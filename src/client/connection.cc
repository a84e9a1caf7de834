#include "parley/client/connection.h"

#include <cstring>

#include "parley/net/tcp_frame.h"
#include "parley/net/ws_client.h"
#include "parley/net/ws_frame.h"

namespace parley::client {

namespace {

constexpr size_t kReadChunk = 64 * 1024;

struct WriteReq {
  uv_write_t req;
  std::string data;
};

}  // namespace

// One attempt's socket. Owned by the Connection while `live`; once released it is owned by
// libuv until its close callback deletes it, so late callbacks find `live == false`.
struct Connection::Socket {
  explicit Socket(size_t max_frame)
      : ws(net::WsLimits{.max_message = max_frame, .require_mask = false, .allow_binary = true}) {}

  uv_tcp_t tcp;
  uv_connect_t connect_req;
  Connection* owner = nullptr;
  bool live = true;
  std::string in;  // bytes read and not yet consumed (handshake or frames)
  net::WsDecoder ws;
  bool upgraded = false;
  char scratch[kReadChunk];
};

// A name lookup in flight. libuv owns it until its callback, which deletes it; `owner` is
// cleared when the Connection gives up on it (a timeout, close(), destruction), so a late
// callback touches nothing of a Connection that may be gone.
struct Connection::ResolveReq {
  uv_getaddrinfo_t req;
  Connection* owner;
};

Connection::Connection(uv_loop_t* loop, Endpoint endpoint, Handler& handler, Options options)
    : loop_(loop),
      endpoint_(std::move(endpoint)),
      handler_(handler),
      options_(options),
      next_delay_ms_(options.backoff.initial_ms),
      rng_(std::random_device{}()) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

Connection::~Connection() { close(); }

void Connection::start() {
  if (state_ != State::kIdle) return;
  attempt();
}

void Connection::attempt() {
  ++generation_;
  state_ = State::kResolving;
  uv_timer_start(timer_, timer_cb, options_.connect_timeout_ms, 0);
  auto* r = new ResolveReq{{}, this};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(endpoint_.port);
  int rc =
      uv_getaddrinfo(loop_, &r->req, resolved_cb, endpoint_.host.c_str(), port.c_str(), &hints);
  if (rc == 0) {
    resolving_ = r;
  } else {
    delete r;
    fail(std::string("cannot resolve ") + endpoint_.host + ": " + uv_strerror(rc));
  }
}

void Connection::resolved_cb(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* r = reinterpret_cast<ResolveReq*>(req);
  Connection* self = r->owner;
  delete r;
  if (self != nullptr) {
    self->resolving_ = nullptr;
    self->on_resolved(status, res);
  }
  uv_freeaddrinfo(res);
}

void Connection::on_resolved(int status, addrinfo* res) {
  if (status != 0 || res == nullptr) {
    fail("cannot resolve " + endpoint_.host + ": " + uv_strerror(status));
    return;
  }
  socket_ = std::make_unique<Socket>(options_.max_frame);
  socket_->owner = this;
  uv_tcp_init(loop_, &socket_->tcp);
  socket_->tcp.data = socket_.get();
  uv_tcp_nodelay(&socket_->tcp, 1);
  state_ = State::kConnecting;
  int rc = uv_tcp_connect(&socket_->connect_req, &socket_->tcp, res->ai_addr, connect_cb);
  if (rc != 0) fail(std::string("cannot connect: ") + uv_strerror(rc));
}

void Connection::connect_cb(uv_connect_t* req, int status) {
  auto* s = static_cast<Socket*>(req->handle->data);
  if (!s->live) return;
  s->owner->on_connected(status);
}

void Connection::on_connected(int status) {
  if (status != 0) {
    fail("cannot connect to " + endpoint_.display() + ": " + uv_strerror(status));
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&socket_->tcp), alloc_cb, read_cb);
  if (endpoint_.transport == Endpoint::Transport::kWebSocket) {
    state_ = State::kUpgrading;
    ws_key_ = net::ws_client_key();
    std::string host = endpoint_.host.find(':') != std::string::npos
                           ? "[" + endpoint_.host + "]:" + std::to_string(endpoint_.port)
                           : endpoint_.host + ":" + std::to_string(endpoint_.port);
    write_raw(net::ws_client_request(host, endpoint_.path, ws_key_));
    return;
  }
  uv_timer_stop(timer_);
  state_ = State::kOpen;
  handler_.on_open();
}

void Connection::alloc_cb(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* s = static_cast<Socket*>(h->data);
  *buf = uv_buf_init(s->scratch, sizeof(s->scratch));
}

void Connection::read_cb(uv_stream_t* stream, ssize_t n, const uv_buf_t*) {
  auto* s = static_cast<Socket*>(stream->data);
  if (!s->live || n == 0) return;
  Connection* self = s->owner;
  if (n < 0) {
    self->fail(n == UV_EOF ? "the server closed the connection"
                           : std::string("read error: ") + uv_strerror(static_cast<int>(n)));
    return;
  }
  self->on_read(std::string_view(s->scratch, static_cast<size_t>(n)));
}

void Connection::on_read(std::string_view bytes) {
  socket_->in.append(bytes);
  if (endpoint_.transport == Endpoint::Transport::kTcp) {
    process_tcp();
  } else {
    process_ws();
  }
}

void Connection::process_tcp() {
  // The handler may close or drop us from inside on_frame: re-check the socket each time.
  size_t off = 0;
  uint64_t gen = generation_;
  while (socket_ && gen == generation_) {
    auto bytes = std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(socket_->in.data()) + off, socket_->in.size() - off);
    auto r = net::parse_tcp_frame(bytes, options_.max_frame);
    if (r.status == net::TcpFrameStatus::kNeedMore) break;
    if (r.status == net::TcpFrameStatus::kError) {
      fail("bad frame from the server: " + std::string(r.error));
      return;
    }
    off += r.consumed;
    std::string frame(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
    handler_.on_frame(frame);
  }
  if (socket_ && gen == generation_) socket_->in.erase(0, off);
}

void Connection::process_ws() {
  uint64_t gen = generation_;
  if (state_ == State::kUpgrading) {
    auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(socket_->in.data()),
                                          socket_->in.size());
    auto r = net::parse_ws_client_response(bytes, ws_key_);
    if (r.status == net::WsClientResponse::Status::kNeedMore) return;
    if (r.status == net::WsClientResponse::Status::kError) {
      fail("WebSocket upgrade refused: " + r.error);
      return;
    }
    socket_->in.erase(0, r.consumed);
    uv_timer_stop(timer_);
    state_ = State::kOpen;
    handler_.on_open();
    if (!socket_ || gen != generation_) return;
  }
  while (socket_ && gen == generation_) {
    auto span =
        std::span<uint8_t>(reinterpret_cast<uint8_t*>(socket_->in.data()), socket_->in.size());
    auto r = socket_->ws.decode(span);
    // Copy what the event needs before dropping the consumed bytes it may point into.
    std::string payload(reinterpret_cast<const char*>(r.event.payload.data()),
                        r.event.payload.size());
    socket_->in.erase(0, r.consumed);
    switch (r.event.kind) {
      case net::WsEventKind::kNeedMore:
        return;
      case net::WsEventKind::kMessage:
        handler_.on_frame(payload);
        break;
      case net::WsEventKind::kPing: {
        std::string out;
        uint32_t key = rng_();
        net::ws_append_frame(out, net::WsOpcode::kPong, payload,
                             reinterpret_cast<const uint8_t*>(&key));
        write_raw(std::move(out));
        break;
      }
      case net::WsEventKind::kPong:
        break;
      case net::WsEventKind::kClose: {
        std::string out;
        uint32_t key = rng_();
        net::ws_append_frame(out, net::WsOpcode::kClose,
                             net::ws_close_payload(r.event.close_code == net::ws_close::kNoStatus
                                                       ? 0
                                                       : r.event.close_code),
                             reinterpret_cast<const uint8_t*>(&key));
        write_raw(std::move(out));
        fail("the server closed the WebSocket (" + std::to_string(r.event.close_code) +
             (payload.empty() ? "" : ": " + payload) + ")");
        return;
      }
      case net::WsEventKind::kError:
        fail("bad WebSocket frame from the server: " + std::string(r.event.error));
        return;
    }
  }
}

bool Connection::send(std::string_view json) {
  if (state_ != State::kOpen) return false;
  std::string out;
  if (endpoint_.transport == Endpoint::Transport::kTcp) {
    net::append_tcp_frame(out, json);
  } else {
    uint32_t key = rng_();
    net::ws_append_frame(out, net::WsOpcode::kText, json, reinterpret_cast<const uint8_t*>(&key));
  }
  write_raw(std::move(out));
  return true;
}

void Connection::write_raw(std::string bytes) {
  auto* w = new WriteReq{{}, std::move(bytes)};
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&socket_->tcp), &buf, 1, write_cb);
  if (rc != 0) delete w;  // the read side reports the broken connection
}

void Connection::write_cb(uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); }

size_t Connection::write_queue_size() const { return socket_ ? socket_->tcp.write_queue_size : 0; }

void Connection::drop(std::string_view why) {
  if (state_ == State::kClosed || state_ == State::kWaiting || state_ == State::kIdle) return;
  fail(std::string(why));
}

void Connection::fail(std::string why) {
  release_socket();
  if (!options_.reconnect) {
    state_ = State::kClosed;
    uv_timer_stop(timer_);
    handler_.on_drop(why, 0);
    return;
  }
  uint32_t delay = take_delay();
  state_ = State::kWaiting;
  uv_timer_start(timer_, timer_cb, delay, 0);
  handler_.on_drop(why, delay);
}

uint32_t Connection::take_delay() {
  uint32_t d = next_delay_ms_;
  next_delay_ms_ = std::min(options_.backoff.max_ms, next_delay_ms_ * 2);
  std::uniform_int_distribution<uint32_t> jitter(d / 2, d);
  return jitter(rng_);
}

void Connection::timer_cb(uv_timer_t* t) {
  auto* self = static_cast<Connection*>(t->data);
  if (self->state_ == State::kWaiting) {
    self->attempt();
  } else if (self->state_ == State::kResolving || self->state_ == State::kConnecting ||
             self->state_ == State::kUpgrading) {
    self->fail("timed out connecting to " + self->endpoint_.display());
  }
}

void Connection::release_socket() {
  ++generation_;  // any callback of the old attempt is now stale
  if (resolving_ != nullptr) {
    resolving_->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolving_->req));
    resolving_ = nullptr;
  }
  if (!socket_) return;
  Socket* s = socket_.release();
  s->live = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp),
           [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
}

void Connection::close() {
  if (state_ == State::kClosed && timer_ == nullptr) return;
  state_ = State::kClosed;
  release_socket();
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
}

}  // namespace parley::client
