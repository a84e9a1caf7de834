#include "parley/client/endpoint.h"

#include <charconv>

namespace parley::client {
namespace {

std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// Splits "host", "host:port" or "[v6]:port"; `port` keeps `default_port` when absent.
bool split_host_port(std::string_view text, uint16_t default_port, std::string& host,
                     uint16_t& port) {
  port = default_port;
  if (text.empty()) return false;
  std::string_view h = text;
  std::string_view p;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    h = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      p = rest.substr(1);
      if (p.empty()) return false;
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) return false;  // a bare IPv6 address needs brackets
      h = text.substr(0, colon);
      p = text.substr(colon + 1);
      if (p.empty()) return false;
    }
  }
  if (h.empty()) return false;
  if (!p.empty()) {
    auto v = parse_port(p);
    if (!v) return false;
    port = *v;
  }
  host = std::string(h);
  return true;
}

}  // namespace

std::string Endpoint::display() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (transport == Transport::kTcp) return h + ":" + std::to_string(port);
  return "ws://" + h + ":" + std::to_string(port) + path;
}

std::optional<Endpoint> parse_tcp_endpoint(std::string_view text) {
  Endpoint e;
  if (!split_host_port(text, kDefaultTcpPort, e.host, e.port)) return std::nullopt;
  return e;
}

std::optional<Endpoint> parse_ws_url(std::string_view url) {
  constexpr std::string_view kScheme = "ws://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Endpoint e;
  e.transport = Endpoint::Transport::kWebSocket;
  if (!split_host_port(authority, 80, e.host, e.port)) return std::nullopt;
  e.path = slash == std::string_view::npos ? "/ws" : std::string(rest.substr(slash));
  for (char c : e.path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return std::nullopt;
  }
  return e;
}

}  // namespace parley::client
