#include "oneshot.h"

#include <simdjson.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <memory>

#include "common.h"
#include "parley/client/session.h"
#include "parley/proto/json_writer.h"

namespace parley::cli {
namespace {

namespace dom = simdjson::dom;
using client::Reply;

void say(const std::string& line) { std::fprintf(stderr, "parley: %s\n", line.c_str()); }

// Writes all of `text` to stdout; false once the reader has gone (EPIPE) or on an error.
bool write_stdout(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(1, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The loop plumbing every one-shot shares: a deadline, SIGINT/SIGTERM, and a way to finish
// with an exit code from inside any callback.
class Job : public client::Session::Events {
 public:
  ~Job() override = default;
  Job(uv_loop_t* loop, uint32_t timeout_ms) : loop_(loop) {
    uv_timer_init(loop_, &deadline_);
    deadline_.data = this;
    if (timeout_ms > 0) {
      uv_timer_start(
          &deadline_, [](uv_timer_t* t) { static_cast<Job*>(t->data)->on_deadline(); }, timeout_ms,
          0);
    }
    signals_ = watch_signals(loop_, {SIGINT, SIGTERM}, this, [](uv_signal_t* s, int signum) {
      static_cast<Job*>(s->data)->on_signal(signum);
    });
  }

  int run(client::Session* session) {
    session_ = session;
    if (session_) session_->start();
    uv_run(loop_, UV_RUN_DEFAULT);
    return code_;
  }

  virtual void finish(int code) {
    if (finished_) return;
    finished_ = true;
    code_ = code;
    uv_timer_stop(&deadline_);
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
    close_signals(signals_);
    if (session_) session_->stop();
  }

  // Session events a one-shot does not show.
  void on_online(bool, const std::vector<client::ConversationInfo>&) override {}
  void on_offline(std::string_view why, uint32_t) override { last_error_ = std::string(why); }
  bool on_message(const client::Message&) override { return true; }
  void on_receipt(const std::string&, const std::string&, std::string_view, uint64_t) override {}
  void on_presence(const std::string&, bool, int64_t) override {}
  void on_typing(const std::string&, const std::string&) override {}
  void on_friend_request(const std::string&, int64_t) override {}
  void on_friend_accepted(const std::string&) override {}
  void on_fatal(std::string_view code, std::string_view why) override {
    say(std::string(why));
    finish(exit_code_for(code == "kicked" ? "internal" : code));
  }

 protected:
  virtual void on_deadline() {
    say("timed out" + (last_error_.empty() ? "" : " (" + last_error_ + ")"));
    finish(kExitUnavailable);
  }
  virtual void on_signal(int sig) { finish(sig == SIGINT ? 130 : kExitOk); }

  uv_loop_t* loop_;
  client::Session* session_ = nullptr;
  uv_timer_t deadline_;
  std::vector<uv_signal_t*> signals_;
  std::string last_error_;
  bool finished_ = false;
  int code_ = kExitOk;
};

client::Session::Options session_options(const OneShotOptions& o, bool ack) {
  client::Session::Options so;
  so.user = o.user;
  so.password = o.password;
  so.token = o.token;
  so.device = o.device;
  so.ack = ack;
  return so;
}

class SendJob final : public Job {
 public:
  SendJob(uv_loop_t* loop, const OneShotOptions& o, bool json)
      : Job(loop, o.timeout_ms), options_(o), json_(json) {}

  void queue(client::Session& s, const std::string& conv, const std::vector<std::string>& bodies,
             const std::string& type) {
    left_ = bodies.size();
    for (const auto& body : bodies) {
      s.send_message(
          conv, body, [this](const Reply& r) { on_reply(r); }, type);
    }
  }

  void on_online(bool, const std::vector<client::ConversationInfo>&) override {
    save_token(options_.endpoint, options_.user, session_->token());
  }

 private:
  void on_reply(const Reply& r) {
    if (finished_) return;
    if (!r.ok) {
      say("send failed: " + r.code + (r.message.empty() ? "" : " (" + r.message + ")"));
      finish(exit_code_for(r.code));
      return;
    }
    if (json_) {
      dom::parser p;
      dom::element e;
      std::string line;
      if (p.parse(r.json).get(e) == simdjson::SUCCESS) {
        proto::JsonWriter w(line);
        std::string_view cid, mid;
        uint64_t seq = 0;
        int64_t ts = 0;
        if (e["cid"].get(cid) != simdjson::SUCCESS) cid = {};
        if (e["mid"].get(mid) != simdjson::SUCCESS) mid = {};
        if (e["seq"].get(seq) != simdjson::SUCCESS) seq = {};
        if (e["ts"].get(ts) != simdjson::SUCCESS) ts = {};
        w.begin_object().field("cid", cid).field("mid", mid).field("seq", seq).field("ts", ts);
        w.end_object();
      }
      if (!write_stdout(line + "\n")) {
        finish(kExitError);
        return;
      }
    }
    if (--left_ == 0) finish(kExitOk);
  }

  OneShotOptions options_;
  bool json_;
  size_t left_ = 0;
};

class TailJob final : public Job {
 public:
  TailJob(uv_loop_t* loop, const OneShotOptions& o, uint64_t count, std::string only)
      : Job(loop, 0), options_(o), count_(count), only_(std::move(only)) {
    // Notice a reader that went away (`parley tail | head -1`) without waiting for the next
    // message to fail its write. Not possible for files and terminals; they never go away.
    if (uv_poll_init(loop, &stdout_poll_, 1) == 0) {
      stdout_poll_.data = this;
      watching_stdout_ = true;
      uv_poll_start(&stdout_poll_, UV_DISCONNECT, [](uv_poll_t* h, int status, int events) {
        auto* self = static_cast<TailJob*>(h->data);
        if (status < 0 || (events & UV_DISCONNECT) != 0) self->finish(kExitOk);
      });
    }
  }

  void finish(int code) override {
    if (watching_stdout_) {
      watching_stdout_ = false;
      uv_close(reinterpret_cast<uv_handle_t*>(&stdout_poll_), nullptr);
    }
    Job::finish(code);
  }

  void on_online(bool first, const std::vector<client::ConversationInfo>&) override {
    save_token(options_.endpoint, options_.user, session_->token());
    if (!first) say("reconnected");
  }
  void on_offline(std::string_view why, uint32_t retry_ms) override {
    say(std::string(why) + "; reconnecting in " + std::to_string(retry_ms) + " ms");
  }
  bool on_message(const client::Message& m) override {
    if (finished_) return false;
    if (!only_.empty() && m.conversation != only_) return true;
    if (!write_stdout(m.raw + "\n")) {
      finish(kExitOk);  // the reader is gone (`parley tail | head -1`): a normal end
      return false;
    }
    if (count_ > 0 && ++printed_ >= count_) finish(kExitOk);
    return true;
  }

 private:
  OneShotOptions options_;
  uint64_t count_;
  uint64_t printed_ = 0;
  std::string only_;
  uv_poll_t stdout_poll_;
  bool watching_stdout_ = false;
};

}  // namespace

int run_send(const OneShotOptions& o, const std::string& conversation,
             const std::vector<std::string>& bodies, const std::string& type, bool json) {
  if (bodies.empty()) return kExitOk;
  return with_loop([&](uv_loop_t* loop) {
    // Replies only: no cursors to keep, nothing acked (that would tell senders "delivered").
    client::CursorStore cursors("");
    SendJob job(loop, o, json);
    client::Session session(loop, o.endpoint, session_options(o, false), cursors, job);
    job.queue(session, conversation, bodies, type);
    return job.run(&session);
  });
}

int run_tail(const OneShotOptions& o, uint64_t count, bool ack, const std::string& only) {
  std::string dir = user_state_dir(o.endpoint, o.user, true);
  client::CursorStore cursors(dir.empty() ? "" : dir + "/cursors." + o.device);
  std::string err;
  if (!cursors.load(&err)) say("ignoring the cursor file: " + err);
  return with_loop([&](uv_loop_t* loop) {
    TailJob job(loop, o, count, only);
    client::Session session(loop, o.endpoint, session_options(o, ack), cursors, job);
    return job.run(&session);
  });
}

namespace {

// register needs no login: one request on a bare connection.
class RegisterJob final : public Job, private client::Connection::Handler {
 public:
  RegisterJob(uv_loop_t* loop, const OneShotOptions& o)
      : Job(loop, o.timeout_ms),
        options_(o),
        conn_(loop, o.endpoint, *this, client::Connection::Options{}) {}

  int start() {
    conn_.start();
    return run(nullptr);
  }

 private:
  void on_open() override {
    if (sent_) {
      // The first attempt's reply was lost: the account may exist now. Say so.
      say("connection lost after the request was sent; check with `parley login " + options_.user +
          "`");
      conn_.close();
      finish(kExitUnavailable);
      return;
    }
    sent_ = true;
    std::string json;
    proto::JsonWriter w(json);
    w.begin_object().field("op", "register").field("id", 1).field("user", options_.user);
    w.field("password", options_.password).end_object();
    conn_.send(json);
  }
  void on_frame(std::string_view json) override {
    dom::parser p;
    dom::element e;
    if (p.parse(json.data(), json.size()).get(e) != simdjson::SUCCESS) return;
    std::string_view op, code, message;
    if (e["op"].get(op) != simdjson::SUCCESS) op = {};
    if (op == "ok") {
      uint64_t uid = 0;
      if (e["uid"].get(uid) != simdjson::SUCCESS) uid = {};
      conn_.close();
      if (!write_stdout("registered " + options_.user + " (uid " + std::to_string(uid) + ")\n")) {
        finish(kExitError);
        return;
      }
      finish(kExitOk);
    } else if (op == "error") {
      if (e["code"].get(code) != simdjson::SUCCESS) code = {};
      if (e["message"].get(message) != simdjson::SUCCESS) message = {};
      say("register failed: " + std::string(code) + " (" + std::string(message) + ")");
      conn_.close();
      finish(exit_code_for(code));
    }
  }
  void on_drop(std::string_view why, uint32_t) override { last_error_ = std::string(why); }
  void on_deadline() override {
    conn_.close();
    Job::on_deadline();
  }
  void on_signal(int sig) override {
    conn_.close();
    Job::on_signal(sig);
  }

  OneShotOptions options_;
  client::Connection conn_;
  bool sent_ = false;
};

}  // namespace

int run_register(const OneShotOptions& o) {
  return with_loop([&](uv_loop_t* loop) {
    RegisterJob job(loop, o);
    return job.start();
  });
}

}  // namespace parley::cli
