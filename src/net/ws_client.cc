#include "parley/net/ws_client.h"

#include <llhttp.h>
#include <openssl/rand.h>

#include <string>

#include "parley/auth/base64.h"
#include "parley/net/ws_handshake.h"

namespace parley::net {
namespace {

constexpr std::string_view kHeaderEnd = "\r\n\r\n";

bool equal_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (equal_nocase(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// What the header callbacks collect. Values of repeated headers are joined with ", ".
struct Headers {
  std::string field, value;  // the header being read
  bool in_value = false;
  std::string upgrade, connection, accept;

  void finish_header() {
    if (field.empty()) return;
    std::string* slot = equal_nocase(field, "upgrade")      ? &upgrade
                        : equal_nocase(field, "connection") ? &connection
                        : equal_nocase(field, "sec-websocket-accept") ? &accept
                                                                      : nullptr;
    if (slot != nullptr) {
      if (!slot->empty()) slot->append(", ");
      slot->append(trim(value));
    }
    field.clear();
    value.clear();
    in_value = false;
  }
};

int on_field(llhttp_t* p, const char* at, size_t n) {
  auto* h = static_cast<Headers*>(p->data);
  if (h->in_value) h->finish_header();
  h->field.append(at, n);
  return 0;
}

int on_value(llhttp_t* p, const char* at, size_t n) {
  auto* h = static_cast<Headers*>(p->data);
  h->in_value = true;
  h->value.append(at, n);
  return 0;
}

int on_headers_complete(llhttp_t* p) {
  static_cast<Headers*>(p->data)->finish_header();
  return HPE_PAUSED;
}

WsClientResponse error(std::string text, int http_status = 0) {
  WsClientResponse r;
  r.status = WsClientResponse::Status::kError;
  r.http_status = http_status;
  r.error = std::move(text);
  return r;
}

}  // namespace

std::string ws_client_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return {};
  return auth::base64_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

std::string ws_client_request(std::string_view host, std::string_view path, std::string_view key,
                              std::string_view extra_headers) {
  std::string out;
  out.reserve(160 + host.size() + path.size() + extra_headers.size());
  out.append("GET ").append(path.empty() ? "/" : path).append(" HTTP/1.1\r\nHost: ");
  out.append(host).append(
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: ");
  out.append(key).append("\r\n").append(extra_headers).append("\r\n");
  return out;
}

WsClientResponse parse_ws_client_response(std::span<const uint8_t> in, std::string_view key,
                                          size_t max_header) {
  const std::string_view bytes(reinterpret_cast<const char*>(in.data()), in.size());
  const size_t end = bytes.find(kHeaderEnd);
  if (end == std::string_view::npos || end + kHeaderEnd.size() > max_header) {
    if (bytes.size() >= max_header) return error("response header block too large");
    return {};
  }
  const std::string_view block = bytes.substr(0, end + kHeaderEnd.size());

  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_header_field = on_field;
  settings.on_header_value = on_value;
  settings.on_headers_complete = on_headers_complete;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings);
  Headers headers;
  parser.data = &headers;
  const llhttp_errno_t err = llhttp_execute(&parser, block.data(), block.size());
  if (err != HPE_PAUSED) {
    return error(std::string("malformed response: ") + llhttp_errno_name(err));
  }
  const int status = parser.status_code;
  if (status != 101) return error("status " + std::to_string(status), status);
  if (!has_token(headers.upgrade, "websocket")) return error("no Upgrade: websocket", status);
  if (!has_token(headers.connection, "upgrade")) return error("no Connection: Upgrade", status);
  if (headers.accept != ws_accept_key(key)) return error("wrong Sec-WebSocket-Accept", status);
  WsClientResponse r;
  r.status = WsClientResponse::Status::kOk;
  r.consumed = block.size();
  r.http_status = status;
  return r;
}

}  // namespace parley::net
