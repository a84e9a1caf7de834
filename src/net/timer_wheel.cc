#include "parley/net/timer_wheel.h"

#include <algorithm>
#include <cassert>

namespace parley::net {

TimerWheel::TimerWheel(uint64_t now_ms, uint64_t tick_ms, size_t slots, DueFn due,
                       ExpireFn expire)
    : tick_ms_(std::max<uint64_t>(tick_ms, 1)),
      current_tick_(now_ms / tick_ms_),
      slots_(std::max<size_t>(slots, 2)),
      due_(std::move(due)),
      expire_(std::move(expire)) {
  for (auto& s : slots_) s.prev = s.next = &s;
}

TimerWheel::~TimerWheel() {
  for (auto& s : slots_) {
    while (s.next != &s) unlink(s.next);
  }
}

void TimerWheel::unlink(WheelHook* h) {
  h->prev->next = h->next;
  h->next->prev = h->prev;
  h->prev = h->next = nullptr;
}

void TimerWheel::link(WheelHook* h, uint64_t at_ms) {
  // An entry further out than one revolution is parked in the last slot of the revolution and
  // looked at again then (its `due` is re-read, so nothing is lost).
  uint64_t tick = std::max(at_ms / tick_ms_, current_tick_);
  tick = std::min<uint64_t>(tick, current_tick_ + slots_.size() - 1);
  h->at_ms = tick * tick_ms_;
  WheelHook& head = slots_[tick % slots_.size()];
  h->prev = head.prev;
  h->next = &head;
  head.prev->next = h;
  head.prev = h;
}

void TimerWheel::arm(WheelHook* h, uint64_t at_ms) {
  if (h->armed()) {
    if (at_ms >= h->at_ms) return;  // the wheel looks at it earlier anyway
    unlink(h);
    --size_;
  }
  link(h, at_ms);
  ++size_;
}

void TimerWheel::disarm(WheelHook* h) {
  if (!h->armed()) return;
  unlink(h);
  --size_;
}

size_t TimerWheel::advance(uint64_t now_ms) {
  size_t expired = 0;
  uint64_t target = now_ms / tick_ms_;
  while (current_tick_ <= target) {
    WheelHook& head = slots_[current_tick_ % slots_.size()];
    // Detach the slot's list first: re-filed entries may land in this same slot index.
    WheelHook pending;
    if (head.next != &head) {
      pending.next = head.next;
      pending.prev = head.prev;
      pending.next->prev = &pending;
      pending.prev->next = &pending;
      head.next = head.prev = &head;
    } else {
      pending.next = pending.prev = &pending;
    }
    ++current_tick_;
    while (pending.next != &pending) {
      WheelHook* h = pending.next;
      unlink(h);
      --size_;
      uint64_t deadline = due_(h);
      if (deadline == 0) continue;
      if (deadline <= now_ms) {
        ++expired;
        expire_(h);
      } else {
        link(h, deadline);
        ++size_;
      }
    }
  }
  return expired;
}

}  // namespace parley::net
