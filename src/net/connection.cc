#include "parley/net/connection.h"

#include <cassert>
#include <cstring>

#include "parley/http/request.h"
#include "parley/http/response.h"
#include "parley/net/net_shard.h"
#include "parley/net/tcp_frame.h"
#include "parley/net/ws_frame.h"
#include "parley/net/ws_handshake.h"

namespace parley::net {
namespace {

constexpr int kMaxIov = 64;

struct WriteReq {
  uv_write_t req;
  size_t bytes;
};

bool header_has_token(const std::string* value, std::string_view token) {
  if (value == nullptr) return false;
  std::string_view v = *value;
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == token.size() &&
        std::equal(item.begin(), item.end(), token.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return true;
    }
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string_view to_string(Transport t) {
  switch (t) {
    case Transport::kHttp:
      return "http";
    case Transport::kWebSocket:
      return "ws";
    case Transport::kTcp:
      return "tcp";
  }
  return "?";
}

Connection::Connection(NetShard& net, ConnId id, Transport t, uint64_t now_ms)
    : net_(&net), id_(id), transport_(t), opened_ms_(now_ms), last_rx_ms_(now_ms) {
  tcp_.data = this;
  wheel_.owner = this;
  if (t == Transport::kHttp) {
    http_ = std::make_unique<http::RequestParser>(net.options().http);
    request_start_ms_ = now_ms;  // the first request's headers are due from accept on
  }
}

Connection::~Connection() = default;

// ---- reading ------------------------------------------------------------------------------

void Connection::update_reading() {
  bool want = state_ == State::kOpen || state_ == State::kClosing;
  if (state_ == State::kOpen) {
    if (read_paused_output_ && out_.size() <= net_->options().max_outbuf / 2) {
      read_paused_output_ = false;
      net_->handler().on_drain(*this);
      if (state_ != State::kOpen) return;
      if (!in_.empty()) {
        process_input({reinterpret_cast<uint8_t*>(in_.data()), in_.size()}, true);
        if (state_ != State::kOpen) return;
      }
    }
    want = !read_paused_output_ && !read_paused_shard_ && !http_busy_ && !body_held_;
  }
  if (want == reading_) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (want) {
    uv_read_start(
        stream,
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* c = static_cast<Connection*>(h->data);
          *buf = uv_buf_init(reinterpret_cast<char*>(c->net_->scratch_.get()),
                             static_cast<unsigned>(NetShard::kScratchSize));
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
          static_cast<Connection*>(s->data)->on_read(n, buf);
        });
  } else {
    uv_read_stop(stream);
  }
  reading_ = want;
}

void Connection::on_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;
  if (nread < 0) {  // EOF or error: nothing more can be said to this peer
    abort();
    return;
  }
  if (state_ == State::kClosing) return;  // lingering: the peer's bytes are discarded
  if (state_ != State::kOpen) return;
  last_rx_ms_ = net_->clock().now_ms();
  net_->stats_.bytes_in += static_cast<uint64_t>(nread);
  auto* bytes = reinterpret_cast<uint8_t*>(buf->base);
  if (in_.empty()) {
    process_input({bytes, static_cast<size_t>(nread)}, false);
  } else {
    in_.append(reinterpret_cast<char*>(bytes), static_cast<size_t>(nread));
    process_input({reinterpret_cast<uint8_t*>(in_.data()), in_.size()}, true);
  }
}

void Connection::process_input(std::span<uint8_t> data, bool data_is_in_buf) {
  if (in_process_) return;  // the outer call's loop picks up where this one would start
  in_process_ = true;
  size_t used = process(data);
  in_process_ = false;
  if (state_ == State::kClosed || state_ == State::kClosing) {
    in_.clear();
  } else if (data_is_in_buf) {
    in_.erase(0, used);
  } else {
    in_.assign(reinterpret_cast<const char*>(data.data()) + used, data.size() - used);
  }
  if (state_ == State::kHandingOff) {
    net_->complete_handoff(*this);
    return;
  }
  if (state_ == State::kOpen && net_->shard_congested()) net_->pause_for_congestion(this);
  update_reading();
}

size_t Connection::process(std::span<uint8_t> data) {
  size_t off = 0;
  while (off < data.size() && state_ == State::kOpen && !http_busy_ && !body_held_ &&
         !read_paused_output_ && !read_paused_shard_) {
    std::span<uint8_t> rest = data.subspan(off);
    size_t n = 0;
    switch (transport_) {
      case Transport::kTcp:
        n = process_tcp(rest);
        break;
      case Transport::kWebSocket:
        n = process_ws(rest);
        break;
      case Transport::kHttp:
        n = process_http(rest);
        break;
    }
    if (n == 0) break;
    off += n;
  }
  return off;
}

size_t Connection::process_tcp(std::span<uint8_t> data) {
  TcpFrameResult r = parse_tcp_frame(data, net_->options().max_frame);
  switch (r.status) {
    case TcpFrameStatus::kNeedMore:
      return 0;
    case TcpFrameStatus::kError:
      ++net_->stats_.tcp_errors;
      abort();  // the contract: closed at once, without a reply
      return 0;
    case TcpFrameStatus::kFrame:
      deliver({reinterpret_cast<const char*>(r.payload.data()), r.payload.size()}, false);
      return r.consumed;
  }
  return 0;
}

size_t Connection::process_ws(std::span<uint8_t> data) {
  WsDecoder::Result r = ws_->decode(data);
  const WsEvent& ev = r.event;
  auto text = [](std::span<const uint8_t> p) {
    return std::string_view(reinterpret_cast<const char*>(p.data()), p.size());
  };
  switch (ev.kind) {
    case WsEventKind::kNeedMore:
      break;
    case WsEventKind::kMessage:
      deliver(text(ev.payload), ev.opcode == WsOpcode::kBinary);
      break;
    case WsEventKind::kPing:
      send_ws_control(static_cast<uint8_t>(WsOpcode::kPong), text(ev.payload));
      break;
    case WsEventKind::kPong:
      break;
    case WsEventKind::kClose:
      // Echo the peer's code (RFC 6455 5.5.1); "no status" is answered with an empty close.
      close(ev.close_code == ws_close::kNoStatus ? 0 : ev.close_code);
      break;
    case WsEventKind::kError:
      ++net_->stats_.ws_errors;
      close(ev.close_code, ev.error);
      break;
  }
  return r.consumed;
}

size_t Connection::process_http(std::span<uint8_t> data) {
  http::HttpParseResult r = http_->feed(data);
  switch (r.status) {
    case http::HttpParseStatus::kNeedMore:
      if (http_->headers_complete()) {
        // The header deadline is met; a body in progress is held to the idle timeout.
        request_start_ms_ = 0;
        if (!headers_seen_) announce_headers();
        if (body_streamed_ && state_ == State::kOpen && !http_busy_ &&
            !http_->request().body.empty()) {
          net_->handler().on_http_body(*this, http_->request());
        }
      } else if (request_start_ms_ == 0 && http_->in_progress()) {
        request_start_ms_ = net_->clock().now_ms();
        net_->arm(this);
      }
      return r.consumed;
    case http::HttpParseStatus::kError: {
      ++net_->stats_.http_errors;
      http_busy_ = true;
      const bool too_big = r.http_status == 413 || r.http_status == 431;
      respond(http::http_json_error(r.http_status, too_big ? "too_large" : "bad_request", r.error,
                                    false),
              true);
      return 0;
    }
    case http::HttpParseStatus::kRequest:
      break;
  }
  request_start_ms_ = 0;
  ++net_->stats_.http_requests;
  http::Request& req = http_->request();
  if (req.upgrade) {
    upgrade_to_websocket(req);
    return r.consumed;
  }
  if (!headers_seen_) announce_headers();
  if (state_ != State::kOpen || http_busy_) return 0;  // answered from the headers: closing
  if (body_streamed_ && !req.body.empty()) {
    net_->handler().on_http_body(*this, req);
    if (state_ != State::kOpen || http_busy_) return 0;
  }
  http_busy_ = true;
  headers_seen_ = body_streamed_ = false;
  net_->handler().on_http(*this, req);
  return r.consumed;
}

void Connection::announce_headers() {
  headers_seen_ = true;
  http::Request& req = http_->request();
  if (req.upgrade) return;
  body_streamed_ = net_->handler().on_http_headers(*this, req);
  if (state_ != State::kOpen || http_busy_) return;
  // RFC 9110 10.1.1: a client that waits for leave to send its body gets it now.
  if (header_has_token(req.header("expect"), "100-continue") && http_->body_received() == 0) {
    queue_raw("HTTP/1.1 100 Continue\r\n\r\n");
  }
}

void Connection::hold_body(bool hold) {
  if (body_held_ == hold || transport_ != Transport::kHttp) return;
  body_held_ = hold;
  if (hold || state_ != State::kOpen) return;
  if (!in_.empty() && !in_process_) {
    process_input({reinterpret_cast<uint8_t*>(in_.data()), in_.size()}, true);
  } else {
    update_reading();
  }
}

bool Connection::upgrade_to_websocket(http::Request& req) {
  http_busy_ = true;
  auto refuse = [&](int status, std::string_view why, std::string_view extra = {}) {
    respond(http::http_response(status, "text/plain", why, false, extra), true);
    return false;
  };
  if (!net_->handler().accept_websocket(req.path)) return refuse(404, "not found\n");
  if (req.method != "GET" || !header_has_token(req.header("upgrade"), "websocket") ||
      !header_has_token(req.header("connection"), "upgrade")) {
    return refuse(400, "bad websocket upgrade\n");
  }
  const std::string* version = req.header("sec-websocket-version");
  if (version == nullptr || *version != "13") {
    return refuse(426, "websocket version 13 required\n", "Sec-WebSocket-Version: 13\r\n");
  }
  const std::string* key = req.header("sec-websocket-key");
  if (key == nullptr || !ws_key_valid(*key)) return refuse(400, "bad Sec-WebSocket-Key\n");

  std::string reply =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  reply += ws_accept_key(*key);
  reply += "\r\n\r\n";
  queue_raw(reply);
  http_busy_ = false;
  http_.reset();
  WsLimits limits;
  limits.max_message = net_->options().max_frame;
  limits.require_mask = true;
  limits.allow_binary = net_->options().ws_allow_binary;
  ws_ = std::make_unique<WsDecoder>(limits);
  transport_ = Transport::kWebSocket;
  --net_->stats_.open[static_cast<int>(Transport::kHttp)];
  ++net_->stats_.open[static_cast<int>(Transport::kWebSocket)];
  ++net_->stats_.accepted[static_cast<int>(Transport::kWebSocket)];
  opened_ms_ = net_->clock().now_ms();  // the login deadline counts from the upgrade
  net_->arm(this);
  net_->handler().on_open(*this);
  return true;
}

void Connection::deliver(std::string_view payload, bool binary) {
  ++net_->stats_.frames_in;
  net_->handler().on_message(*this, payload, binary);
}

// ---- writing ------------------------------------------------------------------------------

size_t Connection::out_room() const {
  size_t limit = net_->options().max_outbuf;
  return out_.size() >= limit ? 0 : limit - out_.size();
}

SendStatus Connection::send(std::string_view payload, SendKind kind, bool binary) {
  if (state_ != State::kOpen && state_ != State::kHandingOff) return SendStatus::kClosed;
  size_t header = transport_ == Transport::kTcp ? 4 : ws_header_size(payload.size(), false);
  size_t limit = net_->options().max_outbuf;
  if (kind == SendKind::kEphemeral && out_.size() + header + payload.size() > limit) {
    ++net_->stats_.slow_client_closes;
    close(ws_close::kPolicyViolation, "output limit");
    return SendStatus::kClosed;
  }
  std::span<uint8_t> h = out_.append_contiguous(header);
  if (transport_ == Transport::kTcp) {
    write_tcp_header(h.data(), static_cast<uint32_t>(payload.size()));
  } else {
    ws_write_header(h.data(), binary ? WsOpcode::kBinary : WsOpcode::kText, true, payload.size(),
                    nullptr);
  }
  out_.append(payload);
  ++net_->stats_.frames_out;
  mark_dirty();
  if (out_.size() > limit) {
    if (!read_paused_output_) {
      read_paused_output_ = true;
      ++net_->stats_.read_pauses;
      update_reading();
    }
    return SendStatus::kBackpressure;
  }
  return SendStatus::kOk;
}

void Connection::send_ws_control(uint8_t opcode, std::string_view payload) {
  std::string frame;
  ws_append_frame(frame, static_cast<WsOpcode>(opcode), payload);
  queue_raw(frame);
}

void Connection::queue_raw(std::string_view bytes) {
  out_.append(bytes);
  mark_dirty();
}

void Connection::respond(std::string response, bool close_after) {
  if (state_ != State::kOpen || transport_ != Transport::kHttp) return;
  queue_raw(response);
  http_busy_ = false;
  if (close_after || !http_->request().keep_alive) {
    close(0);
    return;
  }
  http_->next();
  request_start_ms_ = 0;
  headers_seen_ = body_streamed_ = body_held_ = false;
  // Pipelined requests already received are parsed now (unless we are inside that loop).
  if (!in_.empty() && !in_process_) {
    process_input({reinterpret_cast<uint8_t*>(in_.data()), in_.size()}, true);
  } else {
    update_reading();
  }
}

void Connection::mark_dirty() {
  if (dirty_) return;
  dirty_ = true;
  net_->mark_dirty(this);
}

// Called at the end of the loop iteration: everything queued this tick goes out in one write.
// A direct uv_try_write first; only what the kernel would not take waits on a uv_write.
void Connection::flush() {
  dirty_ = false;
  if (state_ == State::kClosed || write_in_flight_ || out_.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  iovec iov[kMaxIov];
  int n = out_.gather(iov, kMaxIov);
  static_assert(sizeof(uv_buf_t) == sizeof(iovec));
  int written = uv_try_write(stream, reinterpret_cast<uv_buf_t*>(iov), n);
  if (written < 0 && written != UV_EAGAIN) {
    abort();
    return;
  }
  if (written > 0) {
    net_->stats_.bytes_out += static_cast<uint64_t>(written);
    out_.consume(static_cast<size_t>(written));
    ++net_->stats_.direct_writes;
  }
  if (out_.empty()) {
    on_write_done(0, 0);
    return;
  }
  n = out_.gather(iov, kMaxIov);
  size_t bytes = 0;
  for (int i = 0; i < n; ++i) bytes += iov[i].iov_len;
  auto* w = new WriteReq{{}, bytes};
  w->req.data = this;
  write_in_flight_ = true;
  inflight_ = bytes;
  ++net_->stats_.queued_writes;
  int rc = uv_write(&w->req, stream, reinterpret_cast<uv_buf_t*>(iov), static_cast<unsigned>(n),
                    [](uv_write_t* req, int status) {
                      auto* wr = reinterpret_cast<WriteReq*>(req);
                      auto* c = static_cast<Connection*>(req->data);
                      size_t done = wr->bytes;
                      delete wr;
                      c->write_in_flight_ = false;
                      c->inflight_ = 0;
                      if (status < 0) {
                        c->abort();
                        return;
                      }
                      c->net_->stats_.bytes_out += done;
                      c->out_.consume(done);
                      c->on_write_done(status, done);
                    });
  if (rc != 0) {
    delete w;
    write_in_flight_ = false;
    inflight_ = 0;
    abort();
  }
}

void Connection::on_write_done(int, size_t) {
  if (state_ == State::kClosed) return;
  if (!out_.empty()) {
    flush();
    return;
  }
  if (state_ == State::kHandingOff) {
    net_->complete_handoff(*this);
    return;
  }
  if (close_after_flush_) {
    finish_close();
    return;
  }
  if (read_paused_output_) update_reading();
}

// ---- closing ------------------------------------------------------------------------------

void Connection::close(uint16_t ws_code, std::string_view reason) {
  if (state_ != State::kOpen) return;
  if (transport_ == Transport::kWebSocket) {
    send_ws_control(static_cast<uint8_t>(WsOpcode::kClose), ws_close_payload(ws_code, reason));
  }
  if (!handler_closed_) {
    handler_closed_ = true;
    net_->handler().on_close(*this);
  }
  begin_close();
}

void Connection::begin_close() {
  state_ = State::kClosing;
  close_after_flush_ = true;
  closing_since_ms_ = net_->clock().now_ms();
  in_.clear();
  ws_.reset();
  net_->arm(this);
  if (!write_in_flight_ && out_.empty()) finish_close();
  // else: flush() at the end of the tick, then on_write_done() → finish_close()
  update_reading();  // keep reading (and discarding) until the peer is done
}

// Output is flushed: send FIN and wait (up to close_linger_ms) for the peer to close its side,
// so our last frames are not destroyed by a reset caused by bytes the peer is still sending.
void Connection::finish_close() {
  close_after_flush_ = false;
  if (state_ != State::kClosing) return;
  if (net_->shutting_down()) {
    abort();
    return;
  }
  auto* req = new uv_shutdown_t;
  req->data = this;
  int rc = uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&tcp_), [](uv_shutdown_t* r, int) {
    delete r;
  });
  if (rc != 0) {
    delete req;
    abort();
  }
}

