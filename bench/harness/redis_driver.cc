#include "redis_driver.h"

#ifdef PARLEY_BENCH_HIREDIS

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <string>
#include <utility>

#include "cid.h"

namespace parley::bench {
namespace {

// One user's two Redis connections. Owned by the driver, in a vector sized once (hiredis keeps
// pointers to it as callback data).
struct RedisUser {
  class RedisDriver* driver = nullptr;
  uint32_t local = 0;                // index into the driver's sessions
  redisAsyncContext* sub = nullptr;  // subscribed to `listen`; null once hiredis freed it
  redisAsyncContext* pub = nullptr;  // PUBLISHes to `speak`
  bool subscribed = false;
  bool pub_connected = false;
  std::string listen;  // own channel (p2p) or the group's
  std::string speak;   // the partner's channel (p2p) or the group's
};

class RedisDriver final : public MeasuringDriver {
 public:
  RedisDriver(Shared& shared, int worker_id)
      : sh_(shared),
        opt_(shared.opt),
        ctr_(shared.counters[static_cast<size_t>(worker_id)]),
        worker_id_(worker_id) {}

  void on_start(Worker& w) override;
  void on_open(Conn&) override {}
  void on_frame(Conn&, std::span<const uint8_t>) override {}
  void on_closed(Conn&, std::string_view) override {}
  void on_tick(uint64_t now) override;
  void on_stop() override;

  const Histogram& reply_latency() const override { return reply_latency_; }
  const Histogram& deliver_latency() const override { return deliver_latency_; }
  const std::vector<Session>& sessions() const override { return sessions_; }

  // hiredis callbacks, on this worker's thread.
  void on_connect(RedisUser& u, bool is_pub, int status);
  void on_disconnect(RedisUser& u, bool is_pub, int status);
  void on_subscription(RedisUser& u, redisReply* reply);
  void on_publish_reply(RedisUser& u, redisReply* reply);

 private:
  redisAsyncContext* open(RedisUser& u, bool is_pub);
  void maybe_ready(RedisUser& u);
  void fill_window(RedisUser& u);
  void lost(RedisUser& u, std::string_view why);
  std::string channel(std::string_view name) const { return opt_.prefix + "ch:" + std::string(name); }

