#include "parley/http/request_parser.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace parley::http {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// What a connection sees after receiving a byte stream in given chunks.
struct Outcome {
  std::vector<Request> requests;
  std::vector<size_t> ends;  // stream offset just past each request (its consumed bytes)
  int error_status = 0;      // kError's http_status, 0 if none
  std::string_view error;
  size_t error_at = 0;       // bytes received when the error was reported
  std::string leftover;      // after an upgrade: unconsumed bytes, then the rest of the stream
  bool in_progress = false;  // parser state after the last chunk
};

// Simulates the connection: keeps unconsumed bytes, re-feeds them after each request and next(),
// stops at an error or an upgrade.
Outcome run(std::string_view input, const std::vector<size_t>& chunks, HttpLimits limits) {
  Outcome out;
  RequestParser parser(limits);
  std::string buf;
  size_t received = 0;
  size_t stream_pos = 0;  // stream offset of buf[0]
  for (size_t len : chunks) {
    buf.append(input.substr(received, len));
    received += len;
    while (!buf.empty()) {
      HttpParseResult r = parser.feed(bytes(buf));
      EXPECT_LE(r.consumed, buf.size());
      if (r.status == HttpParseStatus::kNeedMore) {
        EXPECT_EQ(r.consumed, buf.size());
        EXPECT_TRUE(parser.in_progress());
        stream_pos += buf.size();
        buf.clear();
        break;
      }
      if (r.status == HttpParseStatus::kError) {
        out.error_status = r.http_status;
        out.error = r.error;
        out.error_at = received;
        // Stuck until next().
        EXPECT_EQ(parser.feed(bytes(buf)).status, HttpParseStatus::kError);
        return out;
      }
      EXPECT_EQ(parser.feed(bytes(buf)).consumed, 0u) << "a finished request must not consume";
      buf.erase(0, r.consumed);
      stream_pos += r.consumed;
      out.requests.push_back(parser.request());
      out.ends.push_back(stream_pos);
      if (parser.request().upgrade) {
        out.leftover = buf + std::string(input.substr(received));
        return out;
      }
      parser.next();
      EXPECT_FALSE(parser.in_progress());
    }
  }
  out.in_progress = parser.in_progress();
  return out;
}

// Runs `check` on the outcome of every way of splitting `input`: whole, two chunks split at every
// offset, and one byte at a time.
void for_each_split(std::string_view input, HttpLimits limits,
                    const std::function<void(const Outcome&)>& check) {
  {
    SCOPED_TRACE("whole");
    check(run(input, {input.size()}, limits));
  }
  for (size_t i = 0; i <= input.size(); ++i) {
    SCOPED_TRACE("split at " + std::to_string(i));
    check(run(input, {i, input.size() - i}, limits));
  }
  {
    SCOPED_TRACE("byte by byte");
    check(run(input, std::vector<size_t>(input.size(), 1), limits));
  }
}

void for_each_split(std::string_view input, const std::function<void(const Outcome&)>& check) {
  for_each_split(input, HttpLimits{}, check);
}

void expect_error(std::string_view input, int status, HttpLimits limits = {}) {
  for_each_split(input, limits, [&](const Outcome& o) {
    EXPECT_TRUE(o.requests.empty());
    EXPECT_EQ(o.error_status, status) << o.error;
    EXPECT_FALSE(o.error.empty());
  });
}

