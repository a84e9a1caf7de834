#include "parley/net/net_shard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <utility>

#include "parley/net/ws_frame.h"
#include "parley/server/log.h"
#include "parley/shard/shard.h"

namespace parley::net {
namespace {

thread_local NetShard* tl_current = nullptr;

// The wheel's granularity: fine enough for the shortest timeout, coarse enough to be cheap.
uint64_t wheel_tick(const NetOptions& o) {
  uint64_t shortest = std::min({o.header_timeout_ms, o.login_timeout_ms, o.idle_timeout_ms,
                                o.close_linger_ms});
  return std::clamp<uint64_t>(shortest / 8, 5, 250);
}

std::string peer_name(const sockaddr_storage& ss) {
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) return "?";
  char ip[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    std::string out = "[";
    out += ip;
    out += "]:";
    out += std::to_string(ntohs(a->sin6_port));
    return out;
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
  std::string out = ip;
  out += ':';
  out += std::to_string(ntohs(a->sin_port));
  return out;
}

}  // namespace

// Everything a connection takes along when it moves to another shard.
struct NetShard::Carried {
  int fd = -1;
  Transport transport = Transport::kTcp;
  bool authenticated = false;
  uint64_t opened_ms = 0;
  std::string in;
  OutBuffer out;
  std::unique_ptr<WsDecoder> ws;
  std::unique_ptr<ConnContext> ctx;
  std::string peer;
  int64_t address_slot = -1;
  std::function<void(Connection&)> on_arrival;
};

NetShard::NetShard(shard::Shard& shard, NetOptions opts, Handler& handler, const Clock& clock)
    : shard_(shard),
      opts_(opts),
      handler_(handler),
      clock_(clock),
      scratch_(new uint8_t[kScratchSize]),
      wheel_(
          clock.now_ms(), wheel_tick(opts), 1024,
          [](WheelHook* h) { return static_cast<Connection*>(h->owner)->deadline(); },
          [](WheelHook* h) { static_cast<Connection*>(h->owner)->expire(); }) {
  assert(shard.is_current());
  tl_current = this;
  uv_timer_init(shard.loop(), &timer_);
  timer_.data = this;
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<NetShard*>(t->data);
        self->wheel_.advance(self->clock_.now_ms());
      },
      wheel_.tick_ms(), wheel_.tick_ms());
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  uv_idle_init(shard.loop(), &again_);
  uv_unref(reinterpret_cast<uv_handle_t*>(&again_));
  shard.add_tick_hook([this] { flush_dirty(); });
}

NetShard::~NetShard() {
  if (tl_current == this) tl_current = nullptr;
}

NetShard* NetShard::current() { return tl_current; }

int NetShard::adopt_listener(int fd, Transport t) {
  auto* server = new uv_tcp_t;
  uv_tcp_init(shard_.loop(), server);
  server->data = this;
  int rc = uv_tcp_open(server, fd);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server), 4096, &on_listen_cb);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(server),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    return rc;
  }
  listeners_.emplace_back(server, t);
  return 0;
}

void NetShard::on_listen_cb(uv_stream_t* server, int status) {
  auto* self = static_cast<NetShard*>(server->data);
  if (status < 0) {
    log::warn("accept failed: %s", uv_strerror(status));
    return;
  }
  for (auto& [l, t] : self->listeners_) {
    if (reinterpret_cast<uv_stream_t*>(l) == server) {
      self->accept_one(server, t);
      return;
    }
  }
}

void NetShard::accept_one(uv_stream_t* server, Transport t) {
  Connection* c = create(t);
  uv_tcp_init(shard_.loop(), &c->tcp_);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
    c->abort();
    return;
  }
  open_accepted(c, t);
}

int NetShard::adopt_socket(int fd, Transport t) {
  assert(t != Transport::kWebSocket);
  Connection* c = create(t);
  uv_tcp_init(shard_.loop(), &c->tcp_);
  if (int rc = uv_tcp_open(&c->tcp_, fd); rc != 0) {
    ::close(fd);
    c->handler_closed_ = true;  // never opened, nothing to tell the handler
    c->abort();
    return rc;
  }
  open_accepted(c, t);
  return 0;
}

