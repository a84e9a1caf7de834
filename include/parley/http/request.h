// One parsed HTTP/1.x request, as RequestParser builds it. Owns all its bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::http {

struct Header {
  std::string name;   // lower-cased
  std::string value;  // leading and trailing spaces and tabs removed
};

struct Request {
  std::string method;  // "GET", "POST", ... (upper case, as llhttp names it)
  std::string target;  // raw request-target, e.g. "/v1/files?name=a%20b"
  std::string path;    // percent-decoded path part of target ('+' stays '+'), e.g. "/v1/files"
  std::string query;   // raw query string after '?' (not decoded), "" if none
  std::vector<Header> headers;  // in arrival order, repeats kept; trailers are not included
  std::string body;             // decoded body (chunked transfer coding removed)
  uint8_t version_major = 1, version_minor = 1;
  bool keep_alive = true;  // false: answer, then close (HTTP/1.0 default, "Connection: close")
  // An Upgrade (Connection: upgrade + Upgrade: ...) or CONNECT request: the bytes after it belong
  // to another protocol, so the parser stops there. The caller checks which protocol is asked for.
  bool upgrade = false;

  // The value of the first header named `lower_name` (which must be lower case), or nullptr.
  // The pointer is valid until the request is changed or the parser's next() is called.
  const std::string* header(std::string_view lower_name) const {
    for (const Header& h : headers) {
      if (h.name == lower_name) return &h.value;
    }
    return nullptr;
  }
};

}  // namespace parley::http
