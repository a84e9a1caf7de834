// The delivery pump: sends one connection what it has not been sent of one conversation,
// oldest first, while the connection has room. Frames come from the member's tail cache when
// they are there, else from the store; the connection's own messages (answered with `ok`) are
// skipped; seqs trimmed by retention are jumped over. Offline sync after login and live push are
// this same loop, which is why a connection sees no gap, duplicate or reordering per
// conversation, and why a slow reader costs store reads rather than server memory.
//
// Pure logic over two small interfaces so it can be tested without sockets or RocksDB.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "state.h"

namespace parley::chat {

// Stored messages of a conversation.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Calls fn(seq, frame) for the stored messages with from <= seq <= to, in seq order, until fn
  // returns false. Missing seqs (trimmed) are simply absent. Returns false on a read error.
  virtual bool read(const store::ConvId& conv, uint64_t from, uint64_t to,
                    const std::function<bool(uint64_t seq, std::string_view frame)>& fn) = 0;
};

// One connection's output.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // False when the connection is over its output limit (or closed): the pump stops and resumes
  // when the output drains.
  virtual bool has_room() const = 0;
  // Queues one frame; returns has_room() afterwards.
  virtual bool send(std::string_view frame) = 0;
};

enum class PumpResult : uint8_t {
  kCaughtUp,   // everything up to the conversation's head has been sent
  kNoRoom,     // stopped at the output limit; call again on drain
  kReadError,  // the store could not be read; nothing was skipped because of it
};

struct PumpCounters {
  uint64_t sent = 0;     // frames queued
  uint64_t skipped = 0;  // own messages passed over
};

PumpResult pump_conversation(const ConvRef& ref, ConvPump& p, FrameSource& source,
                             FrameSink& sink, PumpCounters& counters);

}  // namespace parley::chat
