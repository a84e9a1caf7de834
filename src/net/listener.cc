#include "parley/net/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace parley::net {
namespace {

struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

bool parse_addr(const std::string& host, uint16_t port, Addr& out) {
  std::string h = host == "localhost" ? "127.0.0.1" : host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.ss);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Binds one socket; with reuseport the socket may share the port with its siblings.
int bind_one(const Addr& a, bool reuseport, std::string& err) {
  int fd = ::socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno_text("socket");
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    err = errno_text("setsockopt(SO_REUSEPORT)");
    ::close(fd);
    return -1;
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0) {
    err = errno_text("bind");
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

void close_fds(const std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
}

ListenResult listen_reuseport(const std::string& bind_addr, uint16_t port, int count,
                              int backlog) {
  ListenResult r;
  Addr a;
  if (!parse_addr(bind_addr, port, a)) {
    r.error = "bad bind address '" + bind_addr + "' (expected an IPv4 or IPv6 literal)";
    return r;
  }
  // SO_REUSEPORT would let us silently share a port another process already holds the same
  // way; a plain bind first makes "address in use" an error as it should be.
  if (port != 0) {
    int probe = bind_one(a, false, r.error);
    if (probe < 0) {
      r.error = bind_addr + ":" + std::to_string(port) + ": " + r.error;
      return r;
    }
    ::close(probe);
  }
  for (int i = 0; i < count; ++i) {
    int fd = bind_one(a, true, r.error);
    if (fd < 0 || ::listen(fd, backlog) != 0) {
      if (fd >= 0) {
        r.error = errno_text("listen");
        ::close(fd);
      }
      r.error = bind_addr + ":" + std::to_string(port) + ": " + r.error;
      close_fds(r.bound.fds);
      r.bound.fds.clear();
      return r;
    }
    if (i == 0) {
      port = bound_port(fd);
      reinterpret_cast<sockaddr_in*>(&a.ss)->sin_port = htons(port);  // same offset for v6
    }
    r.bound.fds.push_back(fd);
  }
  r.bound.port = port;
  bool v6 = a.ss.ss_family == AF_INET6;
  std::string host = bind_addr == "localhost" ? "127.0.0.1" : bind_addr;
  if (v6 && host.front() != '[') host = "[" + host + "]";
  r.bound.address = host + ":" + std::to_string(port);
  return r;
}

}  // namespace parley::net
