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
  enum class Kind : uint8_t { kRegister, kLogin, kGroupSetup, kSend, kPing, kEcho };
  Kind kind;
  uint64_t t;  // when it was sent (open loop: when it was due), ns
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

// One connection's state.
struct Session {
  Conn* conn = nullptr;
  uint32_t user = 0;   // global index: user (chat scenarios) or connection
  uint32_t peer = 0;   // p2p: the partner
  uint32_t group = 0;  // group: which group; member index is user % members
  bool ready = false;
  bool done = false;   // closed
  uint32_t setup_pending = 0;  // group owner: create/add replies still awaited
  uint64_t next_id = 1;
  uint64_t sent = 0;        // messages sent (the next one's number)
  uint64_t confirmed = 0;   // sends answered with ok
  uint32_t since_ack = 0;
  PendingRing pending;
  std::vector<StreamVerifier> streams;  // p2p: the partner; group: one per member
  SeqVerifier seq;
  uint64_t unexpected = 0;
};

class BenchDriver final : public Driver {
 public:
  BenchDriver(Shared& shared, int worker_id);

  void on_start(Worker& w) override;
  void on_open(Conn& c) override;
  void on_frame(Conn& c, std::span<const uint8_t> payload) override;
  void on_closed(Conn& c, std::string_view why) override;
  void on_tick(uint64_t now) override;

  // After the worker joined: what it measured.
  const Histogram& reply_latency() const { return reply_latency_; }
  const Histogram& deliver_latency() const { return deliver_latency_; }
  const std::vector<Session>& sessions() const { return sessions_; }

 private:
  Session& session(Conn& c) { return sessions_[c.index()]; }
  void connect_more();
  void send_register(Session& s);
  void send_login(Session& s);
  void send_group_setup(Session& s);
  void fill_window(Session& s);
  void send_one(Session& s, uint64_t t);
  void on_chat_frame(Session& s, std::span<const uint8_t> payload);
  void on_reply(Session& s, bool ok, simdjson::ondemand::document& doc);
  void on_msg(Session& s, simdjson::ondemand::document& doc);
  void mark_ready(Session& s);
  void fail(Session& s, std::string_view why);
  void record_reply(const Pending& p, uint64_t now);
  bool chat() const;

  Shared& sh_;
  const Options& opt_;
  Counters& ctr_;
  int worker_id_;
  Worker* worker_ = nullptr;
  std::vector<Session> sessions_;   // this worker's connections, by local index
  std::vector<uint32_t> globals_;   // local index → global index
  size_t next_connect_ = 0;         // sessions connected so far
  size_t in_setup_ = 0;             // connecting or logging in right now
  Phase seen_phase_ = Phase::kSetup;
  double rate_ = 0;                 // this worker's share of --rate, messages/s
  uint64_t issued_ = 0;             // open loop: messages sent so far
  size_t rr_ = 0;                   // open loop: round-robin cursor
  std::optional<auth::JwtKey> jwt_key_;  // --jwt-secret: tokens are minted here
  simdjson::ondemand::parser parser_;
  std::string scratch_;
  Histogram reply_latency_;
  Histogram deliver_latency_;
};

}  // namespace parley::bench
