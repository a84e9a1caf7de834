#include "driver.h"

#include <charconv>
#include <ctime>

#include "cid.h"
#include "parley/auth/jwt.h"
#include "parley/proto/json_writer.h"

namespace parley::bench {
namespace {

constexpr size_t kMaxInSetup = 256;       // connections connecting or logging in at once, per worker
constexpr size_t kMembersPerRequest = 1000;  // group_create / group_add: keeps frames < 64 KiB

using proto::JsonWriter;

std::string_view error_code(simdjson::ondemand::document& doc) {
  std::string_view code;
  if (doc["code"].get_string().get(code)) return "?";
  return code;
}

}  // namespace

void PendingRing::init(size_t min_capacity) {
  size_t cap = 1;
  while (cap < min_capacity) cap <<= 1;
  slots_.assign(cap, Pending{});
  mask_ = cap - 1;
  head_ = tail_ = 0;
}

BenchDriver::BenchDriver(Shared& shared, int worker_id)
    : sh_(shared),
      opt_(shared.opt),
      ctr_(shared.counters[static_cast<size_t>(worker_id)]),
      worker_id_(worker_id),
      rng_(0x9e3779b9u * static_cast<uint32_t>(worker_id + 1)) {
  if (opt_.rate > 0) rate_ = opt_.rate / opt_.threads;
  if (!opt_.jwt_secret.empty()) jwt_key_.emplace(opt_.jwt_secret);
}

bool BenchDriver::chat() const {
  return opt_.scenario != Scenario::kEcho && opt_.scenario != Scenario::kPing;
}

uint32_t BenchDriver::random() { return xorshift32(rng_); }  // the mix of actions

void BenchDriver::on_start(Worker& w) {
  worker_ = &w;
  uint32_t total = user_count(opt_);
  auto threads = static_cast<uint32_t>(opt_.threads);
  for (uint32_t g = static_cast<uint32_t>(worker_id_); g < total; g += threads) {
    Session s;
    s.user = g;
    s.peer = g ^ 1u;
    s.group = grouped(opt_.scenario) ? g / opt_.members : 0;
    s.pending.init(opt_.window + 2 + opt_.members / kMembersPerRequest + 2);
    if (paired(opt_.scenario)) s.streams.resize(1);
    if (opt_.scenario == Scenario::kGroup) s.streams.resize(opt_.members);
    if (opt_.scenario == Scenario::kMixed) s.streams.resize(1 + opt_.members);
    sessions_.push_back(std::move(s));
  }
  connect_more();
}

void BenchDriver::connect_more() {
  while (in_setup_ < kMaxInSetup && next_connect_ < sessions_.size()) {
    Session& s = sessions_[next_connect_];
    const sockaddr_in* src =
        sh_.sources.empty() ? nullptr : &sh_.sources[s.user % sh_.sources.size()];
    ++in_setup_;
    s.conn = &worker_->connect(static_cast<uint32_t>(next_connect_), sh_.endpoint, src);
    ++next_connect_;
  }
}

// Sessions closed on purpose connect again, as many at once as first connections do.
void BenchDriver::reconnect_some() {
  while (in_setup_ < kMaxInSetup && !reconnect_.empty()) {
    Session& s = sessions_[reconnect_.back()];
    reconnect_.pop_back();
    if (!s.conn->can_reconnect()) continue;
    const sockaddr_in* src =
        sh_.sources.empty() ? nullptr : &sh_.sources[s.user % sh_.sources.size()];
    ++in_setup_;
    s.done = false;
    s.relogin = true;
    worker_->reconnect(*s.conn, sh_.endpoint, src);
  }
}

void BenchDriver::on_open(Conn& c) {
  ctr_.opened.fetch_add(1, std::memory_order_relaxed);
  Session& s = session(c);
  if (!chat()) {
    mark_ready(s);
  } else if (jwt_key_ || s.relogin) {
    send_login(s);
  } else {
    send_register(s);
  }
}

// With a password the user is registered first ("conflict" is fine: it exists), and logs in
// once the register reply is in (older parleyd answered a pipelined login `unauthorized`).
void BenchDriver::send_register(Session& s) {
  Conn& c = *s.conn;
  size_t mark = c.begin_frame();
  JsonWriter(c.out()).begin_object().field("op", "register").field("id", s.next_id++)
      .field("user", std::string_view(sh_.users[s.user]))
      .field("password", std::string_view(opt_.password))
      .end_object();
  c.end_frame(mark);
  s.pending.push({.kind = Pending::Kind::kRegister, .t = now_ns()});
}

// With --jwt-secret, a token minted here (the server creates unknown users: jwt_auto_create).
// A login after a planned close resumes each conversation after the last seq this session saw
// (`after`), so nothing arrives twice; a session that saw nothing starts at its device cursor.
void BenchDriver::send_login(Session& s) {
  Conn& c = *s.conn;
  const std::string& name = sh_.users[s.user];
  size_t mark = c.begin_frame();
  JsonWriter w(c.out());
  w.begin_object().field("op", "login").field("id", s.next_id++).field("device", "bench");
  if (jwt_key_) {
    auto now = static_cast<int64_t>(std::time(nullptr));
    w.field("token", std::string_view(auth::jwt_sign(*jwt_key_, name, now, now + 86400)));
  } else {
    w.field("user", std::string_view(name)).field("password", std::string_view(opt_.password));
  }
  if (s.relogin && (s.seq.last() > 0 || s.gseq.last() > 0)) {
    w.key("after").begin_object();
    std::string key;
    if (opt_.scenario == Scenario::kGroup) {
      key = "#" + sh_.groups[s.group];
      w.field(key, s.seq.last());
    } else {
      if (s.seq.last() > 0) w.field(sh_.users[s.peer], s.seq.last());
      if (s.gseq.last() > 0) {
        key = "#" + sh_.groups[s.group];
        w.field(key, s.gseq.last());
      }
    }
    w.end_object();
  }
  w.end_object();
  c.end_frame(mark);
  s.pending.push({.kind = Pending::Kind::kLogin, .t = now_ns()});
}

void BenchDriver::send_group_setup(Session& s) {
  Conn& c = *s.conn;
  uint32_t first = s.group * opt_.members;
  for (uint32_t from = 1; from < opt_.members; from += kMembersPerRequest) {
    size_t mark = c.begin_frame();
    JsonWriter w(c.out());
    w.begin_object()
        .field("op", from == 1 ? "group_create" : "group_add")
        .field("id", s.next_id++)
        .field("group", std::string_view(sh_.groups[s.group]))
        .key("members")
        .begin_array();
    for (uint32_t m = from; m < opt_.members && m < from + kMembersPerRequest; ++m) {
      w.value(std::string_view(sh_.users[first + m]));
    }
    w.end_array().end_object();
    c.end_frame(mark);
    s.pending.push({.kind = Pending::Kind::kGroupSetup, .t = now_ns()});
    ++s.setup_pending;
  }
}

void BenchDriver::mark_ready(Session& s) {
  s.ready = true;
  if (s.relogin) {
    ctr_.reconnects.fetch_add(1, std::memory_order_relaxed);
  } else {
    ctr_.ready.fetch_add(1, std::memory_order_relaxed);
  }
  --in_setup_;
  connect_more();
  reconnect_some();
  fill_window(s);
}

void BenchDriver::fail(Session& s, std::string_view why) {
  sh_.note_error(why);
  s.conn->close(why);
}

// Closes a logged-in session on purpose; on_closed queues it to connect again (unless it is an
// offline receiver, which waits for the sync phase).
void BenchDriver::close_planned(Session& s, std::string_view why) {
  if (!s.ready || !s.conn->is_open()) return;
  s.planned_close = true;
  ctr_.planned_closes.fetch_add(1, std::memory_order_relaxed);
  s.conn->close(why);
}

void BenchDriver::record_reply(const Pending& p, uint64_t now) {
  ctr_.replied.fetch_add(1, std::memory_order_relaxed);
  if (sh_.measured(p.t)) reply_latency_.record(now > p.t ? now - p.t : 0);
}

void BenchDriver::on_frame(Conn& c, std::span<const uint8_t> payload) {
  Session& s = session(c);
  if (opt_.scenario == Scenario::kEcho) {
    if (s.pending.empty()) return fail(s, "echo: a frame nobody sent");
    Pending p = s.pending.pop();
    if (payload.size() != sh_.filler.size()) return fail(s, "echo: frame of the wrong size");
    record_reply(p, now_ns());
    return fill_window(s);
  }
  on_chat_frame(s, payload);
}

void BenchDriver::on_chat_frame(Session& s, std::span<const uint8_t> payload) {
  simdjson::padded_string_view view(reinterpret_cast<const char*>(payload.data()), payload.size(),
                                    payload.size() + kReadPadding);
  simdjson::ondemand::document doc;
  std::string_view op;
  if (parser_.iterate(view).get(doc) || doc["op"].get_string().get(op)) {
    return fail(s, "a server frame that is not a JSON object with an op");
  }
  if (op == "msg") return on_msg(s, doc);
  if (op == "ok") return on_reply(s, true, doc);
  if (op == "error") return on_reply(s, false, doc);
  if (op == "pong") {
    if (s.pending.empty()) return fail(s, "pong without ping");
    Pending p = s.pending.pop();
    if (p.kind == Pending::Kind::kOther) {
      ctr_.requests.fetch_add(1, std::memory_order_relaxed);
    } else {
      record_reply(p, now_ns());
    }
    return fill_window(s);
  }
  if (op == "kicked") return fail(s, "kicked by the server");
  // receipt, presence, typing, friend_*: not part of these scenarios' accounting.
}

void BenchDriver::on_reply(Session& s, bool ok, simdjson::ondemand::document& doc) {
  if (!ok) {
    // Every request the harness awaits carries an id; an error without one answers an ack,
    // read or typing sent without an id, and has no place in the FIFO.
    simdjson::ondemand::value id;
    if (doc["id"].get(id)) {
      ctr_.errors.fetch_add(1, std::memory_order_relaxed);
      sh_.note_error("an error reply without an id: " + std::string(error_code(doc)));
      return;
    }
  }
  if (s.pending.empty()) return fail(s, "a reply without a request");
  Pending p = s.pending.pop();
  switch (p.kind) {
    case Pending::Kind::kRegister:
      if (!ok && error_code(doc) != "conflict") {
        return fail(s, "register: " + std::string(error_code(doc)));
      }
      return send_login(s);
    case Pending::Kind::kLogin:
      if (!ok) return fail(s, "login: " + std::string(error_code(doc)));
      return mark_ready(s);
    case Pending::Kind::kGroupSetup:
      if (!ok) return fail(s, "group setup: " + std::string(error_code(doc)));
      if (--s.setup_pending == 0) ctr_.groups_ready.fetch_add(1, std::memory_order_relaxed);
      return;
    case Pending::Kind::kSend:
      return on_send_reply(s, p, ok, doc);
    case Pending::Kind::kOther:
      if (ok) {
        ctr_.requests.fetch_add(1, std::memory_order_relaxed);
      } else {
        ctr_.errors.fetch_add(1, std::memory_order_relaxed);
        sh_.note_error("request: " + std::string(error_code(doc)));
      }
      return fill_window(s);
    case Pending::Kind::kPing:
    case Pending::Kind::kEcho:
      return fail(s, "unexpected reply");
  }
}

void BenchDriver::on_send_reply(Session& s, const Pending& p, bool ok,
                                simdjson::ondemand::document& doc) {
  if (ok) {
    uint64_t& confirmed = p.group ? s.gconfirmed : s.confirmed;
    if (p.n != confirmed) sh_.note_error("a send confirmed out of order");
    confirmed = p.n + 1;
    uint64_t fanout = p.group || opt_.scenario == Scenario::kGroup ? opt_.members - 1 : 1;
    ctr_.expected.fetch_add(fanout, std::memory_order_relaxed);
    record_reply(p, now_ns());
  } else {
    std::string_view code = error_code(doc);
    ctr_.errors.fetch_add(1, std::memory_order_relaxed);
    if (code == "rate_limited") ctr_.rate_limited.fetch_add(1, std::memory_order_relaxed);
    sh_.note_error("send: " + std::string(code));
  }
  fill_window(s);
}

void BenchDriver::on_msg(Session& s, simdjson::ondemand::document& doc) {
  bool in_group = opt_.scenario == Scenario::kGroup;
  if (opt_.scenario == Scenario::kMixed) {
    simdjson::ondemand::value g;
    in_group = !doc["group"].get(g);
  }
  uint64_t seq = 0;
  if (doc["seq"].get_uint64().get(seq)) return fail(s, "msg without seq");
  SeqVerifier& sv = opt_.scenario == Scenario::kMixed && in_group ? s.gseq : s.seq;
  if (!sv.on_seq(seq)) {
    ctr_.anomalies.fetch_add(1, std::memory_order_relaxed);
    sh_.note_error("seq did not increase within a conversation");
  }
  std::string_view cid;
  uint64_t sender = 0, n = 0, t = 0;
  bool ours = !doc["cid"].get_string().get(cid) && parse_cid(cid, sender, n, t);
  // A resumed login may replay this user's own messages (sent from an earlier connection of
  // this device): they belong to no stream.
  if (ours && sender != s.user) {
    StreamVerifier* stream = nullptr;
    bool own_group = sender / opt_.members == s.group;
    switch (opt_.scenario) {
      case Scenario::kGroup:
        if (own_group) stream = &s.streams[sender % opt_.members];
        break;
      case Scenario::kMixed:
        if (in_group && own_group) stream = &s.streams[1 + sender % opt_.members];
        if (!in_group && sender == s.peer) stream = &s.streams[0];
        break;
      default:
        if (sender == s.peer) stream = &s.streams[0];
        break;
    }
    if (stream == nullptr) {
      ++s.unexpected;
      sh_.note_error("a message from an unexpected sender");
    } else {
      Anomaly a = stream->on_message(n);
      if (a != Anomaly::kNone) ctr_.anomalies.fetch_add(1, std::memory_order_relaxed);
      if (a == Anomaly::kDuplicate) sh_.note_error("duplicate delivery");
      if (a == Anomaly::kReorder) sh_.note_error("reordered delivery");
      ctr_.delivered.fetch_add(1, std::memory_order_relaxed);
      if (sh_.measured(t) && opt_.scenario != Scenario::kOffline) {
        uint64_t now = now_ns();
        uint64_t d = now > t ? now - t : 0;
        deliver_latency_.record(d);
        if (opt_.scenario == Scenario::kMixed) interval_deliver_.record(d);
      }
    }
  }
  // System messages (group create/add) carry no bench cid; they are acked like the rest.
  bool mixed_group = opt_.scenario == Scenario::kMixed && in_group;
  uint32_t& since = mixed_group ? s.gsince_ack : s.since_ack;
  if (++since < opt_.ack_every) return;
  since = 0;
  ack(s, in_group, seq);
}

void BenchDriver::ack(Session& s, bool group, uint64_t seq) {
  Conn& c = *s.conn;
  size_t mark = c.begin_frame();
  JsonWriter w(c.out());
  w.begin_object().field("op", "ack");
  if (group) {
    w.field("group", std::string_view(sh_.groups[s.group]));
  } else {
    w.field("peer", std::string_view(sh_.users[s.peer]));
  }
  w.field("seq", seq).end_object();
  c.end_frame(mark);
}

void BenchDriver::on_closed(Conn& c, std::string_view why) {
  Session& s = session(c);
  bool was_ready = s.ready;
  s.done = true;
  s.ready = false;
  // Sends left unanswered are retried with the same cid after the next login (dedupe makes a
  // retry of a stored message return its first reply); other requests are dropped.
  while (!s.pending.empty()) {
    Pending p = s.pending.pop();
    if (p.kind == Pending::Kind::kSend) s.resend.push_back(p);
  }
  s.since_ack = s.gsince_ack = 0;
  if (sh_.current() == Phase::kDone) return;  // the end of the run
  if (s.planned_close) {
    s.planned_close = false;
    if (!s.offline) reconnect_.push_back(c.index());
    return;
  }
  ctr_.failed.fetch_add(1, std::memory_order_relaxed);
  sh_.note_error(why);
  if (!was_ready) {
    --in_setup_;
    connect_more();
  }
}

}  // namespace parley::bench