void Connection::abort() {
  if (state_ == State::kClosed) return;
  bool handing_off = state_ == State::kHandingOff;
  state_ = State::kClosed;
  if (!handler_closed_ && !handing_off) {
    handler_closed_ = true;
    net_->handler().on_close(*this);
  }
  net_->wheel_.disarm(&wheel_);
  in_.clear();
  out_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    c->net_->release(c);
  });
}

Admit Connection::admit() {
  const NetOptions& o = net_->options();
  const uint64_t now = net_->clock().now_ms();
  if (rate_.take(now, o.rate_limit, o.rate_burst)) {
    if (over_since_ms_ != 0 && now >= last_refused_ms_ + 1000) over_since_ms_ = 0;
    return Admit::kOk;
  }
  ++net_->stats_.rate_limited;
  if (over_since_ms_ == 0 || now >= last_refused_ms_ + 1000) over_since_ms_ = now;
  last_refused_ms_ = now;
  if (now < over_since_ms_ + o.rate_abuse_ms) return Admit::kRefused;
  ++net_->stats_.rate_limit_closes;
  if (transport_ == Transport::kHttp) {
    abort();
  } else {
    close(ws_close::kPolicyViolation, "request rate over the limit");
  }
  return Admit::kClosed;
}

void Connection::set_authenticated() {
  authenticated_ = true;
}