TEST(RequestParser, GetWithHeaders) {
  const std::string in =
      "GET /v1/online?after=bob&limit=10 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "Authorization:   Bearer abc.def  \r\n"
      "X-Empty:\r\n"
      "X-Dup: one\r\n"
      "x-dup: two\r\n"
      "\r\n";
  for_each_split(in, [&](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    const Request& r = o.requests[0];
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/v1/online?after=bob&limit=10");
    EXPECT_EQ(r.path, "/v1/online");
    EXPECT_EQ(r.query, "after=bob&limit=10");
    EXPECT_EQ(r.version_major, 1);
    EXPECT_EQ(r.version_minor, 1);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_FALSE(r.upgrade);
    EXPECT_TRUE(r.body.empty());
    ASSERT_EQ(r.headers.size(), 5u);
    EXPECT_EQ(r.headers[0].name, "host");
    EXPECT_EQ(r.headers[0].value, "example.com");
    ASSERT_NE(r.header("authorization"), nullptr);
    EXPECT_EQ(*r.header("authorization"), "Bearer abc.def");
    ASSERT_NE(r.header("x-empty"), nullptr);
    EXPECT_EQ(*r.header("x-empty"), "");
    EXPECT_EQ(*r.header("x-dup"), "one");
    EXPECT_EQ(r.headers[4].value, "two");
    EXPECT_EQ(r.header("missing"), nullptr);
    EXPECT_EQ(o.ends, std::vector<size_t>{in.size()});
    EXPECT_FALSE(o.in_progress);
  });
}

TEST(RequestParser, PostWithContentLength) {
  const std::string in =
      "POST /v1/users HTTP/1.1\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 33\r\n"
      "\r\n"
      "{\"user\":\"alice\",\"password\":\"pw\"}\n";
  for_each_split(in, [&](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    EXPECT_EQ(o.requests[0].method, "POST");
    EXPECT_EQ(o.requests[0].body, "{\"user\":\"alice\",\"password\":\"pw\"}\n");
    EXPECT_EQ(o.ends, std::vector<size_t>{in.size()});
  });
}

TEST(RequestParser, ChunkedBody) {
  const std::string in =
      "POST /v1/files?name=a.txt HTTP/1.1\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "5\r\nhello\r\n"
      "7;ext=1\r\n, world\r\n"
      "0\r\n"
      "X-Trailer: t\r\n"
      "\r\n";
  for_each_split(in, [&](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    const Request& r = o.requests[0];
    EXPECT_EQ(r.body, "hello, world");
    EXPECT_EQ(r.header("x-trailer"), nullptr) << "trailers are not headers";
    ASSERT_NE(r.header("transfer-encoding"), nullptr);
    EXPECT_EQ(o.ends, std::vector<size_t>{in.size()});
  });
}

TEST(RequestParser, PipelinedRequests) {
  const std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string b = "GET /b HTTP/1.1\r\n\r\n";
  const std::string c = "POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
  for_each_split(a + b + c, [&](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 3u) << o.error;
    EXPECT_EQ(o.requests[0].path, "/a");
    EXPECT_EQ(o.requests[0].headers.size(), 1u);
    EXPECT_EQ(o.requests[1].path, "/b");
    EXPECT_TRUE(o.requests[1].headers.empty()) << "next() must clear the previous request";
    EXPECT_EQ(o.requests[2].method, "POST");
    EXPECT_EQ(o.requests[2].body, "xyz");
    EXPECT_EQ(o.ends, (std::vector<size_t>{a.size(), a.size() + b.size(), (a + b + c).size()}));
  });
}

TEST(RequestParser, PartialRequestIsInProgress) {
  Outcome o = run("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HT", {38}, {});
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_TRUE(o.in_progress);

  RequestParser p;
  EXPECT_FALSE(p.in_progress());
  EXPECT_EQ(p.feed({}).status, HttpParseStatus::kNeedMore);
  EXPECT_FALSE(p.in_progress());
  EXPECT_EQ(p.feed(bytes("G")).status, HttpParseStatus::kNeedMore);
  EXPECT_TRUE(p.in_progress());
}

