// A chat client over WebSocket or TCP with a little protocol sugar, and a parleyd fixture
// parameterized by transport, shared by the chat, group and presence end-to-end tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "e2e/fixture.h"

namespace parley::test {

// One chat connection over WebSocket or TCP, with a little protocol sugar. Frames that are not
// the reply being waited for (msg, receipt, typing, kicked) are kept in `pushes` in order.
class Chat {
 public:
  Chat(bool websocket, uint16_t http_port, uint16_t tcp_port) : ws_(websocket) {
    if (ws_) {
      connected_ = wsc_.connect(http_port) == 101;
    } else {
      connected_ = tcpc_.connect(tcp_port);
    }
  }
  bool connected() const { return connected_; }

  void send(const std::string& json) {
    if (ws_) {
      wsc_.send_text(json);
    } else {
      tcpc_.send(json);
    }
  }
  std::optional<std::string> recv(int timeout_ms = 5000) {
    return ws_ ? wsc_.recv_text(timeout_ms) : tcpc_.recv(timeout_ms);
  }

  // Sends a request with a fresh numeric id and returns its reply ("" on timeout).
  std::string call(const std::string& body_without_braces) {
    int64_t id = next_id_++;
    send("{\"id\":" + std::to_string(id) + "," + body_without_braces + "}");
    return reply_for(id);
  }
  std::string reply_for(int64_t id, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto f = recv(timeout_ms);
      if (!f) return "";
      if (json_int(*f, "id") == id) return *f;
      pushes.push_back(*f);
    }
    return "";
  }
  // The next push with op == `op` (from `pushes` first), "" on timeout.
  std::string next(std::string_view op, int timeout_ms = 5000) {
    for (auto it = pushes.begin(); it != pushes.end(); ++it) {
      if (json_str(*it, "op") == op) {
        std::string f = *it;
        pushes.erase(it);
        return f;
      }
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto f = recv(timeout_ms);
      if (!f) return "";
      if (json_str(*f, "op") == op) return *f;
      pushes.push_back(*f);
    }
    return "";
  }
  // True if nothing with op `op` arrives within timeout_ms.
  bool quiet(std::string_view op, int timeout_ms = 300) { return next(op, timeout_ms).empty(); }

  std::string login(const std::string& user, const std::string& password,
                    const std::string& device = "default", const std::string& extra = "") {
    return call(R"("op":"login","user":")" + user + R"(","password":")" + password +
                R"(","device":")" + device + "\"" + extra);
  }
  std::string send_to(const std::string& to, const std::string& cid, const std::string& body) {
    return call(R"("op":"send","to":")" + to + R"(","cid":")" + cid + R"(","body":")" + body +
                "\"");
  }

  std::deque<std::string> pushes;
  int64_t next_id_ = 1;

 private:
  bool ws_;
  bool connected_ = false;
  WsClient wsc_;
  TcpClient tcpc_;
};

inline bool is_ok(const std::string& reply) { return json_str(reply, "op") == "ok"; }
inline std::string code_of(const std::string& reply) { return json_str(reply, "code"); }

class ChatTest : public ParleydTest, public ::testing::WithParamInterface<bool> {
 protected:
  // No rate limit: some tests send a thousand messages at once (limits_test.cc sets one).
  std::vector<std::string> extra_args() const override {
    return {"--sync", "always", "--rate-limit", "0"};
  }
  std::string extra_config() const override {
    // Cheap password hashing keeps the suite fast; the default cost is tested in unit tests.
    return "[auth]\nscrypt_n = 1024\njwt_secret = \"e2e-secret\"\n";
  }
  std::unique_ptr<Chat> client() {
    auto c = std::make_unique<Chat>(GetParam(), http_port(), tcp_port());
    EXPECT_TRUE(c->connected());
    return c;
  }
  void register_user(const std::string& user, const std::string& password = "secret1") {
    auto c = client();
    std::string r = c->call(R"("op":"register","user":")" + user + R"(","password":")" +
                            password + "\"");
    ASSERT_TRUE(is_ok(r)) << r;
    EXPECT_GT(json_int(r, "uid"), 0);
  }
  std::unique_ptr<Chat> logged_in(const std::string& user, const std::string& device = "default",
                                  const std::string& extra = "") {
    auto c = client();
    std::string r = c->login(user, "secret1", device, extra);
    EXPECT_TRUE(is_ok(r)) << r;
    c->pushes.clear();
    last_login_ = r;
    return c;
  }
  std::string last_login_;

  // Crash under load: `a` sends kTotal sends (to = `target`, e.g. R"("to":"bob")", cids k0,
  // k1, ...) from another thread; once `before_kill` are acknowledged the server is killed
  // with SIGKILL and started again on the same data. Returns every acknowledged cid with its
  // seq, the oks already on the wire at the kill included.
  std::map<std::string, int64_t> send_burst_and_crash(Chat& a, const std::string& target,
                                                      int total, size_t before_kill) {
    std::thread writer([&] {
      for (int i = 0; i < total; ++i) {
        const std::string cid = "k" + std::to_string(i);
        a.send(R"({"id":)" + std::to_string(1000 + i) + R"(,"op":"send",)" + target +
               R"(,"cid":")" + cid + R"(","body":")" + cid + "\"}");
      }
    });
    std::map<std::string, int64_t> acked;
    while (acked.size() < before_kill) {
      auto f = a.recv(5000);
      if (!f) break;
      if (is_ok(*f)) acked[json_str(*f, "cid")] = json_int(*f, "seq");
    }
    EXPECT_EQ(acked.size(), before_kill);
    EXPECT_EQ(server_.stop(SIGKILL), 128 + SIGKILL);
    writer.join();
    for (;;) {
      auto f = a.recv(200);
      if (!f) break;
      if (is_ok(*f)) acked[json_str(*f, "cid")] = json_int(*f, "seq");
    }
    EXPECT_TRUE(server_.start(binary_, args_)) << server_.log();
    return acked;
  }
};


}  // namespace parley::test
