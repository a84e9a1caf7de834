// Per-client-address accounting shared by every shard: how many connections an address holds
// (max_connections_per_ip) and how fast it may fail logins. A fixed table of atomic counters
// indexed by a hash of the address (IPv4, or an IPv6 /64, since one IPv6 host owns a whole
// /64): no locks and no allocation after start; addresses that collide share a slot, which
// only makes the limits stricter for them. 768 KiB.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace parley::net {

class AddressTable {
 public:
  static constexpr uint32_t kSlots = 1 << 16;

  // The slot of a peer address (AF_INET or AF_INET6; anything else: slot 0).
  static uint32_t slot_of(const sockaddr* peer);

  // Counts a connection from `slot`; false (and nothing counted) if that would pass `limit`
  // (0: no limit).
  bool acquire(uint32_t slot, uint32_t limit);
  void release(uint32_t slot);
  uint32_t connections(uint32_t slot) const {
    return conns_[slot].load(std::memory_order_relaxed);
  }

  // Failed logins, paced like a token bucket of `burst` refilled every `interval_ms` (GCRA):
  // may another attempt from `slot` be checked at `now_ms`? And record one failure.
  bool login_allowed(uint32_t slot, uint64_t now_ms, uint64_t interval_ms, uint32_t burst) const;
  void login_failed(uint32_t slot, uint64_t now_ms, uint64_t interval_ms);

 private:
  // Zeroed (value-initialized) at construction.
  std::unique_ptr<std::atomic<uint32_t>[]> conns_ =
      std::make_unique<std::atomic<uint32_t>[]>(kSlots);
  std::unique_ptr<std::atomic<uint64_t>[]> tat_ =  // failed logins' theoretical arrival time
      std::make_unique<std::atomic<uint64_t>[]>(kSlots);
};

}  // namespace parley::net
