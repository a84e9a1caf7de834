// libFuzzer target: the chat core's request handling (Dispatcher + src/chat/) end to end, in one
// process, over a fake store (RocksDB on its in-memory Env: nothing touches the disk).
//
// One world per process, built at the first input: one shard thread running a NetShard whose
// handler is the Dispatcher over a ChatShard, exactly as parleyd wires them (app.cc), with cheap
// password hashing, a fixed jwt_secret and three users (alice, bob, carol) who are friends, share
// the group "team" and have a few messages. The fuzzer thread plays the client.
//
// Input: byte 0 picks a prelude; the rest is newline-separated frames (empty lines skipped),
// each sent as one length-prefixed TCP frame.
//   byte 0, bit 0    set: the first frame is a token login (device "fuzz"), so the ops that need
//                    a session are reached; bits 1-2 pick the user (0 alice, 1 bob, 2 and 3 carol)
// Per input: a socketpair, one end adopted by the shard as a raw-TCP connection
// (NetShard::adopt_socket); the frames plus a closing ping go in, replies are read (and
// dropped) until that ping's pong or end of stream; the client end is closed and the input is
// done once the shard has released the connection. Requests on one connection are answered in
// order (PROTOCOL.md, "Envelope and replies"), so the pong comes after every other reply.
//
// What the server keeps between inputs is what it keeps between clients: accounts, groups,
// friendships, messages. To keep memory bounded over millions of inputs, retention and the
// dedupe window are short (the shard's sweeper trims the logs), and the world is rebuilt from
// scratch every kInputsPerWorld inputs (users and groups are never deleted otherwise).
//
// With DISPATCHER_FUZZ_ECHO set in the environment the replies are printed, to see what an
// input does: `DISPATCHER_FUZZ_ECHO=1 dispatcher_fuzz FILE`.
#include <fcntl.h>
#include <poll.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/auth/jwt.h"
#include "parley/chat/chat.h"
#include "parley/net/net_shard.h"
#include "parley/net/tcp_frame.h"
#include "parley/proto/command.h"
#include "parley/server/config.h"
#include "parley/server/dispatcher.h"
#include "parley/server/log.h"
#include "parley/shard/shard.h"
#include "parley/store/store.h"
#include "parley/util/clock.h"

namespace {

using namespace parley;

constexpr std::string_view kUsers[] = {"alice", "bob", "carol"};
constexpr std::string_view kSecret = "dispatcher-fuzz-secret";
constexpr std::string_view kEndPing = R"({"op":"ping","id":"fuzz.end"})";
constexpr uint64_t kInputsPerWorld = 200'000;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "dispatcher_fuzz: %s\n", what);
  std::abort();
}

std::string password_of(std::string_view user) { return "pw-" + std::string(user) + "-123"; }

server::Config fuzz_config() {
  server::Config c;
  c.shards = 1;
  c.log_level = log::LogLevel::kError;
  c.jwt_secret = std::string(kSecret);
  c.scrypt_n = 16;        // the hash's code paths, without its cost
  c.user_rate_limit = 0;  // every input logs in as one of three users, thousands of times a second
  c.retention_ms = 1000;  // the sweeper runs every second and keeps the newest 64 + 1 s of each log
  c.retention_count = 64;
  c.dedupe_window_ms = 1000;
  c.sync = server::SyncMode::kNone;
  c.min_free_space = 0;
  std::string error;
  if (!server::validate_config(c, error)) fail(error.c_str());
  return c;
}

// As app.cc's net_options, for what a TCP client can reach. No per-address accounting: every
// input comes from the same (unnamed) socketpair peer, whose failed logins would otherwise pace
// all the others.
net::NetOptions net_options(const server::Config& c) {
  net::NetOptions o;
  o.max_frame = c.max_frame;
  o.max_outbuf = c.max_outbuf;
  o.header_timeout_ms = static_cast<uint32_t>(c.header_timeout_ms);
  o.login_timeout_ms = static_cast<uint32_t>(c.login_timeout_ms);
  o.idle_timeout_ms = static_cast<uint32_t>(c.idle_timeout_ms);
  o.rate_limit = c.rate_limit;
  o.rate_burst = c.rate_burst;
  o.rate_abuse_ms = static_cast<uint32_t>(c.rate_abuse_ms);
  o.require_login = true;
  return o;
}

