// The HTTP API end to end (PROTOCOL.md "HTTP API", "Files and images"): a real parleyd with 2
// shards, plain HTTP/1.1 requests over loopback, and WebSocket clients to see the effects. Every
// endpoint: success, bad input, missing or wrong credentials, limits.
#include <gtest/gtest.h>

#include <filesystem>

#include "e2e/chat_fixture.h"

namespace parley::test {
namespace {

const std::string kKey = "Authorization: Bearer backend-key\r\n";

std::string bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

class HttpApiTest : public ChatTest {
 protected:
  std::string extra_config() const override {
    return ChatTest::extra_config() + "api_key = \"backend-key\"\n[limits]\nmax_file = \"64KiB\"\n";
  }
  HttpReply get(const std::string& path, const std::string& headers = kKey) {
    return http_request(http_port(), "GET", path, {}, headers);
  }
  HttpReply post(const std::string& path, const std::string& body,
                 const std::string& headers = kKey) {
    return http_request(http_port(), "POST", path, body, headers);
  }
  // Registers over HTTP and returns a token minted by POST /v1/tokens.
  std::string user_with_token(const std::string& name) {
    HttpReply r = post("/v1/users", R"({"user":")" + name + R"(","password":"secret1"})", "");
    EXPECT_EQ(r.status, 201) << r.body;
    HttpReply t = post("/v1/tokens", R"({"user":")" + name + R"(","password":"secret1"})", "");
    EXPECT_EQ(t.status, 200) << t.body;
    return json_str(t.body, "token");
  }
};

INSTANTIATE_TEST_SUITE_P(Http, HttpApiTest, ::testing::Values(true),
                         [](const auto&) { return "WebSocket"; });

TEST_P(HttpApiTest, UsersAndTokens) {
  HttpReply r = post("/v1/users", R"({"user":"alice","password":"secret1"})", "");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_GT(json_int(r.body, "uid"), 0);
  EXPECT_NE(r.headers.find("application/json"), std::string::npos);
  EXPECT_EQ(post("/v1/users", R"({"user":"alice","password":"secret1"})", "").status, 409);
  HttpReply bad = post("/v1/users", R"({"user":"a b","password":"secret1"})", "");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json_str(bad.body, "error"), "bad_request");
  EXPECT_FALSE(json_str(bad.body, "message").empty());
  EXPECT_EQ(post("/v1/users", R"({"user":"bob","password":"short"})", "").status, 400);
  EXPECT_EQ(post("/v1/users", R"({"user":"bob","password":)", "").status, 400);
  EXPECT_EQ(post("/v1/users", "[1]", "").status, 400);
  EXPECT_EQ(get("/v1/users").status, 405);
  // The fields the server adds win over the body's: this is still a registration.
  EXPECT_EQ(post("/v1/users", R"({"op":"send","user":"carol","password":"secret1"})", "").status,
            201);

