#include "driver.h"

#include <charconv>
#include <ctime>

#include "parley/auth/jwt.h"
#include "parley/proto/json_writer.h"

namespace parley::bench {
namespace {

constexpr size_t kMaxInSetup = 256;       // connections connecting or logging in at once, per worker
constexpr size_t kMembersPerRequest = 1000;  // group_create / group_add: keeps frames < 64 KiB

using proto::JsonWriter;

// "S:N:T" (sender, its message number, send time): the cid of every bench message.
size_t format_cid(char* out, uint32_t sender, uint64_t n, uint64_t t) {
  char* p = out;
  p = std::to_chars(p, out + 24, sender).ptr;
  *p++ = ':';
  p = std::to_chars(p, out + 46, n).ptr;
  *p++ = ':';
  p = std::to_chars(p, out + 68, t).ptr;
  return static_cast<size_t>(p - out);
}

bool parse_cid(std::string_view cid, uint64_t& sender, uint64_t& n, uint64_t& t) {
  const char* p = cid.data();
  const char* end = p + cid.size();
  auto r = std::from_chars(p, end, sender);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ':') return false;
  r = std::from_chars(r.ptr + 1, end, n);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ':') return false;
  r = std::from_chars(r.ptr + 1, end, t);
  return r.ec == std::errc() && r.ptr == end;
}

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
      worker_id_(worker_id) {
  if (opt_.rate > 0) rate_ = opt_.rate / opt_.threads;
  if (!opt_.jwt_secret.empty()) jwt_key_.emplace(opt_.jwt_secret);
}

bool BenchDriver::chat() const {
  return opt_.scenario != Scenario::kEcho && opt_.scenario != Scenario::kPing;
}

void BenchDriver::on_start(Worker& w) {
  worker_ = &w;
  uint32_t total = opt_.scenario == Scenario::kGroup ? opt_.groups * opt_.members : opt_.conns;
  auto threads = static_cast<uint32_t>(opt_.threads);
  for (uint32_t g = static_cast<uint32_t>(worker_id_); g < total; g += threads) {
    Session s;
    s.user = g;
    s.peer = g ^ 1u;
    s.group = opt_.scenario == Scenario::kGroup ? g / opt_.members : 0;
    s.pending.init(opt_.window + 2 + opt_.members / kMembersPerRequest + 2);
    if (opt_.scenario == Scenario::kP2p) s.streams.resize(1);
    if (opt_.scenario == Scenario::kGroup) s.streams.resize(opt_.members);
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

void BenchDriver::on_open(Conn& c) {
  ctr_.opened.fetch_add(1, std::memory_order_relaxed);
  Session& s = session(c);
  if (!chat()) {
    mark_ready(s);
  } else if (jwt_key_) {
    send_login(s);
  } else {
    send_register(s);
  }
}

// With a password the user is registered first ("conflict" is fine: it exists), and logs in
// once the register reply is in: parleyd answers a login pipelined behind a register with
// `unauthorized` (docs/BENCHMARKS.md, "parley-bench", server issues seen).
void BenchDriver::send_register(Session& s) {
  Conn& c = *s.conn;
  size_t mark = c.begin_frame();
  JsonWriter(c.out()).begin_object().field("op", "register").field("id", s.next_id++)
      .field("user", std::string_view(sh_.users[s.user]))
      .field("password", std::string_view(opt_.password))
      .end_object();
  c.end_frame(mark);
  s.pending.push({Pending::Kind::kRegister, now_ns()});
}

// With --jwt-secret, a token minted here (the server creates unknown users: jwt_auto_create).
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
  w.end_object();
  c.end_frame(mark);
  s.pending.push({Pending::Kind::kLogin, now_ns()});
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
    s.pending.push({Pending::Kind::kGroupSetup, now_ns()});
    ++s.setup_pending;
  }
}

void BenchDriver::mark_ready(Session& s) {
  s.ready = true;
  ctr_.ready.fetch_add(1, std::memory_order_relaxed);
  --in_setup_;
  connect_more();
  fill_window(s);
}

void BenchDriver::fail(Session& s, std::string_view why) {
  sh_.note_error(why);
  s.conn->close(why);
}

void BenchDriver::fill_window(Session& s) {
  if (!s.ready || rate_ > 0 || !sh_.sending()) return;
  if (opt_.scenario == Scenario::kIdle) return;
  uint64_t now = 0;
  while (s.pending.size() < opt_.window && s.conn->is_open()) {
    if (now == 0) now = now_ns();
    send_one(s, now);
  }
}

