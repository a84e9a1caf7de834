#include "pump.h"

#include <algorithm>

namespace parley::chat {
namespace {

// True if `seq` is one of this connection's own messages; forgets skips it has passed.
bool skip_own(ConvPump& p, uint64_t seq) {
  auto past = std::find_if(p.skip.begin(), p.skip.end(), [seq](uint64_t s) { return s >= seq; });
  p.skip.erase(p.skip.begin(), past);
  if (!p.skip.empty() && p.skip.front() == seq) {
    p.skip.erase(p.skip.begin());
    return true;
  }
  return false;
}

}  // namespace

PumpResult pump_conversation(const ConvRef& ref, ConvPump& p, FrameSource& source,
                             FrameSink& sink, PumpCounters& counters) {
  // Marks `seq` as sent (queued or skipped); false when the sink is full.
  auto deliver = [&](uint64_t seq, std::string_view frame) {
    p.sent = seq;
    if (skip_own(p, seq)) {
      ++counters.skipped;
      return sink.has_room();
    }
    ++counters.sent;
    return sink.send(frame);
  };
  if (p.sent < ref.floor) p.sent = ref.floor;
  while (p.sent < ref.head) {
    if (!sink.has_room()) return PumpResult::kNoRoom;
    uint64_t next = p.sent + 1;
    if (!ref.tail.empty() && ref.tail.front().first <= next && next <= ref.tail.back().first) {
      if (!deliver(next, *ref.tail[next - ref.tail.front().first].second)) {
        return p.sent < ref.head ? PumpResult::kNoRoom : PumpResult::kCaughtUp;
      }
      continue;
    }
    // From the store: everything below the tail cache (or up to head), while there is room.
    uint64_t stop = !ref.tail.empty() && next < ref.tail.front().first
                        ? ref.tail.front().first - 1
                        : ref.head;
    bool room = true;
    bool any = false;
    bool ok = source.read(ref.id, next, stop, [&](uint64_t seq, std::string_view frame) {
      if (seq < next || seq > stop) return false;
      any = true;
      room = deliver(seq, frame);
      return room;
    });
    if (!ok) return PumpResult::kReadError;
    if (!any) p.sent = stop;  // trimmed by retention: nothing stored below the tail
    if (!room) return p.sent < ref.head ? PumpResult::kNoRoom : PumpResult::kCaughtUp;
  }
  return PumpResult::kCaughtUp;
}

}  // namespace parley::chat