  Shared& sh_;
  const Options& opt_;
  Counters& ctr_;
  int worker_id_;
  Worker* worker_ = nullptr;
  bool stopping_ = false;
  uint64_t start_ns_ = 0;
  Phase seen_phase_ = Phase::kSetup;
  std::vector<Session> sessions_;
  std::vector<RedisUser> users_;  // parallel to sessions_
  std::string payload_;           // scratch: cid '|' filler
  Histogram reply_latency_;
  Histogram deliver_latency_;
};

void connect_cb(const redisAsyncContext* ac, int status) {
  auto* u = static_cast<RedisUser*>(ac->data);
  u->driver->on_connect(*u, ac == u->pub, status);
}

void disconnect_cb(const redisAsyncContext* ac, int status) {
  auto* u = static_cast<RedisUser*>(ac->data);
  u->driver->on_disconnect(*u, ac == u->pub, status);
}

void subscription_cb(redisAsyncContext*, void* reply, void* data) {
  auto* u = static_cast<RedisUser*>(data);
  if (reply != nullptr) u->driver->on_subscription(*u, static_cast<redisReply*>(reply));
}

void publish_cb(redisAsyncContext*, void* reply, void* data) {
  auto* u = static_cast<RedisUser*>(data);
  if (reply != nullptr) u->driver->on_publish_reply(*u, static_cast<redisReply*>(reply));
}

// hiredis 0.14's libuv adapter ignores a poll error (libuv reports a refused connect as one),
// so an asynchronous connect to a port where nothing listens would wait forever: one blocking
// connect first tells whether the server is there at all, and on_tick gives up on connections
// still not up after kConnectDeadlineNs.
constexpr uint64_t kConnectDeadlineNs = 30'000'000'000;

bool redis_reachable(const Options& o, std::string& error) {
  timeval timeout{2, 0};
  redisContext* c = redisConnectWithTimeout(o.redis_host.c_str(), o.redis_port, timeout);
  bool ok = c != nullptr && c->err == 0;
  if (!ok) error = c != nullptr ? c->errstr : "out of memory";
  if (c != nullptr) redisFree(c);
  return ok;
}

void RedisDriver::on_start(Worker& w) {
  worker_ = &w;
  start_ns_ = now_ns();
  uint32_t total = user_count(opt_);
  auto threads = static_cast<uint32_t>(opt_.threads);
  for (uint32_t g = static_cast<uint32_t>(worker_id_); g < total; g += threads) {
    Session s;
    s.user = g;
    s.peer = g ^ 1u;
    s.group = opt_.scenario == Scenario::kGroup ? g / opt_.members : 0;
    s.pending.init(opt_.window + 1);
    s.streams.resize(opt_.scenario == Scenario::kGroup ? opt_.members : 1);
    sessions_.push_back(std::move(s));
  }
  users_.resize(sessions_.size());
  std::string error;
  if (!redis_reachable(opt_, error)) {
    for (RedisUser& u : users_) {
      u.driver = this;
      u.local = static_cast<uint32_t>(&u - users_.data());
      lost(u, "redis: " + error);
    }
    return;
  }
  for (size_t i = 0; i < sessions_.size(); ++i) {
    RedisUser& u = users_[i];
    const Session& s = sessions_[i];
    u.driver = this;
    u.local = static_cast<uint32_t>(i);
    if (opt_.scenario == Scenario::kGroup) {
      u.listen = u.speak = channel(sh_.groups[s.group]);
    } else {
      u.listen = channel(sh_.users[s.user]);
      u.speak = channel(sh_.users[s.peer]);
    }
    u.sub = open(u, false);
    u.pub = open(u, true);
    if (u.sub == nullptr || u.pub == nullptr) lost(u, "redis: cannot connect");
  }
}

redisAsyncContext* RedisDriver::open(RedisUser& u, bool is_pub) {
  redisAsyncContext* ac = redisAsyncConnect(opt_.redis_host.c_str(), opt_.redis_port);
  if (ac == nullptr) return nullptr;
  if (ac->err != 0) {
    sh_.note_error(std::string("redis: ") + ac->errstr);
    redisAsyncFree(ac);
    return nullptr;
  }
  ac->data = &u;
  redisLibuvAttach(ac, worker_->loop());
  redisAsyncSetConnectCallback(ac, connect_cb);
  redisAsyncSetDisconnectCallback(ac, disconnect_cb);
  if (!is_pub) {
    redisAsyncCommand(ac, subscription_cb, &u, "SUBSCRIBE %b", u.listen.data(), u.listen.size());
  }
  return ac;
}

void RedisDriver::on_connect(RedisUser& u, bool is_pub, int status) {
  if (status != REDIS_OK) {
    // hiredis frees a context whose connect failed once this callback returns.
    (is_pub ? u.pub : u.sub) = nullptr;
    return lost(u, "redis: connect failed");
  }
  ctr_.opened.fetch_add(1, std::memory_order_relaxed);
  if (is_pub) {
    u.pub_connected = true;
    maybe_ready(u);
  }
}

void RedisDriver::on_disconnect(RedisUser& u, bool is_pub, int) {
  (is_pub ? u.pub : u.sub) = nullptr;  // hiredis frees it after this callback
  if (!stopping_) lost(u, "redis: connection lost");
}

void RedisDriver::lost(RedisUser& u, std::string_view why) {
  Session& s = sessions_[u.local];
  if (s.done) return;
  s.done = true;
  sh_.note_error(why);
  if (sh_.current() != Phase::kDone) ctr_.failed.fetch_add(1, std::memory_order_relaxed);
}

void RedisDriver::maybe_ready(RedisUser& u) {
  Session& s = sessions_[u.local];
  if (s.ready || !u.subscribed || !u.pub_connected) return;
  s.ready = true;
  ctr_.ready.fetch_add(1, std::memory_order_relaxed);
  fill_window(u);
}

// A subscription reply: ["subscribe", channel, count] once, then ["message", channel, payload].
void RedisDriver::on_subscription(RedisUser& u, redisReply* reply) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return;
  std::string_view kind(reply->element[0]->str, reply->element[0]->len);
  if (kind == "subscribe") {
    u.subscribed = true;
    return maybe_ready(u);
  }
  if (kind != "message") return;
  Session& s = sessions_[u.local];
  std::string_view body(reply->element[2]->str, reply->element[2]->len);
  std::string_view cid = body.substr(0, body.find('|'));
  uint64_t sender = 0, n = 0, t = 0;
  if (!parse_cid(cid, sender, n, t)) {
    ++s.unexpected;
    return sh_.note_error("redis: a message that is not the bench's");
  }
  if (sender == s.user) return;  // a group publisher hears itself
  StreamVerifier* stream = nullptr;
  if (opt_.scenario == Scenario::kGroup && sender / opt_.members == s.group) {
    stream = &s.streams[sender % opt_.members];
  } else if (opt_.scenario == Scenario::kP2p && sender == s.peer) {
    stream = &s.streams[0];
  }
  if (stream == nullptr) {
    ++s.unexpected;
    return sh_.note_error("a message from an unexpected sender");
  }
  Anomaly a = stream->on_message(n);
  if (a != Anomaly::kNone) ctr_.anomalies.fetch_add(1, std::memory_order_relaxed);
  if (a == Anomaly::kDuplicate) sh_.note_error("duplicate delivery");
  if (a == Anomaly::kReorder) sh_.note_error("reordered delivery");
  ctr_.delivered.fetch_add(1, std::memory_order_relaxed);
  if (sh_.measured(t)) {
    uint64_t now = now_ns();
    deliver_latency_.record(now > t ? now - t : 0);
  }
}

void RedisDriver::on_publish_reply(RedisUser& u, redisReply* reply) {
  Session& s = sessions_[u.local];
  if (s.pending.empty()) return sh_.note_error("redis: a reply without a PUBLISH");
  Pending p = s.pending.pop();
  if (reply->type != REDIS_REPLY_INTEGER) {
    ctr_.errors.fetch_add(1, std::memory_order_relaxed);
    sh_.note_error("redis: PUBLISH answered with an error");
  } else {
    s.confirmed = p.n + 1;
    ctr_.expected.fetch_add(sh_.fanout, std::memory_order_relaxed);
    ctr_.replied.fetch_add(1, std::memory_order_relaxed);
    uint64_t now = now_ns();
    if (sh_.measured(p.t)) reply_latency_.record(now > p.t ? now - p.t : 0);
  }
  fill_window(u);
}

void RedisDriver::fill_window(RedisUser& u) {
  Session& s = sessions_[u.local];
  if (!s.ready || s.done || u.pub == nullptr || !sh_.sending()) return;
  uint64_t now = 0;
  while (s.pending.size() < opt_.window) {
    if (now == 0) now = now_ns();
    char cid[kMaxCid];
    size_t len = format_cid(cid, false, s.user, s.sent, now);
    payload_.assign(cid, len);
    payload_ += '|';
    payload_ += sh_.filler;
    redisAsyncCommand(u.pub, publish_cb, &u, "PUBLISH %b %b", u.speak.data(), u.speak.size(),
                      payload_.data(), payload_.size());
    s.pending.push({.kind = Pending::Kind::kSend, .n = s.sent, .t = now});
    ++s.sent;
    ctr_.sent.fetch_add(1, std::memory_order_relaxed);
  }
}

void RedisDriver::on_tick(uint64_t now) {
  if (sh_.current() == Phase::kSetup && now - start_ns_ > kConnectDeadlineNs) {
    for (RedisUser& u : users_) {
      if (!sessions_[u.local].ready) lost(u, "redis: not connected in time");
    }
  }
  Phase p = sh_.current();
  if (p == seen_phase_) return;
  seen_phase_ = p;
  if (p == Phase::kGroups) {  // channels need no creating: the owners report at once
    for (const Session& s : sessions_) {
      if (s.user % opt_.members == 0) ctr_.groups_ready.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (p == Phase::kWarmup || p == Phase::kMeasure) {  // (a worker may sleep through warmup)
    for (RedisUser& u : users_) fill_window(u);
  }
}

void RedisDriver::on_stop() {
  stopping_ = true;
  for (RedisUser& u : users_) {
    // Frees the context (pending callbacks get a null reply) and closes its uv handle.
    if (u.sub != nullptr) redisAsyncFree(std::exchange(u.sub, nullptr));
    if (u.pub != nullptr) redisAsyncFree(std::exchange(u.pub, nullptr));
  }
}

}  // namespace

std::unique_ptr<MeasuringDriver> make_redis_driver(Shared& shared, int worker_id) {
  return std::make_unique<RedisDriver>(shared, worker_id);
}

}  // namespace parley::bench

#else  // built without hiredis

namespace parley::bench {

std::unique_ptr<MeasuringDriver> make_redis_driver(Shared&, int) { return nullptr; }

}  // namespace parley::bench

#endif