void BenchDriver::send_one(Session& s, uint64_t t) {
  Conn& c = *s.conn;
  switch (opt_.scenario) {
    case Scenario::kEcho:
      c.send_frame(sh_.filler);
      s.pending.push({Pending::Kind::kEcho, t});
      break;
    case Scenario::kPing: {
      size_t mark = c.begin_frame();
      JsonWriter(c.out()).begin_object().field("op", "ping").field("id", s.next_id++).end_object();
      c.end_frame(mark);
      s.pending.push({Pending::Kind::kPing, t});
      break;
    }
    case Scenario::kP2p:
    case Scenario::kGroup: {
      char cid[72];
      size_t cid_len = format_cid(cid, s.user, s.sent, t);
      size_t mark = c.begin_frame();
      JsonWriter w(c.out());
      w.begin_object().field("op", "send").field("id", s.next_id++);
      if (opt_.scenario == Scenario::kP2p) {
        w.field("to", std::string_view(sh_.users[s.peer]));
      } else {
        w.field("group", std::string_view(sh_.groups[s.group]));
      }
      w.field("cid", std::string_view(cid, cid_len)).field("body", std::string_view(sh_.filler));
      w.end_object();
      c.end_frame(mark);
      s.pending.push({Pending::Kind::kSend, t});
      break;
    }
    case Scenario::kIdle:
      return;
  }
  ++s.sent;
  ctr_.sent.fetch_add(1, std::memory_order_relaxed);
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
    record_reply(s.pending.pop(), now_ns());
    return fill_window(s);
  }
  if (op == "kicked") return fail(s, "kicked by the server");
  // receipt, presence, typing, friend_*: not part of these scenarios' accounting.
}

void BenchDriver::on_reply(Session& s, bool ok, simdjson::ondemand::document& doc) {
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
      if (ok) {
        ++s.confirmed;
        record_reply(p, now_ns());
      } else {
        std::string_view code = error_code(doc);
        ctr_.errors.fetch_add(1, std::memory_order_relaxed);
        if (code == "rate_limited") ctr_.rate_limited.fetch_add(1, std::memory_order_relaxed);
        sh_.note_error("send: " + std::string(code));
      }
      return fill_window(s);
    case Pending::Kind::kPing:
    case Pending::Kind::kEcho:
      return fail(s, "unexpected reply");
  }
}

void BenchDriver::on_msg(Session& s, simdjson::ondemand::document& doc) {
  uint64_t seq = 0;
  if (doc["seq"].get_uint64().get(seq)) return fail(s, "msg without seq");
  if (!s.seq.on_seq(seq)) sh_.note_error("seq did not increase within a conversation");
  std::string_view cid;
  uint64_t sender = 0, n = 0, t = 0;
  bool ours = !doc["cid"].get_string().get(cid) && parse_cid(cid, sender, n, t);
  if (ours) {
    StreamVerifier* stream = nullptr;
    if (opt_.scenario == Scenario::kP2p && sender == s.peer) {
      stream = &s.streams[0];
    } else if (opt_.scenario == Scenario::kGroup && sender / opt_.members == s.group) {
      stream = &s.streams[sender % opt_.members];
    }
    if (stream == nullptr) {
      ++s.unexpected;
      sh_.note_error("a message from an unexpected sender");
    } else {
      Anomaly a = stream->on_message(n);
      if (a == Anomaly::kDuplicate) sh_.note_error("duplicate delivery");
      if (a == Anomaly::kReorder) sh_.note_error("reordered delivery");
      ctr_.delivered.fetch_add(1, std::memory_order_relaxed);
      if (sh_.measured(t)) {
        uint64_t now = now_ns();
        deliver_latency_.record(now > t ? now - t : 0);
      }
    }
  }
  // System messages (group create/add) carry no bench cid; they are acked like the rest.
  if (++s.since_ack < opt_.ack_every) return;
  s.since_ack = 0;
  Conn& c = *s.conn;
  size_t mark = c.begin_frame();
  JsonWriter w(c.out());
  w.begin_object().field("op", "ack");
  if (opt_.scenario == Scenario::kGroup) {
    w.field("group", std::string_view(sh_.groups[s.group]));
  } else {
    w.field("peer", std::string_view(sh_.users[s.peer]));
  }
  w.field("seq", seq).end_object();
  c.end_frame(mark);
}

void BenchDriver::on_closed(Conn& c, std::string_view why) {
  Session& s = session(c);
  s.done = true;
  if (sh_.current() == Phase::kDone) return;  // the end of the run
  ctr_.failed.fetch_add(1, std::memory_order_relaxed);
  sh_.note_error(why);
  if (!s.ready) {
    --in_setup_;
    connect_more();
  }
}

void BenchDriver::on_tick(uint64_t now) {
  Phase p = sh_.current();
  if (p != seen_phase_) {
    seen_phase_ = p;
    if (p == Phase::kGroups && opt_.scenario == Scenario::kGroup) {
      for (Session& s : sessions_) {
        if (s.user % opt_.members == 0 && s.ready && s.conn->is_open()) send_group_setup(s);
      }
    }
    if (p == Phase::kWarmup) {
      for (Session& s : sessions_) fill_window(s);
    }
  }
  if (rate_ <= 0 || !sh_.sending() || sessions_.empty()) return;
  uint64_t start = sh_.run_start_ns.load(std::memory_order_relaxed);
  if (now <= start) return;
  double interval = 1e9 / rate_;
  auto due = static_cast<uint64_t>(static_cast<double>(now - start) / interval);
  while (issued_ < due) {
    Session* pick = nullptr;
    for (size_t tries = 0; tries < sessions_.size(); ++tries) {
      Session& s = sessions_[rr_];
      rr_ = (rr_ + 1) % sessions_.size();
      if (s.ready && s.conn->is_open() && s.pending.size() < opt_.window) {
        pick = &s;
        break;
      }
    }
    if (pick == nullptr) break;  // every window is full: the rest waits (latency grows)
    send_one(*pick, start + static_cast<uint64_t>(static_cast<double>(issued_) * interval));
    ++issued_;
  }
}

}  // namespace parley::bench