TEST(RequestParser, HeadersCompleteBeforeBody) {
  RequestParser p;
  const std::string head =
      "POST /v1/files HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  EXPECT_EQ(p.feed(bytes(head.substr(0, 20))).status, HttpParseStatus::kNeedMore);
  EXPECT_FALSE(p.headers_complete());
  EXPECT_EQ(p.feed(bytes(head.substr(20))).status, HttpParseStatus::kNeedMore);
  ASSERT_TRUE(p.headers_complete());
  EXPECT_EQ(p.request().path, "/v1/files");
  EXPECT_EQ(*p.request().header("expect"), "100-continue");
  EXPECT_EQ(p.feed(bytes("da")).status, HttpParseStatus::kNeedMore);
  HttpParseResult r = p.feed(bytes("ta"));
  ASSERT_EQ(r.status, HttpParseStatus::kRequest);
  EXPECT_EQ(r.consumed, 2u);
  EXPECT_EQ(p.request().body, "data");
  p.next();
  EXPECT_FALSE(p.headers_complete());
}

TEST(RequestParser, KeepAlive) {
  for_each_split("GET / HTTP/1.1\r\n\r\n", [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_TRUE(o.requests[0].keep_alive);
  });
  for_each_split("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_FALSE(o.requests[0].keep_alive);
  });
  for_each_split("GET / HTTP/1.0\r\n\r\n", [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_FALSE(o.requests[0].keep_alive);
    EXPECT_EQ(o.requests[0].version_minor, 0);
  });
  for_each_split("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_TRUE(o.requests[0].keep_alive);
  });
}

// llhttp (loose mode) discards what follows a request with "Connection: close".
TEST(RequestParser, DataAfterConnectionCloseIsDiscarded) {
  const std::string in = "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  for_each_split(in, [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u);
    EXPECT_FALSE(o.requests[0].keep_alive);
    EXPECT_EQ(o.error_status, 0);
  });
}

TEST(RequestParser, WebSocketUpgradeLeavesFrameBytes) {
  const std::string head =
      "GET /ws HTTP/1.1\r\n"
      "Host: localhost:8080\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "\r\n";
  const std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  for_each_split(head + frame, [&](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    EXPECT_EQ(o.error_status, 0);
    const Request& r = o.requests[0];
    EXPECT_TRUE(r.upgrade);
    EXPECT_EQ(r.path, "/ws");
    EXPECT_EQ(*r.header("upgrade"), "websocket");
    EXPECT_EQ(*r.header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    EXPECT_EQ(o.ends, std::vector<size_t>{head.size()});
    EXPECT_EQ(o.leftover, frame);
  });
}

TEST(RequestParser, UpgradeHeaderWithoutConnectionUpgradeIsPlain) {
  const std::string in = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
  for_each_split(in, [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 2u) << o.error;
    EXPECT_FALSE(o.requests[0].upgrade);
  });
}

// llhttp semantics: an upgrade request with a body is upgraded after its body.
TEST(RequestParser, UpgradeWithBodyEndsAfterBody) {
  const std::string head =
      "POST /ws HTTP/1.1\r\nUpgrade: foo\r\nConnection: upgrade\r\nContent-Length: 2\r\n\r\nab";
  for_each_split(head + "rest", [&](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    EXPECT_TRUE(o.requests[0].upgrade);
    EXPECT_EQ(o.requests[0].body, "ab");
    EXPECT_EQ(o.ends, std::vector<size_t>{head.size()});
    EXPECT_EQ(o.leftover, "rest");
  });
}

TEST(RequestParser, ConnectIsAnUpgrade) {
  for_each_split("CONNECT example.com:443 HTTP/1.1\r\n\r\nxx", [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    EXPECT_TRUE(o.requests[0].upgrade);
    EXPECT_EQ(o.requests[0].method, "CONNECT");
    EXPECT_EQ(o.leftover, "xx");
  });
}

TEST(RequestParser, NextAfterUpgradeStartsOver) {
  RequestParser p;
  const std::string in = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
  HttpParseResult r = p.feed(bytes(in + "junk"));
  ASSERT_EQ(r.status, HttpParseStatus::kRequest);
  EXPECT_EQ(r.consumed, in.size());
  p.next();
  r = p.feed(bytes("GET /again HTTP/1.1\r\n\r\n"));
  ASSERT_EQ(r.status, HttpParseStatus::kRequest);
  EXPECT_EQ(p.request().path, "/again");
  EXPECT_FALSE(p.request().upgrade);
}

