// File uploads that stream (PROTOCOL.md "Files and images"): bodies of several chunks sent in
// pieces, Expect: 100-continue, refusals before the body, the bound on uploads at once, and a
// crash in the middle of an upload leaving nothing behind.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "e2e/chat_fixture.h"

namespace parley::test {
namespace {

const std::string kKey = "Authorization: Bearer backend-key\r\n";
constexpr size_t kChunk = 256 * 1024;  // the server's file chunk

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 977) % 256);
  return s;
}

std::string upload_head(size_t length, const std::string& headers = kKey,
                        const std::string& type = "application/octet-stream") {
  return "POST /v1/files?name=big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
         "Content-Type: " + type + "\r\nContent-Length: " + std::to_string(length) + "\r\n" +
         headers + "\r\n";
}

class UploadTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() +
           "api_key = \"backend-key\"\n[limits]\nmax_file = \"4MiB\"\nmax_uploads = 2\n";
  }
  HttpReply get(const std::string& path) {
    return http_request(http_port(), "GET", path, {}, kKey);
  }
  // Sum of a metric's samples whose labels contain `label` ("" for all).
  int64_t metric(const std::string& name, const std::string& label = "") {
    HttpReply m = get("/metrics");
    int64_t sum = 0;
    for (size_t at = m.body.find("\nparley_" + name + "{"); at != std::string::npos;
         at = m.body.find("\nparley_" + name + "{", at + 1)) {
      size_t sp = m.body.find("} ", at);
      if (m.body.substr(at, sp - at).find(label) == std::string::npos) continue;
      sum += std::stoll(m.body.substr(sp + 2, m.body.find('\n', sp) - sp - 2));
    }
    return sum;
  }
  // Waits (bounded) until metric() reaches at least `want`.
  bool metric_reaches(const std::string& name, const std::string& label, int64_t want) {
    for (int i = 0; i < 200; ++i) {
      if (metric(name, label) >= want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
};

INSTANTIATE_TEST_SUITE_P(Http, UploadTest, ::testing::Values(true),
                         [](const auto&) { return "WebSocket"; });

// Several chunks sent in small pieces with pauses: the server writes parts as they come (seen
// in its metrics before the body is complete) and the file reads back byte for byte.
TEST_P(UploadTest, StreamsABigBodyIntoTheStore) {
  const std::string bytes = pattern(3 * 1024 * 1024 + 12345);
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  ASSERT_TRUE(s.send_all(upload_head(bytes.size())));
  const size_t half = bytes.size() / 2;
  for (size_t off = 0; off < half; off += 64 * 1024) {
    ASSERT_TRUE(s.send_all(std::string_view(bytes).substr(off, std::min<size_t>(64 * 1024, half - off))));
  }
  // Half the body is in: at least one part (four chunks) is already in the store.
  EXPECT_TRUE(metric_reaches("upload_parts_total", "", 1));
  EXPECT_EQ(metric("uploads_active"), 1);
  ASSERT_TRUE(s.send_all(std::string_view(bytes).substr(half)));
  HttpReply up = read_http_reply(s);
  ASSERT_EQ(up.status, 201) << up.headers << up.body;
  EXPECT_EQ(json_int(up.body, "size"), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(json_str(up.body, "name"), "big.bin");
  HttpReply down = get("/v1/files/" + json_str(up.body, "file"));
  ASSERT_EQ(down.status, 200);
  EXPECT_TRUE(down.body == bytes) << down.body.size() << " bytes back";
  EXPECT_EQ(metric("uploads_total", "stored"), 1);
  EXPECT_EQ(metric("uploads_active"), 0);
  EXPECT_EQ(metric("upload_bytes_total"), static_cast<int64_t>(bytes.size()));

  // Exactly whole chunks, and a chunked (Transfer-Encoding) body of unknown length.
  const std::string even = pattern(4 * kChunk);
  HttpReply r = http_request(http_port(), "POST", "/v1/files", even,
                             kKey + "Content-Type: application/octet-stream\r\n");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(get("/v1/files/" + json_str(r.body, "file")).body == even);
  Socket c;
  ASSERT_TRUE(c.connect(http_port()));
  std::string chunked = "POST /v1/files HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        "Transfer-Encoding: chunked\r\n" + kKey + "\r\n";
  const std::string odd = pattern(kChunk + 5);
  for (size_t off = 0; off < odd.size(); off += 100000) {
    std::string_view piece = std::string_view(odd).substr(off, 100000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked += size;
    chunked += piece;
    chunked += "\r\n";
  }
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(c.send_all(chunked));
  HttpReply rc = read_http_reply(c);
  ASSERT_EQ(rc.status, 201) << rc.body;
  EXPECT_TRUE(get("/v1/files/" + json_str(rc.body, "file")).body == odd);
}

// A client that asks first gets "100 Continue" before it sends a byte of the body; one that may
// not upload is told so before it sends any, and the connection closes.
TEST_P(UploadTest, AnswersBeforeTheBody) {
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  const std::string body = pattern(kChunk + 1);
  ASSERT_TRUE(s.send_all(upload_head(body.size(), kKey + "Expect: 100-continue\r\n")));
  std::string got;
  while (got.find("\r\n\r\n") == std::string::npos && s.recv_some(got, 5000)) {
  }
  EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(s.send_all(body));
  HttpReply up = read_http_reply(s);
  EXPECT_EQ(up.status, 201) << up.body;

  for (const std::string& who : {std::string(), std::string("Authorization: Bearer nope\r\n")}) {
    Socket u;
    ASSERT_TRUE(u.connect(http_port()));
    ASSERT_TRUE(u.send_all(upload_head(3 * 1024 * 1024, who)));  // and no body at all
    HttpReply r = read_http_reply(u, 5000);
    EXPECT_EQ(r.status, 401) << r.body;
  }
  Socket t;
  ASSERT_TRUE(t.connect(http_port()));
  ASSERT_TRUE(t.send_all(upload_head(10, kKey, "nonsense")));
  EXPECT_EQ(read_http_reply(t, 5000).status, 400);
  // Over max_file from Content-Length: refused before the body, as before.
  Socket big;
  ASSERT_TRUE(big.connect(http_port()));
  ASSERT_TRUE(big.send_all(upload_head(4 * 1024 * 1024 + 1)));
  EXPECT_EQ(read_http_reply(big, 5000).status, 413);
}

// max_uploads = 2 over two shards is one per shard: of three uploads held open at once, at least
// one is turned away (503) at its headers; the others finish, and later uploads go through.
TEST_P(UploadTest, BoundsUploadsAtOnce) {
  const std::string body = pattern(2 * kChunk);
  std::vector<Socket> socks(3);
  for (Socket& s : socks) {
    ASSERT_TRUE(s.connect(http_port()));
    ASSERT_TRUE(s.send_all(upload_head(body.size())));
    ASSERT_TRUE(s.send_all(std::string_view(body).substr(0, kChunk / 2)));
  }
  ASSERT_TRUE(metric_reaches("uploads_active", "", 1));
  int refused = 0, stored = 0;
  for (Socket& s : socks) {
    // A refused one has its answer and is closed already; the others wait for their body.
    std::string early;
    if (s.recv_some(early, 300) && early.find(" 503 ") != std::string::npos) {
      ++refused;
      continue;
    }
    ASSERT_TRUE(s.send_all(std::string_view(body).substr(kChunk / 2)));
    HttpReply r = read_http_reply(s);
    if (r.status == 201) ++stored;
  }
  EXPECT_GE(refused, 1);
  EXPECT_EQ(refused + stored, 3);
  EXPECT_EQ(metric("uploads_total", "refused"), refused);
  HttpReply later = http_request(http_port(), "POST", "/v1/files", body, kKey);
  EXPECT_EQ(later.status, 201) << later.body;
}

// A client that goes away mid-upload, and a server killed mid-upload: neither leaves a file,
// and the parts already written are removed (at once, or by the sweep at the next start).
TEST_P(UploadTest, CutShortUploadsLeaveNothing) {
  const std::string body = pattern(3 * 1024 * 1024);
  {
    Socket s;
    ASSERT_TRUE(s.connect(http_port()));
    ASSERT_TRUE(s.send_all(upload_head(body.size())));
    ASSERT_TRUE(s.send_all(std::string_view(body).substr(0, 5 * kChunk)));
    ASSERT_TRUE(metric_reaches("upload_parts_total", "", 1));
  }  // closed mid-body
  EXPECT_TRUE(metric_reaches("uploads_total", "aborted", 1));
  EXPECT_EQ(metric("uploads_active"), 0);

  const int64_t parts_before = metric("upload_parts_total");  // the first one wrote one or two
  Socket s;
  ASSERT_TRUE(s.connect(http_port()));
  ASSERT_TRUE(s.send_all(upload_head(body.size())));
  ASSERT_TRUE(s.send_all(std::string_view(body).substr(0, 6 * kChunk)));
  ASSERT_TRUE(metric_reaches("upload_parts_total", "", parts_before + 1));
  ASSERT_TRUE(restart(SIGKILL));
  EXPECT_NE(server_.log().find("discarded 1 unfinished upload"), std::string::npos)
      << server_.log();
  // The aborted one was cleaned up before the crash: a clean restart finds nothing to sweep.
  ASSERT_TRUE(restart(SIGTERM));
  EXPECT_EQ(server_.log().find("unfinished upload"), std::string::npos) << server_.log();
}

}  // namespace
}  // namespace parley::test
