// Serializing HTTP/1.1 responses. Pure functions, any thread.
#pragma once

#include <string>
#include <string_view>

namespace parley::http {

// The standard reason phrase for `status` ("Not Found"), or "Unknown" for codes not listed.
const char* http_reason(int status);

// Serializes a complete response: status line, Content-Type (if non-empty), Content-Length,
// "Connection: close" when !keep_alive, then `extra_headers` verbatim (zero or more complete
// "Name: value\r\n" lines), a blank line and `body`. For 1xx and 204 no Content-Length is sent
// (RFC 9110 forbids it) and `body` must be empty.
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, std::string_view extra_headers = {});

// A JSON error response: body {"error":CODE,"message":TEXT}, both JSON-escaped (invalid UTF-8
// becomes U+FFFD), Content-Type application/json.
std::string http_json_error(int status, std::string_view code, std::string_view message,
                            bool keep_alive);

}  // namespace parley::http