// The server, its store and its one shard thread. Built and destroyed on the fuzzer thread.
class World {
 public:
  World() : config_(fuzz_config()) {
    env_.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    store::StoreOptions so;
    // A path under a directory that does not exist: should anything bypass the Env, it fails
    // instead of writing to the disk.
    so.path = "/nonexistent-parley-dispatcher-fuzz/db";
    so.sync = store::SyncPolicy::kNone;
    so.block_cache_bytes = 8 << 20;
    so.tune = [env = env_.get()](rocksdb::Options& o) { o.env = env; };
    env_->CreateDirIfMissing(so.path);  // else RocksDB logs an error on not finding it
    std::string error;
    store_ = store::Store::open(so, error);
    if (!store_) fail(error.c_str());

    services_.config = &config_;
    services_.store = store_.get();
    services_.jwt = auth::JwtKey(config_.jwt_secret);
    services_.shards = 1;
    services_.first_uid = chat::max_uid(*store_, error) + 1;
    services_.first_gid = chat::max_gid(*store_, error) + 1;
    if (!error.empty()) fail(error.c_str());

    set_ = std::make_unique<shard::ShardSet>(shard::ShardOptions{.shards = 1});
    std::latch ready(1);
    set_->start([this, &ready](shard::Shard& s) {
      auto chat = std::make_unique<chat::ChatShard>(s, services_);
      std::string load_error;
      if (!chat->load(load_error)) fail(load_error.c_str());
      handler_ = std::make_unique<server::Dispatcher>(config_, std::move(chat));
      net_ = std::make_unique<net::NetShard>(s, net_options(config_), *handler_, clock_);
      s.add_stop_hook([this] { net_->shutdown(); });
      s.add_exit_hook([this] {
        net_.reset();
        handler_.reset();
      });
      ready.count_down();
    });
    ready.wait();
    populate();
  }

  ~World() {
    set_->stop();
    set_->join();
    set_.reset();
    store_.reset();
  }

  // The login frame that may open an input.
  const std::string& login_frame(size_t user) const { return logins_[user]; }

  // One client session: sends `frames`, then the closing ping; reads until its pong or the end
  // of the stream, handing each reply to `on_reply` (if set); closes and waits until the shard
  // has let go of the connection.
  template <typename OnReply>
  void converse(const std::vector<std::string_view>& frames, OnReply on_reply) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
    const int me = sv[0];
    fcntl(me, F_SETFL, fcntl(me, F_GETFL) | O_NONBLOCK);
    set_->broadcast_control([fd = sv[1]](shard::Shard&) {
      if (net::NetShard::current()->adopt_socket(fd, net::Transport::kTcp) != 0) {
        fail("adopt_socket");
      }
    });

