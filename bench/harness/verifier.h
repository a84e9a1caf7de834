// Checks what one receiver saw of one conversation against what was sent: no loss, no
// duplicate, no reordering (PROTOCOL.md, "Delivery": within one conversation a connection never
// sees a gap, a duplicate or a reordering).
//
// Each sender numbers its messages to a conversation 0, 1, 2, … (the number travels in the
// `cid`), so a receiver can check every sender's stream on its own, independently of the seqs
// that the other senders' messages took. The server's `seq` is checked separately: it must
// strictly increase per conversation on one connection.
//
// Pure bookkeeping, no I/O; one owner thread. No allocation while the stream is in order.
#pragma once

#include <cstdint>
#include <vector>

namespace parley::bench {

enum class Anomaly : uint8_t {
  kNone,       // the next message, as expected
  kGap,        // numbers were skipped (lost, unless they arrive later: then reordered)
  kReorder,    // a skipped number arrived late
  kDuplicate,  // a number already seen
};

// One sender's numbered stream as one receiver sees it.
class StreamVerifier {
 public:
  Anomaly on_message(uint64_t n);
  // After the run, with the number of messages the server confirmed (`ok`) to the sender:
  // how many of them never arrived.
  uint64_t lost(uint64_t confirmed) const;
  uint64_t received() const { return received_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t reorders() const { return reorders_; }
  uint64_t next() const { return next_; }  // one past the highest number seen

 private:
  // Skipped numbers not seen yet, ascending. A gap wider than this is counted, not listed.
  static constexpr uint64_t kMaxListedGap = 1 << 20;

  uint64_t next_ = 0;
  uint64_t received_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t reorders_ = 0;
  uint64_t unlisted_missing_ = 0;
  std::vector<uint64_t> missing_;
};

// The server-assigned seq of one conversation on one connection: must strictly increase.
class SeqVerifier {
 public:
  // False if `seq` is not above the last one seen (a duplicate or a reordering by the server).
  bool on_seq(uint64_t seq) {
    bool ok = seq > last_;
    if (ok) last_ = seq; else ++regressions_;
    return ok;
  }
  uint64_t last() const { return last_; }
  uint64_t regressions() const { return regressions_; }

 private:
  uint64_t last_ = 0;
  uint64_t regressions_ = 0;
};

// Totals over every stream of a run.
struct VerifyTotals {
  uint64_t streams = 0;
  uint64_t received = 0;
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  uint64_t reorders = 0;
  uint64_t seq_regressions = 0;
  uint64_t unexpected = 0;  // messages that fit no stream (unknown sender or cid)
  bool ok() const {
    return lost == 0 && duplicates == 0 && reorders == 0 && seq_regressions == 0 &&
           unexpected == 0;
  }
  void add(const StreamVerifier& s, uint64_t confirmed) {
    ++streams;
    received += s.received();
    lost += s.lost(confirmed);
    duplicates += s.duplicates();
    reorders += s.reorders();
  }
  void merge(const VerifyTotals& o);
};

}  // namespace parley::bench