TEST(RequestParser, HeadersTooLarge) {
  HttpLimits limits;
  limits.max_header_bytes = 100;
  const std::string in = "GET / HTTP/1.1\r\nX-Big: " + std::string(120, 'a') + "\r\n\r\n";
  expect_error(in, 431, limits);
  // The count spans every header: many small ones add up.
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 10; ++i) many += "X-H" + std::to_string(i) + ": 0123456789\r\n";
  expect_error(many + "\r\n", 431, limits);
  // Just under the limit passes: target (1) + name (5) + value (94) = 100.
  for_each_split("GET / HTTP/1.1\r\nX-Big: " + std::string(94, 'a') + "\r\n\r\n", limits,
                 [](const Outcome& o) { EXPECT_EQ(o.requests.size(), 1u) << o.error; });
}

TEST(RequestParser, HeadersTooLargeWithDefaultLimits) {
  RequestParser p;
  const std::string in = "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a');
  HttpParseResult r = p.feed(bytes(in));
  EXPECT_EQ(r.status, HttpParseStatus::kError);
  EXPECT_EQ(r.http_status, 431);
}

TEST(RequestParser, TooManyHeaders) {
  HttpLimits limits;
  limits.max_headers = 4;
  std::string four = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 4; ++i) four += "H" + std::to_string(i) + ": v\r\n";
  for_each_split(four + "\r\n", limits, [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    EXPECT_EQ(o.requests[0].headers.size(), 4u);
  });
  expect_error(four + "H4: v\r\n\r\n", 431, limits);
}

TEST(RequestParser, BodyTooLargeBeforeItArrives) {
  HttpLimits limits;
  limits.max_body = 10;
  // No body bytes are sent: the error comes from Content-Length alone.
  const std::string head = "POST /v1/files HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
  for_each_split(head, limits, [&](const Outcome& o) {
    EXPECT_EQ(o.error_status, 413);
    EXPECT_EQ(o.error_at, head.size());
  });
  for_each_split("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits,
                 [](const Outcome& o) {
                   ASSERT_EQ(o.requests.size(), 1u) << o.error;
                   EXPECT_EQ(o.requests[0].body, "0123456789");
                 });
  expect_error("POST / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n", 413);
}

TEST(RequestParser, ChunkedBodyOverLimit) {
  HttpLimits limits;
  limits.max_body = 10;
  expect_error(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n",
      413, limits);
  for_each_split(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n",
      limits, [](const Outcome& o) {
        ASSERT_EQ(o.requests.size(), 1u) << o.error;
        EXPECT_EQ(o.requests[0].body, "abcdefghij");
      });
}

TEST(RequestParser, TargetTooLong) {
  HttpLimits limits;
  limits.max_target = 50;
  expect_error("GET /" + std::string(50, 'a') + " HTTP/1.1\r\n\r\n", 414, limits);
  for_each_split("GET /" + std::string(49, 'a') + " HTTP/1.1\r\n\r\n", limits,
                 [](const Outcome& o) { EXPECT_EQ(o.requests.size(), 1u) << o.error; });
  RequestParser p;
  HttpParseResult r = p.feed(bytes("GET /" + std::string(9000, 'a')));
  EXPECT_EQ(r.status, HttpParseStatus::kError);
  EXPECT_EQ(r.http_status, 414);
}

TEST(RequestParser, Garbage) {
  expect_error(std::string("\x00\x01\x02\x03\xff\xfe garbage\r\n\r\n", 18), 400);
  expect_error("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400);  // a TLS ClientHello
  expect_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400);
  expect_error("GET / HTTP/9.9\r\n\r\n", 400);
}

TEST(RequestParser, BadMethod) {
  expect_error("FOO / HTTP/1.1\r\n\r\n", 400);
  expect_error("get / HTTP/1.1\r\n\r\n", 400);
}

