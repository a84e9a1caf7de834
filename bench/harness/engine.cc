#include "engine.h"

#include <time.h>

#include <algorithm>
#include <cstring>

#include "parley/net/tcp_frame.h"
#include "parley/net/ws_client.h"

namespace parley::bench {
namespace {

constexpr size_t kInitialReadBuffer = 4096;     // idle connections stay small
constexpr size_t kMaxEagerReadBuffer = 256 << 10;  // grow on full reads up to this
constexpr size_t kMaxFrame = 64u << 20;
constexpr size_t kWsReservedHeader = 8;  // 2 + 2-byte length + 4-byte mask: frames < 64 KiB

Conn* conn_of(uv_handle_t* h) { return static_cast<Conn*>(h->data); }

}  // namespace

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// ---- Conn ------------------------------------------------------------------------------------

Conn::Conn(Worker& worker, uint32_t index)
    : worker_(worker), index_(index), mask_state_(index * 2654435761u + 0x9e3779b9u) {
  if (mask_state_ == 0) mask_state_ = 1;
}

void Conn::connect(const Endpoint& ep, const sockaddr_in* source) {
  transport_ = ep.transport;
  uv_tcp_init(worker_.loop(), &tcp_);
  tcp_.data = this;
  state_ = State::kConnecting;
  if (source != nullptr) {
    int r = uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(source), 0);
    if (r < 0) return close(uv_strerror(r));
  }
  uv_tcp_nodelay(&tcp_, 1);
  if (transport_ == Transport::kWs) {
    ws_key_ = net::ws_client_key();
    out_ = net::ws_client_request(ep.host_header, ep.path, ws_key_);
  }
  connect_req_.data = this;
  int r = uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&ep.addr),
                         [](uv_connect_t* req, int status) {
                           static_cast<Conn*>(req->data)->on_connected(status);
                         });
  if (r < 0) close(uv_strerror(r));
}

void Conn::on_connected(int status) {
  if (state_ != State::kConnecting) return;
  if (status < 0) return close(std::string("connect: ") + uv_strerror(status));
  rcap_ = kInitialReadBuffer;
  rbuf_ = std::make_unique<uint8_t[]>(rcap_ + kReadPadding);
  auto alloc = [](uv_handle_t* h, size_t, uv_buf_t* buf) {
    Conn& c = *conn_of(h);
    if (c.rcap_ - c.rlen_ < 512) {
      size_t cap = c.rcap_ * 2;
      auto bigger = std::make_unique<uint8_t[]>(cap + kReadPadding);
      std::memcpy(bigger.get(), c.rbuf_.get(), c.rlen_);
      c.rbuf_ = std::move(bigger);
      c.rcap_ = cap;
    }
    *buf = uv_buf_init(reinterpret_cast<char*>(c.rbuf_.get() + c.rlen_),
                       static_cast<unsigned>(c.rcap_ - c.rlen_));
  };
  auto read = [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
    conn_of(reinterpret_cast<uv_handle_t*>(s))->on_read(n);
  };
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), alloc, read);
  if (transport_ == Transport::kWs) {
    state_ = State::kHandshake;
    mark_dirty();
  } else {
    state_ = State::kOpen;
    worker_.driver().on_open(*this);
  }
}

void Conn::on_read(ssize_t n) {
  if (n == 0) return;
  if (n < 0) return close(n == UV_EOF ? "closed by the server" : uv_strerror(static_cast<int>(n)));
  size_t room = rcap_ - rlen_;
  rlen_ += static_cast<size_t>(n);
  bytes_in_ += static_cast<uint64_t>(n);
  process_input();
  // A read that filled all the room suggests more is waiting: read more per call next time.
  if (static_cast<size_t>(n) == room && rcap_ < kMaxEagerReadBuffer && rbuf_) {
    size_t cap = rcap_ * 2;
    auto bigger = std::make_unique<uint8_t[]>(cap + kReadPadding);
    std::memcpy(bigger.get(), rbuf_.get(), rlen_);
    rbuf_ = std::move(bigger);
    rcap_ = cap;
  }
}