  HttpReply t = post("/v1/tokens", R"({"user":"alice","password":"secret1"})", "");
  ASSERT_EQ(t.status, 200) << t.body;
  std::string token = json_str(t.body, "token");
  EXPECT_FALSE(token.empty());
  EXPECT_EQ(json_int(t.body, "uid"), json_int(r.body, "uid"));
  EXPECT_EQ(post("/v1/tokens", R"({"user":"alice","password":"wrong12"})", "").status, 401);
  EXPECT_EQ(post("/v1/tokens", R"({"user":"nobody","password":"secret1"})", "").status, 401);
  // The minted token logs in over WebSocket.
  auto c = client();
  std::string login = c->call(R"("op":"login","token":")" + token + R"(","device":"d")");
  EXPECT_TRUE(is_ok(login)) << login;
  EXPECT_EQ(json_str(login, "user"), "alice");
}

TEST_P(HttpApiTest, BackendSendsAsAnyUser) {
  register_user("alice");
  register_user("bob");
  auto bob = logged_in("bob");
  auto alice = logged_in("alice", "phone");
  const std::string msg = R"({"from":"alice","to":"bob","cid":"b1","body":"from the back-end"})";
  HttpReply r = post("/v1/messages", msg);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_int(r.body, "seq"), 1);
  EXPECT_FALSE(json_str(r.body, "mid").empty());
  EXPECT_GT(json_int(r.body, "ts"), 0);
  std::string got = bob->next("msg");
  EXPECT_EQ(json_str(got, "body"), "from the back-end");
  EXPECT_EQ(json_str(got, "from"), "alice");
  // The sender's devices get it too: no connection sent it.
  EXPECT_EQ(json_str(alice->next("msg"), "body"), "from the back-end");
  // Same cid: the first message's answer, nothing new delivered.
  HttpReply again = post("/v1/messages", msg);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json_str(again.body, "mid"), json_str(r.body, "mid"));
  EXPECT_TRUE(bob->quiet("msg"));
  // Credentials: the api key only.
  EXPECT_EQ(http_request(http_port(), "POST", "/v1/messages", msg).status, 401);
  EXPECT_EQ(post("/v1/messages", msg, bearer("wrong-key")).status, 401);
  HttpReply t = post("/v1/tokens", R"({"user":"alice","password":"secret1"})", "");
  EXPECT_EQ(post("/v1/messages", msg, bearer(json_str(t.body, "token"))).status, 401);
  // Bad input.
  EXPECT_EQ(post("/v1/messages", R"({"to":"bob","cid":"b2","body":"x"})").status, 400);
  EXPECT_EQ(post("/v1/messages", R"({"from":"ghost","to":"bob","cid":"b2","body":"x"})").status,
            404);
  EXPECT_EQ(post("/v1/messages", R"({"from":"alice","to":"ghost","cid":"b2","body":"x"})").status,
            404);
  EXPECT_EQ(post("/v1/messages", R"({"from":"alice","to":"bob","body":"x"})").status, 400);
  std::string big(20000, 'x');
  EXPECT_EQ(
      post("/v1/messages", R"({"from":"alice","to":"bob","cid":"b3","body":")" + big + "\"}").status,
      413);
  EXPECT_EQ(post("/v1/messages", "{not json").status, 400);
  EXPECT_TRUE(bob->quiet("msg"));
}

TEST_P(HttpApiTest, HistoryPresenceAndOnline) {
  std::string token = user_with_token("alice");
  register_user("bob");
  for (int i = 1; i <= 5; ++i) {
    std::string body = R"({"from":"bob","to":"alice","cid":"h)" + std::to_string(i) +
                       R"(","body":"m)" + std::to_string(i) + "\"}";
    ASSERT_EQ(post("/v1/messages", body).status, 200);
  }
  HttpReply h = get("/v1/conversations/bob/messages?limit=2", bearer(token));
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_NE(h.body.find(R"("body":"m5")"), std::string::npos) << h.body;
  EXPECT_NE(h.body.find(R"("body":"m4")"), std::string::npos) << h.body;
  EXPECT_EQ(h.body.find(R"("body":"m3")"), std::string::npos) << h.body;
  HttpReply older = get("/v1/conversations/bob/messages?before=3&limit=50", bearer(token));
  EXPECT_NE(older.body.find(R"("body":"m1")"), std::string::npos) << older.body;
  EXPECT_EQ(older.body.find(R"("body":"m3")"), std::string::npos) << older.body;
  EXPECT_EQ(get("/v1/conversations/ghost/messages", bearer(token)).status, 404);
  EXPECT_EQ(get("/v1/conversations/bob/messages?limit=x", bearer(token)).status, 400);
  EXPECT_EQ(get("/v1/conversations/bob/messages", "").status, 401);
  EXPECT_EQ(get("/v1/conversations/bob/messages", bearer("not.a.token")).status, 401);
  EXPECT_EQ(get("/v1/conversations/bob/messages").status, 401);  // history is a user's

  HttpReply p = get("/v1/users/bob/presence", bearer(token));
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_NE(p.body.find(R"("online":false,"last_seen":null)"), std::string::npos) << p.body;
  {
    auto bob = logged_in("bob");
    HttpReply on = get("/v1/users/bob/presence");  // the api key may ask too
    EXPECT_NE(on.body.find(R"("online":true)"), std::string::npos) << on.body;
    HttpReply list = get("/v1/online?limit=10");
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_NE(list.body.find(R"("users":["bob"])"), std::string::npos) << list.body;
    EXPECT_EQ(json_int(list.body, "count"), 1);
    HttpReply after = get("/v1/online?after=bob");
    EXPECT_NE(after.body.find(R"("users":[])"), std::string::npos) << after.body;
    EXPECT_EQ(get("/v1/online", bearer(token)).status, 401);  // the api key only
    EXPECT_EQ(get("/v1/online?limit=-1").status, 400);
  }
  EXPECT_EQ(get("/v1/users/ghost/presence").status, 404);
  EXPECT_EQ(get("/v1/users/bob/presence", "").status, 401);
}