void Connection::handoff(int to, std::function<void(Connection&)> on_arrival) {
  net_->handoff(*this, to, std::move(on_arrival));
}

void Connection::expire() {
  if (state_ != State::kOpen) {
    abort();
    return;
  }
  ++net_->stats_.timeouts;
  const NetOptions& o = net_->options();
  uint64_t now = net_->clock().now_ms();
  if (transport_ == Transport::kHttp) {
    abort();  // slow or idle HTTP client: no response is owed
  } else if (o.require_login && !authenticated_ && now >= opened_ms_ + o.login_timeout_ms) {
    close(ws_close::kPolicyViolation, "login timeout");
  } else {
    close(ws_close::kPolicyViolation, "idle timeout");
  }
}

uint64_t Connection::deadline() const {
  const NetOptions& o = net_->options();
  if (state_ == State::kClosing) return closing_since_ms_ + o.close_linger_ms;
  if (state_ != State::kOpen) return 0;
  uint64_t d = last_rx_ms_ + o.idle_timeout_ms;
  if (transport_ == Transport::kHttp) {
    if (request_start_ms_ != 0) d = std::min<uint64_t>(d, request_start_ms_ + o.header_timeout_ms);
  } else if (o.require_login && !authenticated_) {
    d = std::min<uint64_t>(d, opened_ms_ + o.login_timeout_ms);
  }
  return d;
}

}  // namespace parley::net