void Conn::process_input() {
  size_t pos = 0;
  if (state_ == State::kHandshake) {
    auto r = net::parse_ws_client_response({rbuf_.get(), rlen_}, ws_key_);
    if (r.status == net::WsClientResponse::Status::kNeedMore) return;
    if (r.status == net::WsClientResponse::Status::kError) {
      return close("WebSocket handshake: " + r.error);
    }
    pos = r.consumed;
    state_ = State::kOpen;
    worker_.driver().on_open(*this);
  }
  while (state_ == State::kOpen && pos < rlen_) {
    if (transport_ == Transport::kTcp) {
      auto r = net::parse_tcp_frame({rbuf_.get() + pos, rlen_ - pos}, kMaxFrame);
      if (r.status == net::TcpFrameStatus::kNeedMore) break;
      if (r.status == net::TcpFrameStatus::kError) return close(std::string(r.error));
      pos += r.consumed;
      worker_.driver().on_frame(*this, r.payload);
    } else if (!process_ws(pos)) {
      break;
    }
  }
  if (state_ != State::kOpen) return;
  if (pos > 0) {
    std::memmove(rbuf_.get(), rbuf_.get() + pos, rlen_ - pos);
    rlen_ -= pos;
  }
}

// One WebSocket event from rbuf_[pos..]. Returns false when more bytes are needed.
bool Conn::process_ws(size_t& pos) {
  auto r = ws_decoder_.decode({rbuf_.get() + pos, rlen_ - pos});
  const net::WsEvent& e = r.event;
  size_t at = pos;
  pos += r.consumed;
  switch (e.kind) {
    case net::WsEventKind::kNeedMore:
      return false;
    case net::WsEventKind::kMessage: {
      const uint8_t* p = e.payload.data();
      bool in_buffer = p >= rbuf_.get() + at && p + e.payload.size() <= rbuf_.get() + rlen_;
      if (in_buffer || e.payload.empty()) {
        worker_.driver().on_frame(*this, e.payload);
      } else {  // reassembled from fragments: copy where padding is guaranteed
        auto& scratch = worker_.scratch_;
        scratch.resize(e.payload.size() + kReadPadding);
        std::memcpy(scratch.data(), p, e.payload.size());
        worker_.driver().on_frame(*this, {scratch.data(), e.payload.size()});
      }
      return true;
    }
    case net::WsEventKind::kPing: {
      uint8_t mask[4];
      uint32_t m = next_mask();
      std::memcpy(mask, &m, 4);
      net::ws_append_frame(out_, net::WsOpcode::kPong,
                           {reinterpret_cast<const char*>(e.payload.data()), e.payload.size()},
                           mask);
      mark_dirty();
      return true;
    }
    case net::WsEventKind::kPong:
      return true;
    case net::WsEventKind::kClose:
      close("WebSocket close " + std::to_string(e.close_code));
      return false;
    case net::WsEventKind::kError:
      close("WebSocket error: " + std::string(e.error));
      return false;
  }
  return false;
}

size_t Conn::begin_frame() {
  size_t mark = out_.size();
  out_.append(transport_ == Transport::kTcp ? net::kTcpHeaderSize : kWsReservedHeader, '\0');
  return mark;
}

void Conn::end_frame(size_t mark) {
  if (transport_ == Transport::kTcp) {
    size_t len = out_.size() - mark - net::kTcpHeaderSize;
    net::write_tcp_header(reinterpret_cast<uint8_t*>(&out_[mark]), static_cast<uint32_t>(len));
  } else {
    size_t len = out_.size() - mark - kWsReservedHeader;
    uint8_t mask[4];
    uint32_t m = next_mask();
    std::memcpy(mask, &m, 4);
    uint8_t header[net::kWsMaxHeaderSize];
    size_t hs = net::ws_write_header(header, net::WsOpcode::kText, true, len, mask);
    if (hs <= kWsReservedHeader) {
      std::memmove(&out_[mark + hs], &out_[mark + kWsReservedHeader], len);
      out_.resize(mark + hs + len);
    } else {
      out_.insert(mark + kWsReservedHeader, hs - kWsReservedHeader, '\0');
    }
    std::memcpy(&out_[mark], header, hs);
    net::ws_mask({reinterpret_cast<uint8_t*>(&out_[mark + hs]), len}, mask);
  }
  mark_dirty();
}

