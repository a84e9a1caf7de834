// Listening sockets shared by all shards through SO_REUSEPORT: each shard gets its own socket
// on the same address and port, and the kernel spreads incoming connections between them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parley::net {

struct BoundPort {
  std::vector<int> fds;  // one listening socket per shard, already in listen state
  uint16_t port = 0;     // the port actually bound (resolves port 0)
  std::string address;   // printable "ADDR:PORT"
};

// Opens `count` SO_REUSEPORT sockets listening on bind_addr:port (IPv4 or IPv6 literal or
// "localhost"). Port 0 picks a free port and all sockets share it. Fails, with a message, if the
// port is already in use by anyone (even another SO_REUSEPORT process). Call from any one
// thread before the shards start; each shard then adopts its fd.
struct ListenResult {
  BoundPort bound;
  std::string error;  // empty on success
};
ListenResult listen_reuseport(const std::string& bind_addr, uint16_t port, int count,
                              int backlog = 4096);

void close_fds(const std::vector<int>& fds);

}  // namespace parley::net
