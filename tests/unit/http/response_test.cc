#include "parley/http/response.h"

#include <gtest/gtest.h>

namespace parley::http {
namespace {

TEST(HttpReason, Known) {
  EXPECT_STREQ(http_reason(200), "OK");
  EXPECT_STREQ(http_reason(201), "Created");
  EXPECT_STREQ(http_reason(404), "Not Found");
  EXPECT_STREQ(http_reason(413), "Content Too Large");
  EXPECT_STREQ(http_reason(431), "Request Header Fields Too Large");
  EXPECT_STREQ(http_reason(503), "Service Unavailable");
  EXPECT_STREQ(http_reason(799), "Unknown");
}

TEST(HttpResponse, KeepAlive) {
  EXPECT_EQ(http_response(200, "text/plain", "hello", true),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 5\r\n"
            "\r\n"
            "hello");
}

TEST(HttpResponse, CloseAndExtraHeaders) {
  EXPECT_EQ(http_response(201, "application/json", "{}", false, "X-A: 1\r\nX-B: 2\r\n"),
            "HTTP/1.1 201 Created\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 2\r\n"
            "Connection: close\r\n"
            "X-A: 1\r\n"
            "X-B: 2\r\n"
            "\r\n"
            "{}");
}

TEST(HttpResponse, NoContentType) {
  EXPECT_EQ(http_response(404, "", "", true),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

TEST(HttpResponse, NoLengthFor1xxAnd204) {
  EXPECT_EQ(http_response(204, "", "", true), "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(
      http_response(101, "", "", true, "Upgrade: websocket\r\nConnection: Upgrade\r\n"),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
}

TEST(HttpJsonError, Body) {
  EXPECT_EQ(http_json_error(401, "unauthorized", "bad token", true),
            "HTTP/1.1 401 Unauthorized\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 46\r\n"
            "\r\n"
            "{\"error\":\"unauthorized\",\"message\":\"bad token\"}");
}

std::string body_of(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

TEST(HttpJsonError, Escapes) {
  EXPECT_EQ(body_of(http_json_error(400, "bad_request", "a \"q\" \\ b\n\t\x01\x7f", false)),
            "{\"error\":\"bad_request\",\"message\":\"a \\\"q\\\" \\\\ b\\n\\t\\u0001\x7f\"}");
}

TEST(HttpJsonError, Utf8) {
  // Valid UTF-8 is copied; invalid bytes become U+FFFD.
  EXPECT_EQ(body_of(http_json_error(400, "x", "\xe4\xbd\xa0\xf0\x9f\x98\x80", false)),
            "{\"error\":\"x\",\"message\":\"\xe4\xbd\xa0\xf0\x9f\x98\x80\"}");
  EXPECT_EQ(body_of(http_json_error(400, "x",
                                    "a\xff"
                                    "b\xe4\xbd"
                                    "c\xc0\x80\xed\xa0\x80",
                                    false)),
            "{\"error\":\"x\",\"message\":\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffd\\ufffd"
            "\\ufffd\"}");
  EXPECT_EQ(body_of(http_json_error(400, "x", std::string("nul\0end", 7), false)),
            "{\"error\":\"x\",\"message\":\"nul\\u0000end\"}");
}

}  // namespace
}  // namespace parley::http