TEST_P(HttpApiTest, Groups) {
  std::string alice = user_with_token("alice");
  std::string bob = user_with_token("bob");
  register_user("carol");
  HttpReply c = post("/v1/groups", R"({"group":"team","members":["bob"]})", bearer(alice));
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(json_str(c.body, "group"), "team");
  EXPECT_EQ(post("/v1/groups", R"({"group":"team"})", bearer(alice)).status, 409);
  EXPECT_EQ(post("/v1/groups", R"({"group":"t2","members":["ghost"]})", bearer(alice)).status, 404);
  EXPECT_EQ(post("/v1/groups", R"({"group":"t2"})", "").status, 401);
  // With the api key the body names the owner.
  EXPECT_EQ(post("/v1/groups", R"({"group":"ops"})").status, 400);
  HttpReply ops = post("/v1/groups", R"({"group":"ops","owner":"carol","members":["bob"]})");
  EXPECT_EQ(ops.status, 201) << ops.body;

  // Only the owner adds; the api key acts as the owner.
  EXPECT_EQ(post("/v1/groups/team/members", R"({"members":["carol"]})", bearer(bob)).status, 403);
  EXPECT_EQ(post("/v1/groups/team/members", R"({"members":["carol"]})", bearer(alice)).status, 200);
  HttpReply m = get("/v1/groups/team/members", bearer(bob));
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_NE(m.body.find(R"("user":"carol","role":"member")"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find(R"("user":"alice","role":"owner")"), std::string::npos) << m.body;
  EXPECT_EQ(http_request(http_port(), "DELETE", "/v1/groups/team/members/carol", {}, kKey).status,
            200);
  EXPECT_EQ(get("/v1/groups/team/members").body.find("carol"), std::string::npos);
  EXPECT_EQ(get("/v1/groups/nope/members").status, 404);

  // A message sent while bob is offline is in his group history (his shard never saw it live).
  HttpReply s = post("/v1/messages", R"({"from":"alice","group":"team","cid":"g1","body":"hi"})");
  ASSERT_EQ(s.status, 200) << s.body;
  HttpReply h = get("/v1/groups/team/messages?limit=1", bearer(bob));
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_NE(h.body.find(R"("body":"hi")"), std::string::npos) << h.body;
  EXPECT_EQ(get("/v1/groups/ops/messages", bearer(alice)).status, 403);  // not a member

  HttpReply mine = get("/v1/groups", bearer(bob));
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_NE(mine.body.find(R"("group":"ops")"), std::string::npos) << mine.body;
  EXPECT_NE(mine.body.find(R"("group":"team")"), std::string::npos) << mine.body;
  // Removing oneself is leaving.
  EXPECT_EQ(http_request(http_port(), "DELETE", "/v1/groups/team/members/bob", {}, bearer(bob)).status,
            200);
  EXPECT_EQ(get("/v1/groups/team/members", bearer(bob)).status, 403);
  EXPECT_EQ(http_request(http_port(), "PUT", "/v1/groups/team/members", {}, kKey).status, 405);
}

TEST_P(HttpApiTest, FilesAndImages) {
  std::string token = user_with_token("alice");
  // A tiny PNG (signature + IHDR are enough for the server: it stores bytes, not pixels).
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  png += std::string(1000, '\x07');
  HttpReply up = post("/v1/files?name=cat%20photo.png", png,
                      bearer(token) + "Content-Type: image/png\r\n");
  ASSERT_EQ(up.status, 201) << up.body;
  std::string id = json_str(up.body, "file");
  EXPECT_EQ(id.size(), 22u);
  EXPECT_EQ(json_str(up.body, "url"), "/v1/files/" + id);
  EXPECT_EQ(json_int(up.body, "size"), static_cast<int64_t>(png.size()));
  EXPECT_EQ(json_str(up.body, "type"), "image/png");
  EXPECT_EQ(json_str(up.body, "name"), "cat photo.png");

  HttpReply down = get("/v1/files/" + id, bearer(token));
  ASSERT_EQ(down.status, 200);
  EXPECT_EQ(down.body, png);
  EXPECT_NE(down.headers.find("Content-Type: image/png"), std::string::npos) << down.headers;
  EXPECT_EQ(down.headers.find("attachment"), std::string::npos) << down.headers;
  EXPECT_NE(down.headers.find("nosniff"), std::string::npos) << down.headers;
  EXPECT_EQ(get("/v1/files/" + id, "").status, 401);
  EXPECT_EQ(get("/v1/files/" + id).status, 200);  // the back-end may fetch too
  EXPECT_EQ(get("/v1/files/AAAAAAAAAAAAAAAAAAAAAA", bearer(token)).status, 404);
  EXPECT_EQ(get("/v1/files/../../etc", bearer(token)).status, 404);

  // Anything that is not a safe image is an attachment: an uploaded page cannot run here.
  HttpReply html = post("/v1/files?name=x.html", "<script>alert(1)</script>",
                        bearer(token) + "Content-Type: text/html\r\n");
  ASSERT_EQ(html.status, 201);
  HttpReply h = get("/v1/files/" + json_str(html.body, "file"), bearer(token));
  EXPECT_NE(h.headers.find("Content-Disposition: attachment"), std::string::npos) << h.headers;
  EXPECT_NE(h.headers.find("sandbox"), std::string::npos) << h.headers;

  // Limits and bad input: max_file is 64 KiB here; over it is refused from Content-Length.
  EXPECT_EQ(post("/v1/files", std::string(64 * 1024 + 1, 'x'), bearer(token)).status, 413);
  EXPECT_EQ(post("/v1/files", std::string(64 * 1024, 'x'), bearer(token)).status, 201);
  EXPECT_EQ(post("/v1/files", "", bearer(token)).status, 400);
  EXPECT_EQ(post("/v1/files", "x", bearer(token) + "Content-Type: nonsense\r\n").status, 400);
  EXPECT_EQ(post("/v1/files", "x", "").status, 401);
  // Other calls keep max_http_body (1 MiB default), not max_file.
  EXPECT_EQ(post("/v1/users", std::string(70 * 1024, ' ') + "{}", "").status, 400);
}

TEST_P(HttpApiTest, FilesSurviveRestart) {
  std::string token = user_with_token("alice");
  std::string bytes(60 * 1024, 'z');  // (files of many chunks: tests/unit/server/files_test.cc)
  for (size_t i = 0; i < bytes.size(); i += 7) bytes[i] = static_cast<char>(i % 251);
  HttpReply up = post("/v1/files", bytes, "Content-Type: application/octet-stream\r\n" + kKey);
  ASSERT_EQ(up.status, 201) << up.body;
  ASSERT_TRUE(restart(SIGKILL));
  HttpReply t = post("/v1/tokens", R"({"user":"alice","password":"secret1"})", "");
  HttpReply down = get("/v1/files/" + json_str(up.body, "file"), bearer(json_str(t.body, "token")));
  ASSERT_EQ(down.status, 200);
  EXPECT_EQ(down.body, bytes);
}

TEST_P(HttpApiTest, CheckpointAndWebClient) {
  EXPECT_EQ(post("/v1/admin/checkpoint", "", "").status, 401);
  HttpReply cp = post("/v1/admin/checkpoint", "");
  ASSERT_EQ(cp.status, 200) << cp.body;
  std::string path = json_str(cp.body, "path");
  EXPECT_TRUE(std::filesystem::exists(path + "/CURRENT")) << path;

  HttpReply page = get("/", "");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.headers.find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  EXPECT_EQ(get("/app.js", "").status, 200);
  EXPECT_EQ(get("/style.css", "").status, 200);
  EXPECT_EQ(get("/nope.js", "").status, 404);
  EXPECT_EQ(post("/", "").status, 405);
  EXPECT_EQ(get("/v1/nope").status, 404);
}

// /metrics counts the chat work: logins, stored messages, commits and their latency histograms.
TEST_P(HttpApiTest, MetricsCountChatWork) {
  register_user("alice");
  register_user("bob");
  auto bob = logged_in("bob");
  auto alice = logged_in("alice");
  ASSERT_TRUE(is_ok(alice->send_to("bob", "m1", "hello")));
  bob->next("msg");
  HttpReply m = get("/metrics", "");
  ASSERT_EQ(m.status, 200);
  auto total = [&](const std::string& name) {  // summed over the shard labels
    int64_t sum = 0;
    for (size_t at = m.body.find("\n" + name + "{"); at != std::string::npos;
         at = m.body.find("\n" + name + "{", at + 1)) {
      size_t sp = m.body.find("} ", at);
      sum += std::stoll(m.body.substr(sp + 2, m.body.find('\n', sp) - sp - 2));
    }
    return sum;
  };
  EXPECT_GE(total("parley_logins_total"), 2);
  EXPECT_GE(total("parley_registrations_total"), 2);
  EXPECT_GE(total("parley_messages_stored_total"), 1);
  EXPECT_GE(total("parley_messages_delivered_total"), 1);
  EXPECT_GE(total("parley_sessions"), 2);
  EXPECT_GE(total("parley_commits_total"), 1);
  EXPECT_EQ(total("parley_send_ok_seconds_count"), 1);
  EXPECT_GE(total("parley_commit_seconds_count"), 1);
  EXPECT_NE(m.body.find("# TYPE parley_send_ok_seconds histogram"), std::string::npos);
  EXPECT_NE(m.body.find(R"(parley_send_ok_seconds_bucket{shard="0",le="+Inf"})"), std::string::npos);
  EXPECT_NE(m.body.find("\nparley_store_writes_total "), std::string::npos);
}

class ClosedRegistration : public HttpApiTest {
 protected:
  std::vector<std::string> extra_args() const override {
    return {"--sync", "always", "--open-registration", "false"};
  }
};

INSTANTIATE_TEST_SUITE_P(Http, ClosedRegistration, ::testing::Values(true),
                         [](const auto&) { return "WebSocket"; });

TEST_P(ClosedRegistration, OnlyTheBackEndRegisters) {
  HttpReply r = post("/v1/users", R"({"user":"alice","password":"secret1"})", "");
  EXPECT_EQ(r.status, 403) << r.body;
  HttpReply k = post("/v1/users", R"({"user":"alice","password":"secret1"})");
  EXPECT_EQ(k.status, 201) << k.body;
}

}  // namespace
}  // namespace parley::test
