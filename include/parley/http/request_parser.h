// Incremental HTTP/1.1 request parser over llhttp. Pure: bytes in, Request out, no sockets.
// One parser per connection; it belongs to the connection's thread and is not thread-safe.
//
// Caller loop (pipelining): keep the unconsumed bytes; feed them; on kRequest handle request(),
// drop `consumed` bytes, call next() and feed the rest again; on kNeedMore wait for more bytes;
// on kError answer `http_status` (with keep_alive = false) and close.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "parley/http/request.h"

namespace parley::http {

// Every limit is checked while bytes arrive, so a connection never buffers more than these.
struct HttpLimits {
  size_t max_header_bytes = 16384;  // request-target + header names + values of one request; 431
  size_t max_body = 1 << 20;        // decoded body bytes; 413 (early, from Content-Length)
  size_t max_headers = 64;          // header lines of one request; 431
  size_t max_target = 8192;         // request-target bytes; 414
  // When set, gives the body limit of each request instead of max_body, from its method, path
  // and headers (e.g. a larger one for file uploads). Called once the headers are complete.
  std::function<size_t(const Request&)> body_limit = nullptr;
};

enum class HttpParseStatus : uint8_t {
  kNeedMore,  // all input consumed; the request is not complete yet
  kRequest,   // request() is complete
  kError,     // malformed or over a limit; answer http_status and close
};

struct HttpParseResult {
  HttpParseStatus status;
  // kNeedMore: the whole input. kRequest: bytes up to the end of this request (for an Upgrade
  // request, up to the end of its headers: what follows belongs to the new protocol).
  // kError: bytes up to the offending one (informational only).
  size_t consumed;
  int http_status;         // kError only: 400, 413 (body), 431 (headers), 414 (target); else 0
  std::string_view error;  // kError only: a short static description, for logs
};

class RequestParser {
 public:
  explicit RequestParser(HttpLimits limits = {});
  // A moved-from parser may only be destroyed or assigned to.
  RequestParser(RequestParser&&) noexcept;
  RequestParser& operator=(RequestParser&&) noexcept;
  ~RequestParser();

  // Feeds bytes; stops after one complete request. `in` is not retained after the call.
  // Once kRequest or kError has been returned, later calls return the same status with
  // consumed = 0 until next(). Safe on arbitrary bytes.
  HttpParseResult feed(std::span<const uint8_t> in);

  // The request being built; complete only after kRequest. The caller may move fields out.
  const Request& request() const;
  Request& request();

  // Clears request() and readies the parser for the next request on the same connection. After a
  // request with keep_alive = false, llhttp discards any further bytes (kNeedMore): the caller
  // should answer and close instead. After kError or an upgrade, next() starts over from scratch.
  void next();

  // True once any byte has been fed since construction or the last next() (the caller arms the
  // header timeout on it).
  bool in_progress() const;

  // True once the current request's headers are complete: request() then holds its method,
  // target, path, query and headers, but not yet its body. Lets the caller answer
  // "Expect: 100-continue" (or disarm the header timeout) while the body is still arriving.
  bool headers_complete() const;

  // Body bytes of the current request received so far. The body limit counts these, so a caller
  // that streams a body may take bytes out of request().body as they arrive.
  size_t body_received() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;  // heap-pinned: llhttp holds a pointer to it
};

}  // namespace parley::http