void Conn::send_frame(std::string_view payload) {
  size_t mark = begin_frame();
  out_.append(payload);
  end_frame(mark);
}

uint32_t Conn::next_mask() { return xorshift32(mask_state_); }  // no secret from our own server

void Conn::mark_dirty() {
  if (dirty_) return;
  dirty_ = true;
  worker_.dirty_.push_back(this);
}

void Conn::flush() {
  if (writing_ || out_.empty()) return;
  if (state_ != State::kOpen && state_ != State::kHandshake) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int r = uv_try_write(stream, &b, 1);
  if (r == static_cast<int>(out_.size())) {
    bytes_out_ += static_cast<uint64_t>(r);
    out_.clear();
    return;
  }
  if (r < 0 && r != UV_EAGAIN) return close(std::string("write: ") + uv_strerror(r));
  size_t done = r > 0 ? static_cast<size_t>(r) : 0;
  bytes_out_ += done;
  inflight_.assign(out_, done);
  out_.clear();
  writing_ = true;
  write_req_.data = this;
  b = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
  uv_write(&write_req_, stream, &b, 1, [](uv_write_t* req, int status) {
    static_cast<Conn*>(req->data)->on_write_done(status);
  });
}

void Conn::on_write_done(int status) {
  writing_ = false;
  if (status < 0) {
    if (status != UV_ECANCELED) close(std::string("write: ") + uv_strerror(status));
    return;
  }
  bytes_out_ += inflight_.size();
  inflight_.clear();
  if (!out_.empty()) mark_dirty();
}

void Conn::close(std::string_view why) {
  if (state_ == State::kClosing || state_ == State::kClosed || state_ == State::kIdle) return;
  state_ = State::kClosing;
  close_reason_.assign(why);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
    Conn& c = *conn_of(h);
    c.state_ = State::kClosed;
    c.rbuf_.reset();
    c.worker_.driver().on_closed(c, c.close_reason_);
  });
}

void Conn::reset() {
  state_ = State::kIdle;
  rlen_ = 0;
  out_.clear();
  inflight_.clear();
  writing_ = false;
  ws_key_.clear();
  close_reason_.clear();
  ws_decoder_ = net::WsDecoder{net::WsLimits{.max_message = 64u << 20, .require_mask = false}};
}

// ---- Worker ----------------------------------------------------------------------------------

Worker::Worker(int id, std::unique_ptr<Driver> driver) : id_(id), driver_(std::move(driver)) {}

Worker::~Worker() { join(); }

void Worker::start() { thread_ = std::thread([this] { run(); }); }

void Worker::request_stop() { stop_.store(true, std::memory_order_relaxed); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

Conn& Worker::connect(uint32_t index, const Endpoint& ep, const sockaddr_in* source) {
  conns_.push_back(std::make_unique<Conn>(*this, index));
  Conn& c = *conns_.back();
  c.connect(ep, source);
  return c;
}

void Worker::reconnect(Conn& c, const Endpoint& ep, const sockaddr_in* source) {
  c.reset();
  c.connect(ep, source);
}

void Worker::run() {
  uv_loop_init(&loop_);
  uv_prepare_init(&loop_, &flush_);
  flush_.data = this;
  uv_prepare_start(&flush_, [](uv_prepare_t* p) { static_cast<Worker*>(p->data)->flush_dirty(); });
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(
      &tick_,
      [](uv_timer_t* t) {
        auto& w = *static_cast<Worker*>(t->data);
        if (w.stop_.load(std::memory_order_relaxed)) return w.shutdown();
        w.driver_->on_tick(now_ns());
      },
      1, 1);
  driver_->on_start(*this);
  uv_run(&loop_, UV_RUN_DEFAULT);
  conns_.clear();
  uv_loop_close(&loop_);
}

void Worker::flush_dirty() {
  flushing_.swap(dirty_);
  for (Conn* c : flushing_) {
    c->dirty_ = false;
    c->flush();
  }
  flushing_.clear();
}

void Worker::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  driver_->on_stop();
  for (auto& c : conns_) c->close("stopped");
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
}

}  // namespace parley::bench