TEST(RequestParser, HeaderWithoutColon) {
  expect_error("GET / HTTP/1.1\r\nHost example.com\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400);
}

TEST(RequestParser, ControlCharacterInHeaderValue) {
  expect_error(std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26), 400);
  expect_error("GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400);
  for_each_split("GET / HTTP/1.1\r\nX: tab\there \xc3\xa9\r\n\r\n", [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    EXPECT_EQ(*o.requests[0].header("x"), "tab\there \xc3\xa9");
  });
}

TEST(RequestParser, PercentDecodedPath) {
  for_each_split("GET /v1/users/al%69ce%20b+c/presence?x=%41 HTTP/1.1\r\n\r\n",
                 [](const Outcome& o) {
                   ASSERT_EQ(o.requests.size(), 1u) << o.error;
                   EXPECT_EQ(o.requests[0].path, "/v1/users/alice b+c/presence");
                   EXPECT_EQ(o.requests[0].query, "x=%41");
                 });
  expect_error("GET /bad%zzescape HTTP/1.1\r\n\r\n", 400);
  expect_error("GET /bad% HTTP/1.1\r\n\r\n", 400);
}

TEST(RequestParser, AbsoluteFormTarget) {
  for_each_split("GET http://example.com:8080/healthz?a=1 HTTP/1.1\r\n\r\n", [](const Outcome& o) {
    ASSERT_EQ(o.requests.size(), 1u) << o.error;
    EXPECT_EQ(o.requests[0].path, "/healthz");
    EXPECT_EQ(o.requests[0].query, "a=1");
  });
}

TEST(RequestParser, NextAfterErrorStartsOver) {
  RequestParser p;
  EXPECT_EQ(p.feed(bytes("BAD\x01")).status, HttpParseStatus::kError);
  p.next();
  ASSERT_EQ(p.feed(bytes("GET /ok HTTP/1.1\r\n\r\n")).status, HttpParseStatus::kRequest);
  EXPECT_EQ(p.request().path, "/ok");
}

TEST(RequestParser, MovedParserKeepsWorking) {
  RequestParser a;
  EXPECT_EQ(a.feed(bytes("GET /mo")).status, HttpParseStatus::kNeedMore);
  RequestParser b(std::move(a));
  ASSERT_EQ(b.feed(bytes("ved HTTP/1.1\r\n\r\n")).status, HttpParseStatus::kRequest);
  EXPECT_EQ(b.request().path, "/moved");
}

// A caller that streams a body takes bytes out of request().body as they come; the limit still
// counts them all.
TEST(RequestParser, StreamedBodyCountsTowardTheLimit) {
  HttpLimits limits;
  limits.max_body = 10;
  RequestParser p(limits);
  const std::string head = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  HttpParseResult r = p.feed(bytes(head + "6\r\nabcdef\r\n"));
  ASSERT_EQ(r.status, HttpParseStatus::kNeedMore);
  EXPECT_TRUE(p.headers_complete());
  EXPECT_EQ(p.body_received(), 6u);
  EXPECT_EQ(p.request().body, "abcdef");
  p.request().body.clear();  // taken by the caller
  r = p.feed(bytes("5\r\nghijk\r\n"));
  EXPECT_EQ(r.status, HttpParseStatus::kError);
  EXPECT_EQ(r.http_status, 413);

  RequestParser q(limits);
  ASSERT_EQ(q.feed(bytes(head + "6\r\nabcdef\r\n")).status, HttpParseStatus::kNeedMore);
  q.request().body.clear();
  ASSERT_EQ(q.feed(bytes("4\r\nghij\r\n0\r\n\r\n")).status, HttpParseStatus::kRequest);
  EXPECT_EQ(q.request().body, "ghij");
  EXPECT_EQ(q.body_received(), 10u);
  q.next();
  EXPECT_EQ(q.body_received(), 0u);
}

}  // namespace
}  // namespace parley::http
