#include "parley/net/address_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace parley::net {
namespace {

// 64-bit mix (splitmix64's finalizer): spreads near addresses over the table.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint32_t AddressTable::slot_of(const sockaddr* peer) {
  uint64_t key = 0;
  if (peer->sa_family == AF_INET) {
    key = reinterpret_cast<const sockaddr_in*>(peer)->sin_addr.s_addr;
  } else if (peer->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(peer);
    const uint8_t* b = a6->sin6_addr.s6_addr;
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, kMapped, sizeof kMapped) == 0) {  // ::ffff:a.b.c.d is that IPv4 host
      uint32_t v4;
      std::memcpy(&v4, b + 12, 4);
      key = v4;
    } else {
      std::memcpy(&key, b, 8);  // the /64
      key = mix(key) | 1;       // keep clear of the IPv4 keys' range
    }
  } else {
    return 0;
  }
  return static_cast<uint32_t>(mix(key) % kSlots);
}

bool AddressTable::acquire(uint32_t slot, uint32_t limit) {
  const uint32_t before = conns_[slot].fetch_add(1, std::memory_order_relaxed);
  if (limit != 0 && before >= limit) {
    conns_[slot].fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void AddressTable::release(uint32_t slot) { conns_[slot].fetch_sub(1, std::memory_order_relaxed); }

bool AddressTable::login_allowed(uint32_t slot, uint64_t now_ms, uint64_t interval_ms,
                                 uint32_t burst) const {
  const uint64_t tat = tat_[slot].load(std::memory_order_relaxed);
  const uint64_t ahead = tat > now_ms ? tat - now_ms : 0;
  return burst > 0 && ahead <= (burst - 1) * interval_ms;
}

void AddressTable::login_failed(uint32_t slot, uint64_t now_ms, uint64_t interval_ms) {
  uint64_t tat = tat_[slot].load(std::memory_order_relaxed);
  while (!tat_[slot].compare_exchange_weak(tat, std::max(tat, now_ms) + interval_ms,
                                           std::memory_order_relaxed)) {
  }
}

}  // namespace parley::net