    out_.clear();
    for (std::string_view f : frames) net::append_tcp_frame(out_, f);
    net::append_tcp_frame(out_, kEndPing);
    in_.clear();
    size_t sent = 0;
    bool done = false;
    while (!done) {
      pollfd p{me, static_cast<short>(POLLIN | (sent < out_.size() ? POLLOUT : 0)), 0};
      if (poll(&p, 1, -1) < 0) {
        if (errno == EINTR) continue;
        fail("poll");
      }
      if (sent < out_.size() && (p.revents & POLLOUT) != 0) {
        ssize_t n = ::send(me, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<size_t>(n);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          sent = out_.size();  // the server has closed: read what it said before that
        }
      }
      if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) done = !read_replies(me, on_reply);
    }
    ::close(me);
    wait_released();
  }

 private:
  // Reads what is there; false at the end of the stream or at the closing pong.
  template <typename OnReply>
  bool read_replies(int fd, OnReply& on_reply) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      in_.append(buf, static_cast<size_t>(n));
      size_t used = 0;
      for (;;) {
        auto r = net::parse_tcp_frame(
            {reinterpret_cast<const uint8_t*>(in_.data()) + used, in_.size() - used}, SIZE_MAX);
        if (r.status != net::TcpFrameStatus::kFrame) break;
        std::string_view reply(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
        used += r.consumed;
        if (reply == end_pong_) return false;
        on_reply(reply);
      }
      in_.erase(0, used);
    }
  }

  // The client's close is done once the connection is gone from the shard (its on_close ran and
  // libuv has closed its handle). The shard looks once per loop iteration and answers when it is.
  void wait_released() {
    std::promise<void> released;
    set_->broadcast_control([this, &released](shard::Shard& s) { when_released(s, released); });
    released.get_future().wait();
  }

  // On the shard: sets `released` once no connection is left.
  void when_released(shard::Shard& s, std::promise<void>& released) {
    if (net_->connection_count() == 0) return released.set_value();
    s.post(s.id(), [this, &s, &released] { when_released(s, released); });
  }

  // The accounts and state every input starts from; each step must succeed.
  void populate() {
    const int64_t now = std::time(nullptr);
    for (std::string_view user : kUsers) {
      logins_.push_back(R"({"op":"login","id":"fuzz.login","device":"fuzz","token":")" +
                        auth::jwt_sign(services_.jwt, user, now, now + 10 * 365 * 86400) + "\"}");
    }
    std::vector<std::string> setup;
    for (std::string_view user : kUsers) {
      setup.push_back(R"({"op":"register","id":1,"user":")" + std::string(user) +
                      R"(","password":")" + password_of(user) + "\"}");
    }
    expect_ok(setup);
    // Separate sessions where a step needs the one before it done (a send to a group right
    // behind its group_create may not find it yet).
    expect_ok(
        {logins_[0], R"({"op":"group_create","id":2,"group":"team","members":["bob","carol"]})"});
    expect_ok({logins_[0], R"({"op":"send","id":3,"to":"bob","cid":"setup-1","body":"hi bob"})",
               R"({"op":"send","id":4,"group":"team","cid":"setup-2","body":"hi team"})",
               R"({"op":"friend_request","id":5,"user":"bob"})",
               R"({"op":"friend_request","id":6,"user":"carol"})"});
    expect_ok({logins_[1], R"({"op":"friend_accept","id":7,"user":"alice"})",
               R"({"op":"ack","id":8,"peer":"alice","seq":1})",
               R"({"op":"send","id":9,"to":"alice","cid":"setup-3","body":"hi alice"})"});
    expect_ok({logins_[2], R"({"op":"read","id":10,"group":"team","seq":2})",
               R"({"op":"watch","id":11,"users":["alice","bob"]})"});
  }

  void expect_ok(const std::vector<std::string>& frames) {
    std::vector<std::string_view> views(frames.begin(), frames.end());
    size_t oks = 0;
    converse(views, [&](std::string_view reply) {
      if (reply.starts_with(R"({"op":"error")")) {
        std::fprintf(stderr, "dispatcher_fuzz: setup failed: %.*s\n",
                     static_cast<int>(reply.size()), reply.data());
        std::abort();
      }
      if (reply.starts_with(R"({"op":"ok")")) ++oks;
    });
    if (oks != frames.size()) fail("setup: a reply is missing");
  }

  const server::Config config_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<store::Store> store_;
  chat::Services services_;
  SteadyClock clock_;
  std::unique_ptr<shard::ShardSet> set_;
  // Shard-thread objects, built by its init and destroyed by its exit hook.
  std::unique_ptr<server::Dispatcher> handler_;
  std::unique_ptr<net::NetShard> net_;

  std::vector<std::string> logins_;
  const std::string end_pong_ = proto::reply_pong({proto::RequestId::Kind::kString, "fuzz.end"});
  std::string out_, in_;  // the session's bytes to send, and received but not yet framed
};

World* world = nullptr;

// At exit (the fuzzer's own, or -runs done) the shard is stopped and the store closed, before
// RocksDB's statics go: a clean shutdown, itself under test.
void destroy_world() {
  delete world;
  world = nullptr;
}

World& the_world() {
  static uint64_t inputs = 0;
  static bool first = true;
  if (world != nullptr && ++inputs % kInputsPerWorld == 0) destroy_world();
  if (world == nullptr) {
    if (first) {
      log::set_level(log::LogLevel::kError);
      signal(SIGPIPE, SIG_IGN);  // the server writes to sockets the client has closed
    }
    world = new World();
    if (first) {
      // Only now: exit handlers run in reverse order of registration, and the statics RocksDB
      // built while opening the first store must outlive the last one.
      std::atexit(destroy_world);
      first = false;
    }
  }
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = the_world();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> frames;
  if (!in.empty()) {
    const uint8_t prelude = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if ((prelude & 1) != 0) {
      frames.push_back(w.login_frame(std::min<size_t>((prelude >> 1) & 3, 2)));
    }
  }
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    if (!line.empty()) frames.push_back(line);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  }
  static const bool echo = std::getenv("DISPATCHER_FUZZ_ECHO") != nullptr;
  w.converse(frames, [](std::string_view reply) {
    if (echo) std::fprintf(stderr, "<- %.*s\n", static_cast<int>(reply.size()), reply.data());
  });
  return 0;
}
