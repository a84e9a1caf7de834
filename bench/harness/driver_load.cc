// BenchDriver, the sending side: what each scenario sends when (closed loop: a window per
// connection; open loop: --rate), mixed's blend of actions and its churn, and the phase changes
// that close or reopen connections (offline, storm).
#include <mutex>

#include "cid.h"
#include "driver.h"
#include "parley/proto/json_writer.h"

namespace parley::bench {

using proto::JsonWriter;

// Whether `s` may start a new request now (retries of unanswered sends aside).
bool BenchDriver::may_send(const Session& s) const {
  if (!s.ready || !s.conn->is_open() || !sh_.sending()) return false;
  switch (opt_.scenario) {
    case Scenario::kIdle:
      return false;
    case Scenario::kOffline:  // the even users send their backlog to the odd ones, once
      return sh_.current() == Phase::kPreload && s.user % 2 == 0 && s.sent < opt_.messages;
    default:
      return true;
  }
}

void BenchDriver::fill_window(Session& s) {
  if (!s.ready || !s.conn->is_open()) return;
  if (!s.resend.empty()) {
    // After a reconnect: the sends the last connection left unanswered go first, in order.
    for (const Pending& p : s.resend) send_message(s, p.group, p.n, p.t);
    s.resend.clear();
  }
  if (rate_ > 0) return;
  uint64_t now = 0;
  while (s.pending.size() < opt_.window && may_send(s)) {
    if (now == 0) now = now_ns();
    send_one(s, now);
  }
}

void BenchDriver::send_one(Session& s, uint64_t t) {
  Conn& c = *s.conn;
  switch (opt_.scenario) {
    case Scenario::kEcho:
      c.send_frame(sh_.filler);
      s.pending.push({.kind = Pending::Kind::kEcho, .t = t});
      break;
    case Scenario::kPing: {
      size_t mark = c.begin_frame();
      JsonWriter(c.out()).begin_object().field("op", "ping").field("id", s.next_id++).end_object();
      c.end_frame(mark);
      s.pending.push({.kind = Pending::Kind::kPing, .t = t});
      break;
    }
    case Scenario::kMixed:
      return mixed_action(s, t);
    case Scenario::kIdle:
      return;
    default:  // p2p, group, offline, storm
      send_message(s, false, s.sent++, t);
      ctr_.sent.fetch_add(1, std::memory_order_relaxed);
      return;
  }
  ctr_.sent.fetch_add(1, std::memory_order_relaxed);
}

// One bench message: to the partner, or to the group (group scenario; mixed when `group`).
void BenchDriver::send_message(Session& s, bool group, uint64_t n, uint64_t t) {
  Conn& c = *s.conn;
  bool to_group = group || opt_.scenario == Scenario::kGroup;
  char cid[kMaxCid];
  size_t cid_len = format_cid(cid, group, s.user, n, t);
  size_t mark = c.begin_frame();
  JsonWriter w(c.out());
  w.begin_object().field("op", "send").field("id", s.next_id++);
  if (to_group) {
    w.field("group", std::string_view(sh_.groups[s.group]));
  } else {
    w.field("to", std::string_view(sh_.users[s.peer]));
  }
  w.field("cid", std::string_view(cid, cid_len)).field("body", std::string_view(sh_.filler));
  w.end_object();
  c.end_frame(mark);
  s.pending.push({.kind = Pending::Kind::kSend, .group = group, .n = n, .t = t});
}

// A request other than a send that gets a reply (kOther); the caller adds the fields.
void BenchDriver::send_request(Session& s, std::string_view op) {
  Conn& c = *s.conn;
  size_t mark = c.begin_frame();
  JsonWriter w(c.out());
  w.begin_object().field("op", op).field("id", s.next_id++);
  const std::string& peer = sh_.users[s.peer];
  if (op == "read") {
    w.field("peer", std::string_view(peer)).field("seq", s.seq.last());
  } else if (op == "watch") {
    w.key("users").begin_array().value(std::string_view(peer)).end_array();
  } else if (op == "online") {
    w.field("limit", uint64_t{20});
  }
  w.end_object();
  c.end_frame(mark);
  s.pending.push({.kind = Pending::Kind::kOther, .t = now_ns()});
}

// Mixed: one action of a chat client's day, by weight. Messages (1:1 40 %, group 25 %) count
// as sent; typing (10 %) gets no reply; read receipts, presence (watch, online) and pings
// (25 % together) are requests. Acks follow deliveries (--ack-every); churn is on_tick's.
void BenchDriver::mixed_action(Session& s, uint64_t t) {
  uint32_t r = random() % 100;
  if (r < 40) {
    send_message(s, false, s.sent++, t);
    ctr_.sent.fetch_add(1, std::memory_order_relaxed);
  } else if (r < 65) {
    send_message(s, true, s.gsent++, t);
    ctr_.sent.fetch_add(1, std::memory_order_relaxed);
  } else if (r < 75) {
    Conn& c = *s.conn;
    size_t mark = c.begin_frame();
    JsonWriter w(c.out());
    w.begin_object().field("op", "typing");
    if (r < 70) {
      w.field("to", std::string_view(sh_.users[s.peer]));
    } else {
      w.field("group", std::string_view(sh_.groups[s.group]));
    }
    w.end_object();
    c.end_frame(mark);
  } else if (r < 85 && s.seq.last() > 0) {
    send_request(s, "read");
  } else if (r < 90) {
    send_request(s, "watch");
  } else if (r < 95) {
    send_request(s, "online");
  } else {
    send_request(s, "ping");
  }
}

// Mixed: closes --churn × sessions per second, picked at random among the logged-in ones; each
// connects again at once and resumes where it was.
void BenchDriver::churn(uint64_t now) {
  if (last_tick_ == 0 || opt_.churn <= 0) {
    last_tick_ = now;
    return;
  }
  double dt = static_cast<double>(now - last_tick_) / 1e9;
  last_tick_ = now;
  churn_due_ += opt_.churn * static_cast<double>(sessions_.size()) * dt;
  while (churn_due_ >= 1) {
    churn_due_ -= 1;
    close_planned(sessions_[random() % sessions_.size()], "churn");
  }
}

// Mixed: hands this interval's deliver latencies to the main thread when it asks (IntervalStats).
void BenchDriver::fold_interval() {
  uint64_t epoch = sh_.interval.epoch.load(std::memory_order_acquire);
  if (epoch == interval_epoch_) return;
  interval_epoch_ = epoch;
  {
    std::lock_guard lock(sh_.interval.mu);
    sh_.interval.deliver.merge(interval_deliver_);
  }
  interval_deliver_.reset();
  sh_.interval.folded.fetch_add(1, std::memory_order_release);
}

void BenchDriver::on_phase(Phase p) {
  switch (p) {
    case Phase::kGroups:
      if (!grouped(opt_.scenario)) return;
      for (Session& s : sessions_) {
        if (s.user % opt_.members == 0 && s.ready && s.conn->is_open()) send_group_setup(s);
      }
      return;
    case Phase::kWarmup:
    case Phase::kMeasure:  // a worker that slept through a short warmup starts here
      for (Session& s : sessions_) fill_window(s);
      return;
    case Phase::kLogout:  // offline: the receivers log out...
      for (Session& s : sessions_) {
        if (s.user % 2 == 1) {
          s.offline = true;
          close_planned(s, "offline");
        }
      }
      return;
    case Phase::kPreload:  // ...and once they all have, the senders start
      for (Session& s : sessions_) {
        if (s.user % 2 == 0) fill_window(s);
      }
      return;
    case Phase::kSync:  // offline: the receivers come back
      for (Session& s : sessions_) {
        if (!s.offline) continue;
        s.offline = false;
        reconnect_.push_back(static_cast<uint32_t>(&s - sessions_.data()));
      }
      return reconnect_some();
    case Phase::kStorm:  // every connection at once
      for (Session& s : sessions_) close_planned(s, "storm");
      return;
    default:
      return;
  }
}

void BenchDriver::on_tick(uint64_t now) {
  Phase p = sh_.current();
  if (p != seen_phase_) {
    seen_phase_ = p;
    on_phase(p);
  }
  reconnect_some();
  if (opt_.scenario == Scenario::kMixed) {
    fold_interval();
    if (sh_.sending()) churn(now);
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
      if (may_send(s) && s.pending.size() < opt_.window) {
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
