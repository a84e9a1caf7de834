// A hashed timer wheel for connection deadlines (login, header, idle, close linger).
//
// Lazy by design: a connection's activity only updates a timestamp it owns; nothing is
// relinked on the read path. When the wheel reaches an entry's slot it asks the owner for the
// entry's real deadline (`due` callback): past due → the owner expires it; later → the entry
// is re-filed further on. Only a deadline that moves *earlier* must be re-armed with `arm()`.
// Single-threaded: a shard owns its wheel. Time is passed in, so tests drive it by hand.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace parley::net {

struct WheelHook {
  WheelHook* prev = nullptr;
  WheelHook* next = nullptr;
  uint64_t at_ms = 0;  // when the wheel will look at this entry again
  void* owner = nullptr;  // the object this hook is embedded in (for the callbacks)
  bool armed() const { return prev != nullptr; }
};

class TimerWheel {
 public:
  // Returns the entry's current deadline in ms (0 = none, drop it from the wheel).
  using DueFn = std::function<uint64_t(WheelHook*)>;
  // Called for an entry whose deadline has passed; it is already unlinked.
  using ExpireFn = std::function<void(WheelHook*)>;

  TimerWheel(uint64_t now_ms, uint64_t tick_ms, size_t slots, DueFn due, ExpireFn expire);
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Files `h` for deadline `at_ms` (re-files it if already armed and the new time is earlier).
  void arm(WheelHook* h, uint64_t at_ms);
  void disarm(WheelHook* h);
  // Processes every slot up to `now_ms`. Returns the number of expired entries.
  size_t advance(uint64_t now_ms);

  uint64_t tick_ms() const { return tick_ms_; }
  size_t size() const { return size_; }

 private:
  void link(WheelHook* h, uint64_t at_ms);
  static void unlink(WheelHook* h);

  uint64_t tick_ms_;
  uint64_t current_tick_;             // the next tick to process
  std::vector<WheelHook> slots_;      // sentinel heads of circular lists
  size_t size_ = 0;
  DueFn due_;
  ExpireFn expire_;
};

}  // namespace parley::net
