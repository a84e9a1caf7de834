// libFuzzer target: the HTTP/1.1 request parser on arbitrary bytes. The first byte chooses the
// chunk size the stream arrives in, the second shrinks the limits. The fuzzer drives the parser
// like a connection does (keep unconsumed bytes, next() after each request), checks the limits
// hold, and checks that the requests found do not depend on how the stream was split.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/http/request_parser.h"

namespace {

using parley::http::HttpLimits;
using parley::http::HttpParseStatus;
using parley::http::Request;
using parley::http::RequestParser;

// One request (summarised) or the error that ended the stream.
std::string describe(const Request& r) {
  std::string s = r.method + ' ' + r.target + ' ' + r.path + '?' + r.query + ' ';
  s += std::to_string(r.version_major) + '.' + std::to_string(r.version_minor);
  s += r.keep_alive ? " ka" : " close";
  s += r.upgrade ? " upgrade\n" : "\n";
  for (const auto& h : r.headers) s += h.name + ':' + h.value + '\n';
  return s + r.body;
}

void check_limits(const Request& r, const HttpLimits& limits) {
  if (r.target.size() > limits.max_target) __builtin_trap();
  if (r.headers.size() > limits.max_headers) __builtin_trap();
  if (r.body.size() > limits.max_body) __builtin_trap();
  size_t header_bytes = r.target.size();
  for (const auto& h : r.headers) {
    header_bytes += h.name.size() + h.value.size();
    for (char c : h.name) {
      if (c >= 'A' && c <= 'Z') __builtin_trap();
    }
    if (r.header(h.name) == nullptr) __builtin_trap();
  }
  if (header_bytes > limits.max_header_bytes) __builtin_trap();
}

// Feeds `in` in chunks of `chunk` bytes (0: all at once); returns what the connection saw.
// Stops at the first error; after an upgrade, starts over on the bytes that follow.
std::vector<std::string> events_of(std::string_view in, size_t chunk, const HttpLimits& limits) {
  std::vector<std::string> events;
  RequestParser parser(limits);
  std::string buf;
  for (size_t pos = 0; pos < in.size();) {
    const size_t n = chunk == 0 ? in.size() : std::min(chunk, in.size() - pos);
    buf.append(in.substr(pos, n));
    pos += n;
    while (!buf.empty()) {
      const auto r = parser.feed({reinterpret_cast<const uint8_t*>(buf.data()), buf.size()});
      if (r.consumed > buf.size()) __builtin_trap();
      if (!parser.in_progress()) __builtin_trap();
      if (r.status == HttpParseStatus::kNeedMore) {
        if (r.consumed != buf.size()) __builtin_trap();
        buf.clear();
        break;
      }
      if (r.status == HttpParseStatus::kError) {
        if (r.http_status != 400 && r.http_status != 413 && r.http_status != 414 &&
            r.http_status != 431) {
          __builtin_trap();
        }
        if (r.error.empty()) __builtin_trap();
        // Only the fact of the error is compared: which one comes first may depend on the split
        // (llhttp reports a partial target to on_url at the end of each chunk, so a target that
        // is both too long and malformed is a 414 in small chunks and a 400 in one piece).
        events.push_back("error");
        return events;
      }
      check_limits(parser.request(), limits);
      events.push_back(describe(parser.request()));
      buf.erase(0, r.consumed);
      parser.next();
      if (parser.in_progress() || !parser.request().headers.empty()) __builtin_trap();
    }
  }
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t chunk = data[0] % 32;
  HttpLimits limits;
  if (data[1] & 1) limits.max_header_bytes = 64;
  if (data[1] & 2) limits.max_body = 16;
  if (data[1] & 4) limits.max_headers = 3;
  if (data[1] & 8) limits.max_target = 16;
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  if (events_of(in, 0, limits) != events_of(in, chunk, limits)) __builtin_trap();
  return 0;
}