// The part of an accept after the socket is ours: admission, peer name, on_open, reading.
void NetShard::open_accepted(Connection* c, Transport t) {
  if (shutting_down_ || (opts_.max_connections != 0 && live_ > opts_.max_connections)) {
    ++stats_.rejected;
    c->handler_closed_ = true;  // never opened, nothing to tell the handler
    c->abort();
    return;
  }
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    ss.ss_family = AF_UNSPEC;
  }
  if (opts_.addresses) {
    const uint32_t slot = AddressTable::slot_of(reinterpret_cast<const sockaddr*>(&ss));
    if (!opts_.addresses->acquire(slot, opts_.max_per_address)) {
      ++stats_.rejected_per_address;
      c->handler_closed_ = true;
      c->abort();
      return;
    }
    c->address_slot_ = slot;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  c->peer_ = peer_name(ss);
  ++stats_.accepted[static_cast<int>(t)];
  arm(c);
  if (t == Transport::kTcp) handler_.on_open(*c);
  if (c->state_ == Connection::State::kOpen) c->update_reading();
}

Connection* NetShard::create(Transport t) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(nullptr);
    slot_gen_.push_back(1);
  }
  ConnId id{static_cast<uint32_t>(shard_.id()), slot, slot_gen_[slot]};
  auto* c = new Connection(*this, id, t, clock_.now_ms());
  slots_[slot] = c;
  ++live_;
  ++stats_.open[static_cast<int>(t)];
  return c;
}

void NetShard::release(Connection* c) {
  uint32_t slot = c->id_.slot;
  assert(slots_[slot] == c);
  --stats_.open[static_cast<int>(c->transport_)];
  slots_[slot] = nullptr;
  ++slot_gen_[slot];
  free_slots_.push_back(slot);
  --live_;
  if (c->address_slot_ >= 0 && opts_.addresses) {
    opts_.addresses->release(static_cast<uint32_t>(c->address_slot_));
  }
  // A dirty entry may still name it: flush_dirty() looks ids up, and the generation bump
  // above makes this one stale.
  delete c;
}

Connection* NetShard::find(ConnId id) {
  if (id.shard != static_cast<uint32_t>(shard_.id()) || id.slot >= slots_.size()) return nullptr;
  Connection* c = slots_[id.slot];
  if (c == nullptr || c->id_.gen != id.gen) return nullptr;
  return c;
}

void NetShard::arm(Connection* c) {
  uint64_t d = c->deadline();
  if (d != 0) wheel_.arm(&c->wheel_, d);
}

void NetShard::mark_dirty(Connection* c) {
  // Output queued after this tick's flush (by a later tick hook, e.g. the store's group commit
  // sending the replies that waited on it) must not wait for the next wake-up: an active idle
  // handle makes the loop poll without blocking, and flush_dirty() stops it once all is out.
  if (dirty_.empty()) uv_idle_start(&again_, [](uv_idle_t*) {});
  dirty_.push_back(c->id_);
}

void NetShard::flush_dirty() {
  // A flush can queue more output: a write that completes at once resumes a paused reader,
  // which answers the requests it had buffered. A few rounds settle that; whatever is still
  // queued after them keeps the loop from blocking in poll so the next tick sends it.
  constexpr int kRounds = 4;
  std::vector<ConnId> batch;
  for (int round = 0; round < kRounds && !dirty_.empty(); ++round) {
    batch.clear();
    batch.swap(dirty_);
    for (ConnId id : batch) {
      // Ids, not pointers: a connection released since it was queued is simply not found.
      Connection* c = find(id);
      if (c != nullptr && c->dirty_) c->flush();
    }
    if (dirty_.empty() && dirty_.capacity() < batch.capacity()) {
      batch.clear();
      dirty_.swap(batch);
    }
  }
  if (dirty_.empty()) uv_idle_stop(&again_);  // else mark_dirty() has started it
}

bool NetShard::shard_congested() const { return shard_.congested(); }

void NetShard::pause_for_congestion(Connection* c) {
  c->read_paused_shard_ = true;
  paused_.push_back(c->id_);
  if (!resume_armed_) {
    resume_armed_ = true;
    shard_.on_decongested([this] { resume_paused(); });
  }
}

