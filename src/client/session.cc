#include "parley/client/session.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "parley/client/json.h"
#include "parley/net/utf8.h"
#include "parley/proto/json_writer.h"

namespace parley::client {

namespace dom = simdjson::dom;

namespace {

constexpr uint32_t kTickMs = 1000;
constexpr size_t kWatchChunk = 1000;  // the protocol's cap on names per watch request

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

std::optional<Message> parse_message(std::string_view json, std::string_view me) {
  dom::parser parser;
  dom::element e;
  if (parser.parse(json.data(), json.size()).get(e) != simdjson::SUCCESS || !e.is_object()) {
    return std::nullopt;
  }
  Message m;
  m.raw = std::string(json);
  m.broadcast = bool_of(e, "broadcast");
  m.from = str_of(e, "from");
  m.to = str_of(e, "to");
  m.group = str_of(e, "group");
  m.seq = u64_of(e, "seq");
  m.mid = str_of(e, "mid");
  m.ts = i64_of(e, "ts");
  m.cid = str_of(e, "cid");
  m.type = str_of(e, "type");
  if (m.type.empty()) m.type = "text";
  std::string_view body;
  if (e["body"].get(body) != simdjson::SUCCESS) return std::nullopt;
  m.body = std::string(body);
  dom::element meta;
  if (e["meta"].get(meta) == simdjson::SUCCESS) m.meta = simdjson::minify(meta);
  if (m.broadcast) return m;
  if (m.seq == 0) return std::nullopt;
  if (!m.group.empty()) {
    m.conversation = "#" + m.group;
  } else {
    m.conversation = m.from == me ? m.to : m.from;
  }
  if (m.conversation.empty() || m.conversation == "#") return std::nullopt;
  return m;
}

std::string Session::target_field(std::string_view conversation, std::string_view peer_key) {
  if (!conversation.empty() && conversation.front() == '#') {
    return "\"group\":" + json_quote(conversation.substr(1));
  }
  return "\"" + std::string(peer_key) + "\":" + json_quote(conversation);
}

Session::Session(uv_loop_t* loop, Endpoint endpoint, Options options, CursorStore& cursors,
                 Events& events)
    : loop_(loop),
      options_(std::move(options)),
      cursors_(cursors),
      events_(events),
      conn_(loop, std::move(endpoint), *this, options_.connection),
      token_(options_.token) {
  std::random_device rd;
  char hex[17];
  snprintf(hex, sizeof(hex), "%08x%08x", rd(), rd());
  cid_prefix_ = std::string("p") + hex + "-";
  tick_ = new uv_timer_t;
  uv_timer_init(loop_, tick_);
  tick_->data = this;
  flush_ = new uv_timer_t;
  uv_timer_init(loop_, flush_);
  flush_->data = this;
}

Session::~Session() { stop(); }

void Session::start() {
  uv_timer_start(tick_, tick_cb, kTickMs, kTickMs);
  conn_.start();
}

void Session::stop() {
  if (stopped_) return;
  stopped_ = true;
  flush_acks();
  cursors_.save();
  conn_.close();
  online_ = false;
  for (uv_timer_t** t : {&tick_, &flush_}) {
    uv_timer_stop(*t);
    uv_close(reinterpret_cast<uv_handle_t*>(*t),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    *t = nullptr;
  }
  // Nobody will answer these now; tell their owners so nothing waits forever.
  auto pending = std::move(pending_);
  pending_.clear();
  auto sends = std::move(sends_);
  sends_.clear();
  Reply r{false, "disconnected", "the client is stopping", ""};
  for (auto& [id, p] : pending) {
    if (p.cb) p.cb(r);
  }
  for (auto& s : sends) {
    if (s.cb) s.cb(r);
  }
}

int64_t Session::send_frame(std::string_view op, const std::string& fields) {
  int64_t id = next_id_++;
  std::string json = "{\"op\":" + json_quote(op) + ",\"id\":" + std::to_string(id);
  if (!fields.empty()) json += "," + fields;
  json += "}";
  conn_.send(json);
  last_tx_ms_ = now_ms();
  return id;
}

void Session::on_open() {
  last_rx_ms_ = now_ms();
  send_login();
}

void Session::send_login() {
  std::string fields = "\"user\":" + json_quote(options_.user);
  bool use_token = !token_.empty() && !token_refused_;
  if (use_token) {
    fields += ",\"token\":" + json_quote(token_);
  } else {
    fields += ",\"password\":" + json_quote(options_.password);
  }
  fields += ",\"device\":" + json_quote(options_.device);
  fields += after_map();
  logging_in_ = true;
  int64_t id = send_frame("login", fields);
  pending_[id] = Pending{[this](const Reply& r) { on_login_reply(r); }, "login"};
}

std::string Session::after_map() const {
  // Resume each known conversation right after the last message shown, whatever the
  // server's own cursor for this device says (it may be ahead of what reached the screen).
  // A conversation with nothing shown yet (only receipts, or own sends above a gap) is left
  // to the server's cursor: "after 0" would replay its whole retained history.
  std::string out;
  for (const auto& [key, c] : cursors_.all()) {
    if (c.seen == 0) continue;
    out += out.empty() ? ",\"after\":{" : ",";
    proto::append_json_string(out, key);
    out += ":" + std::to_string(c.seen);
  }
  return out.empty() ? out : out + "}";
}

void Session::on_login_reply(const Reply& r) {
  logging_in_ = false;
  if (!r.ok) {
    if (r.code == "disconnected") return;
    if (r.code == "unauthorized" && !token_.empty() && !token_refused_ &&
        !options_.password.empty()) {
      token_refused_ = true;  // expired or signed with an old secret: fall back to the password
      send_login();
      return;
    }
    if (r.code == "unavailable" || r.code == "internal" || r.code == "rate_limited") {
      conn_.drop("login failed: " + r.code + " (" + r.message + ")");
      return;
    }
    std::string why = r.code == "unauthorized"
                          ? "login refused: wrong user name, password or token"
                          : "login refused: " + r.code + " (" + r.message + ")";
    conn_.close();
    events_.on_fatal(r.code, why);
    return;
  }
  dom::parser parser;
  dom::element e;
  std::vector<ConversationInfo> convs;
  if (parser.parse(r.json).get(e) == simdjson::SUCCESS) {
    std::string_view tok;
    if (e["token"].get(tok) == simdjson::SUCCESS) {
      token_ = std::string(tok);
      token_refused_ = false;
    }
    dom::array arr;
    if (e["conversations"].get(arr) == simdjson::SUCCESS) {
      for (dom::element c : arr) {
        ConversationInfo info;
        std::string group = str_of(c, "group");
        info.key = group.empty() ? str_of(c, "peer") : "#" + group;
        info.head = u64_of(c, "head");
        info.recv = u64_of(c, "recv");
        info.read = u64_of(c, "read");
        info.peer_recv = u64_of(c, "peer_recv");
        info.peer_read = u64_of(c, "peer_read");
        convs.push_back(std::move(info));
      }
    }
  }
  online_ = true;
  conn_.reset_backoff();
  bool first = !ever_online_;
  ever_online_ = true;
  read_sent_.clear();
  events_.on_online(first, convs);
  if (stopped_ || !online_) return;  // the handler quit, or the connection is gone
  // Receipts that arrived while we were away.
  for (const auto& c : convs) {
    if (c.key.empty() || c.key.front() == '#') continue;
    if (c.peer_read > 0 && cursors_.advance_peer_read(c.key, c.peer_read)) {
      events_.on_receipt(c.key, c.key, "read", c.peer_read);
    } else if (c.peer_recv > 0 && cursors_.advance_peer_recv(c.key, c.peer_recv)) {
      events_.on_receipt(c.key, c.key, "delivered", c.peer_recv);
    }
  }
  rewatch();
  // Acks lost with the previous connection: what this device showed beyond the user's
  // recv cursor was never acked, so the senders would not see "delivered".
  for (const auto& c : convs) {
    uint64_t seen = cursors_.seen(c.key);
    if (options_.ack && !c.key.empty() && seen > c.recv && seen <= c.head) ack_due_[c.key] = seen;
  }
  if (!ack_due_.empty()) schedule_flush();
  flush_sends();
}

void Session::rewatch() {
  std::vector<std::string> names(watched_.begin(), watched_.end());
  for (size_t i = 0; i < names.size(); i += kWatchChunk) {
    size_t n = std::min(kWatchChunk, names.size() - i);
    int64_t id = send_frame("watch", "\"users\":" + names_array({names.data() + i, n}));
    pending_[id] = Pending{[this](const Reply& wr) {
                             if (!wr.ok) return;
                             for (const auto& p : parse_presence_list(wr.json, "presence")) {
                               events_.on_presence(p.user, p.online, p.last_seen);
                             }
                           },
                           "watch"};
  }
}

void Session::flush_sends() {
  for (auto& s : sends_) {
    if (s.id >= 0) continue;
    s.id = send_frame("send", s.frame_fields);
    std::string cid = s.cid;
    pending_[s.id] =
        Pending{[this, cid](const Reply& r) {
                  if (r.code == "disconnected")
                    return;  // stays queued; resent after the next login
                  auto it = std::find_if(sends_.begin(), sends_.end(),
                                         [&](const OutgoingSend& o) { return o.cid == cid; });
                  if (it == sends_.end()) return;
                  Callback cb = std::move(it->cb);
                  sends_.erase(it);
                  if (cb) cb(r);
                },
                "send"};
  }
}

std::string Session::send_message(const std::string& conversation, std::string_view body,
                                  Callback cb, std::string_view type) {
  std::string cid = cid_prefix_ + std::to_string(++cid_counter_);
  if (!net::utf8_valid(body) || !net::utf8_valid(type)) {
    // The server would refuse it (and over WebSocket close the connection with 1007, after
    // which the resend would fail the same way, forever).
    if (cb) cb(Reply{false, "bad_request", "the message is not valid UTF-8", ""});
    return cid;
  }
  std::string fields = target_field(conversation, "to") + ",\"cid\":" + json_quote(cid) +
                       ",\"type\":" + json_quote(type) + ",\"body\":" + json_quote(body);
  // The reply's seq is ours: the cursor skips it, so a resync never shows it as incoming.
  Callback wrapped = [this, conversation, cb = std::move(cb)](const Reply& r) {
    if (r.ok) {
      dom::parser p;
      dom::element e;
      uint64_t seq = 0;
      if (p.parse(r.json).get(e) == simdjson::SUCCESS) seq = u64_of(e, "seq");
      if (seq > 0) cursors_.own_sent(conversation, seq);
    }
    if (cb) cb(r);
  };
  sends_.push_back(OutgoingSend{cid, std::move(fields), std::move(wrapped), -1});
  if (online_) flush_sends();
  return cid;
}

void Session::request(std::string_view op, std::string fields, Callback cb) {
  if (!online_) {
    if (cb) cb(Reply{false, "disconnected", "not connected to the server", ""});
    return;
  }
  if (!net::utf8_valid(fields)) {
    if (cb) cb(Reply{false, "bad_request", "the request is not valid UTF-8", ""});
    return;
  }
  int64_t id = send_frame(op, fields);
  pending_[id] = Pending{std::move(cb), std::string(op)};
}

void Session::watch(const std::vector<std::string>& users, Callback cb) {
  std::vector<std::string> names;
  for (const auto& u : users) names.push_back(!u.empty() && u.front() == '@' ? u.substr(1) : u);
  request("watch", "\"users\":" + names_array(names),
          [this, names, cb = std::move(cb)](const Reply& r) {
            if (r.ok) watched_.insert(names.begin(), names.end());
            if (cb) cb(r);
          });
}

void Session::unwatch(const std::vector<std::string>& users, Callback cb) {
  for (const auto& u : users) watched_.erase(!u.empty() && u.front() == '@' ? u.substr(1) : u);
  request("unwatch", "\"users\":" + names_array(users), std::move(cb));
}

void Session::typing(const std::string& conversation) {
  if (!online_) return;
  std::string json = "{\"op\":\"typing\"," + target_field(conversation, "to") + "}";
  conn_.send(json);
  last_tx_ms_ = now_ms();
}

void Session::mark_read(const std::string& conversation) {
  uint64_t seq = cursors_.seen(conversation);
  if (!online_ || seq == 0 || read_sent_[conversation] >= seq) return;
  read_sent_[conversation] = seq;
  ack_due_.erase(conversation);  // read moves recv too
  std::string json = "{\"op\":\"read\"," + target_field(conversation, "peer") +
                     ",\"seq\":" + std::to_string(seq) + "}";
  conn_.send(json);
  last_tx_ms_ = now_ms();
}

void Session::on_frame(std::string_view json) {
  last_rx_ms_ = now_ms();
  dom::parser parser;
  dom::element e;
  if (parser.parse(json.data(), json.size()).get(e) != simdjson::SUCCESS || !e.is_object()) {
    return;  // not ours to fix; the protocol promises objects
  }
  std::string op = str_of(e, "op");
  int64_t id = -1;
  if (e["id"].get(id) != simdjson::SUCCESS) id = -1;
  if (op == "ok" || op == "error" || op == "pong") {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // an error for an ack or read, or a stale reply
    Pending p = std::move(it->second);
    pending_.erase(it);
    Reply r;
    r.ok = op != "error";
    r.code = str_of(e, "code");
    r.message = str_of(e, "message");
    r.json = std::string(json);
    if (p.cb) p.cb(r);
    return;
  }
  handle_push(op, json);
}

void Session::handle_push(std::string_view op, std::string_view json) {
  if (op == "msg") {
    handle_msg(json);
    return;
  }
  dom::parser parser;
  dom::element e;
  if (parser.parse(json.data(), json.size()).get(e) != simdjson::SUCCESS) return;
  if (op == "receipt") {
    std::string peer = str_of(e, "peer");
    std::string user = str_of(e, "user");
    std::string kind = str_of(e, "kind");
    uint64_t seq = u64_of(e, "seq");
    if (user == options_.user || peer.empty()) return;  // our own read on another device
    bool fresh = kind == "read" ? cursors_.advance_peer_read(peer, seq)
                                : cursors_.advance_peer_recv(peer, seq);
    if (fresh) events_.on_receipt(peer, user, kind, seq);
  } else if (op == "presence") {
    events_.on_presence(str_of(e, "user"), bool_of(e, "online"), i64_of(e, "ts"));
  } else if (op == "typing") {
    std::string group = str_of(e, "group");
    std::string from = str_of(e, "from");
    events_.on_typing(group.empty() ? from : "#" + group, from);
  } else if (op == "friend_request") {
    events_.on_friend_request(str_of(e, "from"), i64_of(e, "ts"));
  } else if (op == "friend_accepted") {
    events_.on_friend_accepted(str_of(e, "user"));
  } else if (op == "kicked") {
    std::string reason = str_of(e, "reason");
    online_ = false;
    conn_.close();
    events_.on_fatal("kicked", "logged out: another login of device '" + options_.device +
                                   "' replaced this one (" + reason + ")");
  }
}

void Session::handle_msg(std::string_view json) {
  auto m = parse_message(json, options_.user);
  if (!m) return;
  if (m->broadcast) {
    (void)events_.on_message(*m);
    return;
  }
  if (m->from == options_.user && is_unanswered_send(m->cid)) {
    // Our own send, stored before the connection dropped and streamed back by the resync
    // before the resend's reply: the reply shows it (with ✓), so it is skipped here.
    cursors_.own_sent(m->conversation, m->seq);
    return;
  }
  if (!cursors_.accept(m->conversation, m->seq)) return;
  if (!events_.on_message(*m)) {
    cursors_.unaccept(m->conversation, m->seq);
    return;
  }
  if (options_.ack) {
    ack_due_[m->conversation] = m->seq;
    schedule_flush();
  }
}

bool Session::is_unanswered_send(std::string_view cid) const {
  if (cid.empty()) return false;
  return std::any_of(sends_.begin(), sends_.end(),
                     [&](const OutgoingSend& s) { return s.cid == cid; });
}

void Session::schedule_flush() {
  if (flush_ != nullptr && !uv_is_active(reinterpret_cast<uv_handle_t*>(flush_))) {
    uv_timer_start(flush_, flush_cb, 0, 0);
  }
}

void Session::flush_cb(uv_timer_t* t) { static_cast<Session*>(t->data)->flush_acks(); }

void Session::flush_acks() {
  if (!online_) {
    ack_due_.clear();  // the next login resumes from our cursors anyway
    return;
  }
  // Cursors first: a crash after the ack must not show these messages again.
  cursors_.save();
  for (const auto& [conv, seq] : ack_due_) {
    std::string json =
        "{\"op\":\"ack\"," + target_field(conv, "peer") + ",\"seq\":" + std::to_string(seq) + "}";
    conn_.send(json);
  }
  if (!ack_due_.empty()) last_tx_ms_ = now_ms();
  ack_due_.clear();
}

void Session::fail_pending(std::string_view why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& s : sends_) s.id = -1;
  Reply r{false, "disconnected", std::string(why), ""};
  for (auto& [id, p] : pending) {
    if (p.cb) p.cb(r);
  }
}

void Session::on_drop(std::string_view why, uint32_t retry_ms) {
  online_ = false;
  logging_in_ = false;
  ack_due_.clear();
  fail_pending(why);
  if (stopped_) return;
  if (!options_.connection.reconnect) {
    events_.on_fatal("disconnected", why);
    return;
  }
  events_.on_offline(why, retry_ms);
}

void Session::tick_cb(uv_timer_t* t) {
  auto* self = static_cast<Session*>(t->data);
  uint64_t now = now_ms();
  if (self->online_ || self->logging_in_) {
    if (now - self->last_rx_ms_ > self->options_.dead_after_ms) {
      self->conn_.drop("no answer from the server for " +
                       std::to_string(self->options_.dead_after_ms / 1000) + " s");
    } else if (now - self->last_ping_ms_ >= self->options_.ping_interval_ms &&
               (now - self->last_tx_ms_ >= self->options_.ping_interval_ms ||
                now - self->last_rx_ms_ >= self->options_.ping_interval_ms)) {
      // Quiet in either direction: the server's idle timer needs our traffic, and our
      // dead-connection check needs its answer.
      self->last_ping_ms_ = now;
      int64_t id = self->send_frame("ping", "");
      self->pending_[id] = Pending{nullptr, "ping"};
    }
  }
  if (self->cursors_.dirty()) self->cursors_.save();
}

}  // namespace parley::client
