#include "e2e/support/client.h"

#include <optional>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <simdjson.h>
#include <utility>

namespace parley::test {
namespace {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Socket::~Socket() { close(); }
Socket::Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

bool Socket::connect(uint16_t port, const char* host) {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host, &a.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close();
    return false;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool Socket::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Socket::recv_some(std::string& out, int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  out.append(buf, static_cast<size_t>(n));
  return true;
}

bool Socket::recv_exact(std::string& out, size_t n, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  while (out.size() < n) {
    int64_t left = deadline - now_ms();
    if (left <= 0 || !recv_some(out, static_cast<int>(left))) return false;
  }
  return true;
}

bool Socket::wait_closed(int timeout_ms, std::string* drained) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
    if (drained != nullptr) drained->append(buf, static_cast<size_t>(n));
  }
}

void Socket::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void Socket::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

uint16_t WsFrame::close_code() const {
  if (payload.size() < 2) return 1005;
  return static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                               static_cast<uint8_t>(payload[1]));
}

int WsClient::connect(uint16_t port, std::string_view path, std::string_view extra_headers) {
  if (!sock_.connect(port)) return 0;
  std::string req = "GET " + std::string(path) +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  req += extra_headers;
  req += "\r\n";
  sock_.send_all(req);
  int64_t deadline = now_ms() + 5000;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    int64_t left = deadline - now_ms();
    if (left <= 0 || !sock_.recv_some(buf_, static_cast<int>(left))) return 0;
  }
  std::string head = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  if (head.size() < 12) return 0;
  int status = std::atoi(head.c_str() + 9);
  if (status == 101 && head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == std::string::npos) return -1;
  return status;
}

void WsClient::send_frame(uint8_t opcode, std::string_view payload, bool fin, bool masked,
                          uint8_t rsv) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)));
  uint8_t mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  }
  static thread_local std::mt19937 rng(12345);
  uint8_t mask[4];
  for (auto& m : mask) m = static_cast<uint8_t>(rng());
  if (masked) f.append(reinterpret_cast<char*>(mask), 4);
  size_t start = f.size();
  f.append(payload);
  if (masked) {
    for (size_t i = 0; i < payload.size(); ++i) f[start + i] ^= static_cast<char>(mask[i & 3]);
  }
  sock_.send_all(f);
}

std::optional<WsFrame> WsClient::recv_frame(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  auto need = [&](size_t n) {
    while (buf_.size() < n) {
      int64_t left = deadline - now_ms();
      if (left <= 0 || !sock_.recv_some(buf_, static_cast<int>(left))) return false;
    }
    return true;
  };
  if (!need(2)) return std::nullopt;
  auto b = [&](size_t i) { return static_cast<uint8_t>(buf_[i]); };
  WsFrame fr;
  fr.fin = (b(0) & 0x80) != 0;
  fr.opcode = b(0) & 0x0f;
  uint64_t len = b(1) & 0x7f;
  size_t hdr = 2;
  if (len == 126) {
    if (!need(4)) return std::nullopt;
    len = (uint64_t{b(2)} << 8) | b(3);
    hdr = 4;
  } else if (len == 127) {
    if (!need(10)) return std::nullopt;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
    hdr = 10;
  }
  if (!need(hdr + len)) return std::nullopt;
  fr.payload = buf_.substr(hdr, len);
  buf_.erase(0, hdr + len);
  return fr;
}

std::optional<std::string> WsClient::recv_text(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return std::nullopt;
    auto f = recv_frame(static_cast<int>(left));
    if (!f || f->opcode == 0x8) return std::nullopt;
    if (f->opcode == 0x1) return f->payload;
  }
}

int WsClient::expect_close(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return -1;
    auto f = recv_frame(static_cast<int>(left));
    if (!f) return -1;
    if (f->opcode == 0x8) return f->close_code();
  }
}

std::string tcp_frame(std::string_view payload) {
  std::string f(4, '\0');
  uint32_t n = static_cast<uint32_t>(payload.size());
  f[0] = static_cast<char>(n >> 24);
  f[1] = static_cast<char>(n >> 16);
  f[2] = static_cast<char>(n >> 8);
  f[3] = static_cast<char>(n);
  f.append(payload);
  return f;
}

void TcpClient::send(std::string_view payload) { sock_.send_all(tcp_frame(payload)); }

std::optional<std::string> TcpClient::recv(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  auto need = [&](size_t n) {
    while (buf_.size() < n) {
      int64_t left = deadline - now_ms();
      if (left <= 0 || !sock_.recv_some(buf_, static_cast<int>(left))) return false;
    }
    return true;
  };
  if (!need(4)) return std::nullopt;
  uint32_t n = (uint32_t{static_cast<uint8_t>(buf_[0])} << 24) |
               (uint32_t{static_cast<uint8_t>(buf_[1])} << 16) |
               (uint32_t{static_cast<uint8_t>(buf_[2])} << 8) | static_cast<uint8_t>(buf_[3]);
  if (!need(4 + size_t{n})) return std::nullopt;
  std::string payload = buf_.substr(4, n);
  buf_.erase(0, 4 + size_t{n});
  return payload;
}

HttpReply http_request(uint16_t port, std::string_view method, std::string_view path,
                       std::string_view body, std::string_view extra_headers) {
  HttpReply r;
  Socket s;
  if (!s.connect(port)) return r;
  std::string req = std::string(method) + " " + std::string(path) +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  req += extra_headers;
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  s.send_all(req);
  return read_http_reply(s);
}

HttpReply read_http_reply(Socket& s, int timeout_ms) {
  HttpReply r;
  std::string all;
  s.wait_closed(timeout_ms, &all);
  size_t end = all.find("\r\n\r\n");
  if (all.size() < 12 || end == std::string::npos) return r;
  r.status = std::atoi(all.c_str() + 9);
  r.headers = all.substr(0, end);
  r.body = all.substr(end + 4);
  return r;
}

namespace {
// The top-level object of `json`, or nullopt (a default dom::element must not be touched).
std::optional<simdjson::dom::object> parse_object(const std::string& json,
                                                  simdjson::dom::parser& p) {
  simdjson::dom::object o;
  if (p.parse(json).get(o)) return std::nullopt;
  return o;
}
}  // namespace

std::string json_str(const std::string& json, std::string_view key) {
  simdjson::dom::parser p;
  auto o = parse_object(json, p);
  std::string_view v;
  if (!o || (*o)[key].get(v)) return "";
  return std::string(v);
}

int64_t json_int(const std::string& json, std::string_view key) {
  simdjson::dom::parser p;
  auto o = parse_object(json, p);
  int64_t v;
  if (!o || (*o)[key].get(v)) return -1;
  return v;
}

bool json_has(const std::string& json, std::string_view key) {
  simdjson::dom::parser p;
  auto o = parse_object(json, p);
  return o && (*o)[key].error() == simdjson::SUCCESS;
}

}  // namespace parley::test
