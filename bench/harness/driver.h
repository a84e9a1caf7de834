// The scenarios' client side, one BenchDriver per worker thread: connects and logs in that
// worker's share of the connections, keeps each one's window of requests in flight (closed
// loop) or follows the open-loop schedule, parses every server frame, times replies and
// deliveries, and feeds the verifier.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <optional>

#include "engine.h"
#include "parley/auth/jwt.h"
#include "histogram.h"
#include "shared.h"
#include "verifier.h"

namespace parley::bench {

// A request whose reply is awaited. Replies come in request order on a connection (PROTOCOL.md
// "Replies"), so a FIFO of these matches them without looking at ids.
struct Pending {
  enum class Kind : uint8_t { kRegister, kLogin, kGroupSetup, kSend, kPing, kEcho, kOther };
  Kind kind;
  bool group = false;  // kSend: to the session's group (mixed), else to its partner or group
  uint64_t n = 0;      // kSend: the sender's number for the message (retries keep it)
  uint64_t t = 0;      // when it was sent (open loop: when it was due), ns; retries keep it
};

// A fixed-capacity FIFO (a power of two), allocated once per connection.
class PendingRing {
 public:
  void init(size_t min_capacity);
  bool empty() const { return head_ == tail_; }
  size_t size() const { return static_cast<size_t>(tail_ - head_); }
  bool full() const { return size() == slots_.size(); }
  void push(Pending p) { slots_[tail_++ & mask_] = p; }
  Pending pop() { return slots_[head_++ & mask_]; }

 private:
  std::vector<Pending> slots_;
  uint64_t mask_ = 0, head_ = 0, tail_ = 0;
};

// One user's state (one connection at a time; it survives reconnects). Bounded whatever the
// run's length: counters and one verifier per (sender, conversation) it hears, never a list of
// messages.
struct Session {
  Conn* conn = nullptr;
  uint32_t user = 0;   // global index: user (chat scenarios) or connection
  uint32_t peer = 0;   // paired scenarios: the partner
  uint32_t group = 0;  // grouped scenarios: which group; member index is user % members
  bool ready = false;  // logged in (echo, ping: connected)
  bool done = false;   // closed
  bool relogin = false;        // logged in before: the next login resumes (`after`)
  bool planned_close = false;  // being closed on purpose (offline, storm, churn): no failure
  bool offline = false;        // offline: a receiver kept logged out until the sync phase
  uint32_t setup_pending = 0;  // group owner: create/add replies still awaited
  uint64_t next_id = 1;
  uint64_t sent = 0;        // messages sent to the partner (group scenario: to the group)
  uint64_t confirmed = 0;   // … of which answered with ok (always a prefix: 0 … confirmed-1)
  uint64_t gsent = 0;       // mixed: messages sent to the group
  uint64_t gconfirmed = 0;
  uint32_t since_ack = 0;   // deliveries since the last ack (1:1, or the group scenario's group)
  uint32_t gsince_ack = 0;  // mixed: same for the group
  PendingRing pending;
  std::vector<Pending> resend;  // sends a closed connection left unanswered: retried, same cid
  // Paired: [0] the partner. Group: [m] member m. Mixed: [0] the partner, [1 + m] member m.
  std::vector<StreamVerifier> streams;
  SeqVerifier seq;   // the 1:1 conversation (group scenario: the group)
  SeqVerifier gseq;  // mixed: the group
  uint64_t unexpected = 0;
};

// What run() reads from any driver after its worker has joined.
class MeasuringDriver : public Driver {
 public:
  virtual const Histogram& reply_latency() const = 0;
  virtual const Histogram& deliver_latency() const = 0;
  virtual const std::vector<Session>& sessions() const = 0;
};

class BenchDriver final : public MeasuringDriver {
 public:
  BenchDriver(Shared& shared, int worker_id);

  void on_start(Worker& w) override;
  void on_open(Conn& c) override;
  void on_frame(Conn& c, std::span<const uint8_t> payload) override;
  void on_closed(Conn& c, std::string_view why) override;
  void on_tick(uint64_t now) override;

  // After the worker joined: what it measured.
  const Histogram& reply_latency() const override { return reply_latency_; }
  const Histogram& deliver_latency() const override { return deliver_latency_; }
  const std::vector<Session>& sessions() const override { return sessions_; }

 private:
  Session& session(Conn& c) { return sessions_[c.index()]; }
  void connect_more();
  void reconnect_some();
  void on_phase(Phase p);
  void send_register(Session& s);
  void send_login(Session& s);
  void send_group_setup(Session& s);
  bool may_send(const Session& s) const;
  void fill_window(Session& s);
  void send_one(Session& s, uint64_t t);
  void send_message(Session& s, bool group, uint64_t n, uint64_t t);
  void mixed_action(Session& s, uint64_t t);
  void send_request(Session& s, std::string_view op);
  void close_planned(Session& s, std::string_view why);
  void churn(uint64_t now);
  void fold_interval();
  void on_chat_frame(Session& s, std::span<const uint8_t> payload);
  void on_reply(Session& s, bool ok, simdjson::ondemand::document& doc);
  void on_send_reply(Session& s, const Pending& p, bool ok, simdjson::ondemand::document& doc);
  void on_msg(Session& s, simdjson::ondemand::document& doc);
  void ack(Session& s, bool group, uint64_t seq);
  void mark_ready(Session& s);
  void fail(Session& s, std::string_view why);
  void record_reply(const Pending& p, uint64_t now);
  uint32_t random();
  bool chat() const;

  Shared& sh_;
  const Options& opt_;
  Counters& ctr_;
  int worker_id_;
  Worker* worker_ = nullptr;
  std::vector<Session> sessions_;   // this worker's users, by local index (= Conn::index())
  size_t next_connect_ = 0;         // sessions connected so far
  size_t in_setup_ = 0;             // connecting or logging in right now
  std::vector<uint32_t> reconnect_; // local indexes waiting to connect again
  Phase seen_phase_ = Phase::kSetup;
  double rate_ = 0;                 // this worker's share of --rate, messages/s
  uint64_t issued_ = 0;             // open loop: messages sent so far
  size_t rr_ = 0;                   // open loop: round-robin cursor
  uint64_t last_tick_ = 0;          // mixed: churn is paced by elapsed time
  double churn_due_ = 0;            // mixed: closes owed (fractional)
  uint64_t interval_epoch_ = 0;     // mixed: the last interval folded in
  uint32_t rng_;
  std::optional<auth::JwtKey> jwt_key_;  // --jwt-secret: tokens are minted here
  simdjson::ondemand::parser parser_;
  Histogram reply_latency_;
  Histogram deliver_latency_;
  Histogram interval_deliver_;      // mixed: this interval's deliver latencies
};

}  // namespace parley::bench