void NetShard::resume_paused() {
  resume_armed_ = false;
  std::vector<ConnId> ids;
  ids.swap(paused_);
  for (ConnId id : ids) {
    Connection* c = find(id);
    if (c == nullptr || !c->read_paused_shard_) continue;
    c->read_paused_shard_ = false;
    if (!c->in_.empty()) {
      c->process_input({reinterpret_cast<uint8_t*>(c->in_.data()), c->in_.size()}, true);
    } else {
      c->update_reading();
    }
  }
}

void NetShard::handoff(Connection& c, int to, std::function<void(Connection&)> on_arrival) {
  assert(c.state_ == Connection::State::kOpen && c.transport_ != Transport::kHttp);
  c.state_ = Connection::State::kHandingOff;
  c.handoff_to_ = to;
  c.on_arrival_ = std::move(on_arrival);
  wheel_.disarm(&c.wheel_);
  // Inside a read callback the move happens once the callback's bytes are saved
  // (process_input); otherwise now, or once an in-flight write completes.
  if (!c.in_process_) complete_handoff(c);
}

void NetShard::complete_handoff(Connection& c) {
  if (c.write_in_flight_) return;  // on_write_done() calls back here
  if (c.reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.tcp_));
    c.reading_ = false;
  }
  uv_os_fd_t fd = -1;
  int dup_fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c.tcp_), &fd) == 0) {
    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  }
  if (dup_fd < 0) {
    log::warn("hand-off of %s failed: cannot duplicate its socket", c.peer_.c_str());
    c.state_ = Connection::State::kOpen;
    c.abort();
    return;
  }
  Carried carried;
  carried.fd = dup_fd;
  carried.transport = c.transport_;
  carried.authenticated = c.authenticated_;
  carried.opened_ms = c.opened_ms_;
  carried.in = std::move(c.in_);
  carried.out = std::move(c.out_);
  carried.ws = std::move(c.ws_);
  carried.ctx = std::move(c.ctx_);
  carried.peer = std::move(c.peer_);
  carried.address_slot = std::exchange(c.address_slot_, -1);  // counted on until the new one goes
  carried.on_arrival = std::move(c.on_arrival_);
  int to = c.handoff_to_;
  ++stats_.handoffs_out;
  c.abort();  // closes our descriptor only; the socket lives on in dup_fd
  shard_.post(to, [carried = std::move(carried)]() mutable {
    NetShard* target = NetShard::current();
    if (target == nullptr) {  // shutting down; the process is about to end
      ::close(carried.fd);
      return;
    }
    target->adopt(std::move(carried));
  });
}

void NetShard::adopt(Carried carried) {
  Connection* c = create(carried.transport);
  c->address_slot_ = carried.address_slot;
  uv_tcp_init(shard_.loop(), &c->tcp_);
  if (uv_tcp_open(&c->tcp_, carried.fd) != 0) {
    ::close(carried.fd);
    c->handler_closed_ = true;
    c->abort();
    return;
  }
  ++stats_.handoffs_in;
  c->authenticated_ = carried.authenticated;
  c->opened_ms_ = carried.opened_ms;
  c->in_ = std::move(carried.in);
  c->out_ = std::move(carried.out);
  c->ws_ = std::move(carried.ws);
  c->ctx_ = std::move(carried.ctx);
  c->peer_ = std::move(carried.peer);
  if (!c->out_.empty()) c->mark_dirty();
  arm(c);
  if (carried.on_arrival) carried.on_arrival(*c);
  if (c->state_ != Connection::State::kOpen) return;
  if (!c->in_.empty()) {
    c->process_input({reinterpret_cast<uint8_t*>(c->in_.data()), c->in_.size()}, true);
  } else {
    c->update_reading();
  }
}

void NetShard::shutdown() {
  shutting_down_ = true;
  for (auto& [l, t] : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(l),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  }
  listeners_.clear();
  for (Connection* c : slots_) {
    if (c == nullptr) continue;
    if (c->state_ == Connection::State::kOpen) {
      c->close(ws_close::kGoingAway, "server shutting down");
    } else if (c->state_ == Connection::State::kClosing && !c->close_after_flush_) {
      c->abort();  // was lingering
    }
  }
  flush_dirty();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&again_), nullptr);
}

}  // namespace parley::net
