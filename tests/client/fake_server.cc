#include "client/fake_server.h"

#include <span>

#include "parley/net/tcp_frame.h"

namespace parley::test {

namespace {

constexpr size_t kMaxFrame = 1 << 20;

struct Write {
  uv_write_t req;
  std::string data;
};

}  // namespace

struct FakeServer::Conn {
  uv_tcp_t tcp;
  FakeServer* server;
  int number;
  bool open = true;
  std::string in;
  char buf[16384];
};

FakeServer::~FakeServer() {
  // Handles must be closed (close() plus a loop run) before this; only forget them here.
  for (Conn* c : conns_) {
    if (c != nullptr) c->server = nullptr;
  }
}

bool FakeServer::listen() {
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listening_ = true;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  if (uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0) != 0) return false;
  if (uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, connection_cb) != 0) return false;
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return port_ != 0;
}

void FakeServer::connection_cb(uv_stream_t* server, int status) {
  auto* self = static_cast<FakeServer*>(server->data);
  if (status != 0) return;
  auto* c = new Conn;
  c->server = self;
  c->number = static_cast<int>(self->conns_.size());
  uv_tcp_init(self->loop_, &c->tcp);
  c->tcp.data = c;
  self->conns_.push_back(c);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    self->drop(c->number);
    return;
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* b) {
        auto* conn = static_cast<Conn*>(h->data);
        *b = uv_buf_init(conn->buf, sizeof(conn->buf));
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
        auto* conn = static_cast<Conn*>(s->data);
        if (conn->server == nullptr || !conn->open) return;
        if (n < 0) {
          conn->server->drop(conn->number);
          return;
        }
        conn->server->on_bytes(*conn, std::string_view(conn->buf, static_cast<size_t>(n)));
      });
}

void FakeServer::on_bytes(Conn& c, std::string_view bytes) {
  c.in.append(bytes);
  size_t off = 0;
  while (c.open) {
    auto span = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(c.in.data()) + off,
                                         c.in.size() - off);
    auto r = net::parse_tcp_frame(span, kMaxFrame);
    if (r.status == net::TcpFrameStatus::kNeedMore) break;
    if (r.status == net::TcpFrameStatus::kError) {
      drop(c.number);
      return;
    }
    off += r.consumed;
    std::string json(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
    if (script_) script_(c.number, json);
  }
  if (c.open) c.in.erase(0, off);
}

bool FakeServer::is_open(int conn) const {
  if (conn < 0 || conn >= accepted()) return false;
  const Conn* c = conns_[static_cast<size_t>(conn)];
  return c != nullptr && c->open;
}

void FakeServer::send(int conn, std::string_view json) {
  if (!is_open(conn)) return;
  Conn* c = conns_[static_cast<size_t>(conn)];
  auto* w = new Write;
  net::append_tcp_frame(w->data, json);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
               [](uv_write_t* req, int) { delete reinterpret_cast<Write*>(req); }) != 0) {
    delete w;
  }
}

void FakeServer::drop(int conn) {
  if (!is_open(conn)) return;
  Conn* c = conns_[static_cast<size_t>(conn)];
  c->open = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
    auto* closed = static_cast<Conn*>(h->data);
    if (closed->server != nullptr) {
      closed->server->conns_[static_cast<size_t>(closed->number)] = nullptr;
    }
    delete closed;
  });
}

void FakeServer::close() {
  for (int i = 0; i < accepted(); ++i) drop(i);
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
}

bool run_until(uv_loop_t* loop, const std::function<bool()>& done, int timeout_ms) {
  struct Deadline {
    uv_timer_t timer;
    bool expired = false;
  };
  auto* d = new Deadline;
  uv_timer_init(loop, &d->timer);
  d->timer.data = d;
  uv_timer_start(
      &d->timer, [](uv_timer_t* t) { static_cast<Deadline*>(t->data)->expired = true; },
      static_cast<uint64_t>(timeout_ms), 0);
  while (!done() && !d->expired) uv_run(loop, UV_RUN_ONCE);
  d->expired = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
           [](uv_handle_t* h) { delete static_cast<Deadline*>(h->data); });
  return done();
}

}  // namespace parley::test
