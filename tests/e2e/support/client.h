// Blocking test clients over real loopback sockets: a raw socket, a WebSocket client (masked
// frames, its own independent frame reader), and a length-framed TCP client. Every read has a
// timeout, so a server that stalls fails the test instead of hanging it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::test {

class Socket {
 public:
  Socket() = default;
  ~Socket();
  Socket(Socket&& o) noexcept;
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool connect(uint16_t port, const char* host = "127.0.0.1");
  bool send_all(std::string_view bytes);
  // Appends whatever arrives within timeout_ms to `out`; returns false on EOF/error with
  // nothing read.
  bool recv_some(std::string& out, int timeout_ms);
  // Reads until `out` holds at least n bytes; false on timeout or EOF.
  bool recv_exact(std::string& out, size_t n, int timeout_ms);
  // True if the peer closes (EOF or reset) within timeout_ms; data that arrives is discarded
  // into `drained` if given.
  bool wait_closed(int timeout_ms, std::string* drained = nullptr);
  void shutdown_write();
  void close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

struct WsFrame {
  uint8_t opcode = 0;
  bool fin = true;
  std::string payload;
  uint16_t close_code() const;  // for close frames: the code (1005 if none)
};

class WsClient {
 public:
  // Connects and performs the opening handshake. Returns the HTTP status of the reply
  // (101 on success), or 0 if the connection failed.
  int connect(uint16_t port, std::string_view path = "/ws", std::string_view extra_headers = {});
  void send_text(std::string_view text) { send_frame(0x1, text); }
  void send_binary(std::string_view bytes) { send_frame(0x2, bytes); }
  // Sends one frame (masked unless masked=false). rsv sets the RSV bits (bits 4-6 of byte 0).
  void send_frame(uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true,
                  uint8_t rsv = 0);
  void send_raw(std::string_view bytes) { sock_.send_all(bytes); }
  // The next frame from the server, or nullopt on timeout/EOF.
  std::optional<WsFrame> recv_frame(int timeout_ms = 5000);
  // The next text message (skipping pings/pongs); nullopt on timeout, EOF or a close frame.
  std::optional<std::string> recv_text(int timeout_ms = 5000);
  // Reads frames until a close frame arrives; returns its code, or -1 if none came.
  int expect_close(int timeout_ms = 5000);
  Socket& socket() { return sock_; }

 private:
  Socket sock_;
  std::string buf_;
};

// `payload` with its 4-byte big-endian length in front (one raw-TCP frame).
std::string tcp_frame(std::string_view payload);

class TcpClient {
 public:
  bool connect(uint16_t port) { return sock_.connect(port); }
  void send(std::string_view payload);
  void send_raw(std::string_view bytes) { sock_.send_all(bytes); }
  std::optional<std::string> recv(int timeout_ms = 5000);
  Socket& socket() { return sock_; }

 private:
  Socket sock_;
  std::string buf_;
};

// Minimal HTTP/1.1 exchange on a fresh connection: returns the status and body.
struct HttpReply {
  int status = 0;
  std::string headers;
  std::string body;
};
// Reads until the server closes `s` (at most timeout_ms) and parses the one response it sent.
HttpReply read_http_reply(Socket& s, int timeout_ms = 5000);
HttpReply http_request(uint16_t port, std::string_view method, std::string_view path,
                       std::string_view body = {}, std::string_view extra_headers = {});

// Reads a top-level string field of a JSON object ("" if absent or not a string).
std::string json_str(const std::string& json, std::string_view key);
// Reads a top-level integer field (-1 if absent or not an integer).
int64_t json_int(const std::string& json, std::string_view key);
bool json_has(const std::string& json, std::string_view key);

}  // namespace parley::test
