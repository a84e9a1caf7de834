// A logged-in chat session over a Connection: logs in (again after every reconnect, resuming
// from the persisted cursors), matches replies to requests, drops messages already shown, acks
// what was shown, resends unanswered sends with their cid, re-watches presence, keeps the
// connection alive with pings. The UI (console, one-shot commands) implements Session::Events.
//
// Threading: the loop's thread only. Callbacks may call back into the Session.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "parley/client/connection.h"
#include "parley/client/cursors.h"

namespace parley::client {

// A request's outcome. `ok` false: `code` is the protocol's error code, or "disconnected" when
// the connection dropped before the reply (for requests that are not resent).
struct Reply {
  bool ok = false;
  std::string code;
  std::string message;
  std::string json;  // the whole reply frame ("" for "disconnected")
};

// A chat message pushed by the server (history entries have the same shape).
struct Message {
  std::string conversation;  // "bob" (the peer) or "#team"
  std::string from;
  std::string to;     // 1:1 only
  std::string group;  // group only
  uint64_t seq = 0;
  std::string mid;
  int64_t ts = 0;  // ms since the epoch
  std::string cid;
  std::string type = "text";
  std::string body;
  std::string meta;        // raw JSON, "" when absent
  std::string raw;         // the whole frame as received
  bool broadcast = false;  // server broadcast: no seq, not stored
};

struct ConversationInfo {
  std::string key;  // "bob" or "#team"
  uint64_t head = 0, recv = 0, read = 0, peer_recv = 0, peer_read = 0;
};

// Parses one `msg` object (a push or a history entry) for user `me`. nullopt if malformed.
std::optional<Message> parse_message(std::string_view json, std::string_view me);

class Session : private Connection::Handler {
 public:
  class Events {
   public:
    virtual ~Events() = default;
    // Logged in; `first` is true for the first login of this process.
    virtual void on_online(bool first, const std::vector<ConversationInfo>& conversations) = 0;
    // The connection dropped; a reconnect follows in retry_ms.
    virtual void on_offline(std::string_view why, uint32_t retry_ms) = 0;
    // A message not shown before, in order within its conversation. Return false if it could
    // not be handed on (e.g. stdout closed): it is then neither acked nor counted as seen, so
    // the next run gets it again.
    virtual bool on_message(const Message& m) = 0;
    // A 1:1 receipt newer than the last one shown: `kind` is "delivered" or "read".
    virtual void on_receipt(const std::string& conversation, const std::string& user,
                            std::string_view kind, uint64_t seq) = 0;
    virtual void on_presence(const std::string& user, bool online, int64_t ts) = 0;
    virtual void on_typing(const std::string& conversation, const std::string& from) = 0;
    virtual void on_friend_request(const std::string& from, int64_t ts) = 0;
    virtual void on_friend_accepted(const std::string& user) = 0;
    // The session cannot go on (bad credentials, replaced by another login of this device):
    // no reconnect follows. `code` is the protocol code ("unauthorized", "kicked", ...).
    virtual void on_fatal(std::string_view code, std::string_view why) = 0;
  };

  struct Options {
    std::string user;
    std::string password;  // used when there is no token, or the token is refused
    std::string token;     // tried first when set
    std::string device = "default";
    uint32_t ping_interval_ms = 30000;
    uint32_t dead_after_ms = 75000;  // no frame for this long: the connection is dead
    bool ack = true;                 // ack shown messages (tail --no-ack turns it off)
    Connection::Options connection;
  };

  using Callback = std::function<void(const Reply&)>;

  Session(uv_loop_t* loop, Endpoint endpoint, Options options, CursorStore& cursors,
          Events& events);
  ~Session() override;

  void start();
  // Sends the acks due, saves the cursors and closes for good. Requests still waiting get
  // code "disconnected". The loop then runs out once libuv has closed the handles.
  void stop();

  // Sends a request: `fields` is the JSON object's members without braces, id and op
  // ("\"peer\":\"bob\",\"limit\":20"). Offline, or if the connection drops before the reply,
  // the callback gets code "disconnected" at once; fields that are not valid UTF-8 get
  // "bad_request" at once.
  void request(std::string_view op, std::string fields, Callback cb);
  // Sends a chat message to `conversation` ("bob" or "#team"). Kept until answered: resent
  // with the same cid after a reconnect, so it is delivered exactly once. Returns the cid.
  // A body that is not valid UTF-8 is refused at once with code "bad_request".
  std::string send_message(const std::string& conversation, std::string_view body, Callback cb,
                           std::string_view type = "text");
  // Marks everything shown in `conversation` as read (no-op when nothing new).
  void mark_read(const std::string& conversation);
  // Tells the conversation's members we are typing.
  void typing(const std::string& conversation);
  // Presence of `users` is pushed from now on, also after reconnects.
  void watch(const std::vector<std::string>& users, Callback cb);
  void unwatch(const std::vector<std::string>& users, Callback cb);

  bool online() const { return online_; }
  const std::string& user() const { return options_.user; }
  const std::string& token() const { return token_; }
  size_t pending_sends() const { return sends_.size(); }
  const Endpoint& endpoint() const { return conn_.endpoint(); }
  // A JSON key/value pair naming a conversation: "peer":"bob" or "group":"team".
  static std::string target_field(std::string_view conversation, std::string_view peer_key);

 private:
  struct Pending {
    Callback cb;
    std::string op;
  };
  struct OutgoingSend {
    std::string cid;
    std::string frame_fields;  // everything but the id
    Callback cb;
    int64_t id = -1;  // of the copy in flight, -1 when not sent on this connection
  };

  void on_open() override;
  void on_frame(std::string_view json) override;
  void on_drop(std::string_view why, uint32_t retry_ms) override;

  void send_login();
  // The login's `after` member (",\"after\":{...}"), or "" when no conversation was shown.
  std::string after_map() const;
  void on_login_reply(const Reply& r);
  void rewatch();
  bool is_unanswered_send(std::string_view cid) const;
  void handle_push(std::string_view op, std::string_view json);
  void handle_msg(std::string_view json);
  void flush_sends();
  void schedule_flush();
  void flush_acks();
  void fail_pending(std::string_view why);
  int64_t send_frame(std::string_view op, const std::string& fields);
  static void tick_cb(uv_timer_t* t);
  static void flush_cb(uv_timer_t* t);

  uv_loop_t* loop_;
  Options options_;
  CursorStore& cursors_;
  Events& events_;
  Connection conn_;
  std::string token_;
  bool token_refused_ = false;
  bool online_ = false;
  bool logging_in_ = false;
  bool ever_online_ = false;
  bool stopped_ = false;
  int64_t next_id_ = 1;
  std::map<int64_t, Pending> pending_;         // requests in flight on this connection, by id
  std::deque<OutgoingSend> sends_;             // chat sends not yet answered, in order
  std::map<std::string, uint64_t> ack_due_;    // conversation → seq to ack
  std::map<std::string, uint64_t> read_sent_;  // conversation → last read sent
  std::set<std::string> watched_;
  uv_timer_t* tick_ = nullptr;   // pings, dead-connection check, cursor saves
  uv_timer_t* flush_ = nullptr;  // coalesces acks of one burst into one per conversation
  uint64_t last_rx_ms_ = 0;
  uint64_t last_tx_ms_ = 0;
  uint64_t last_ping_ms_ = 0;
  uint64_t cid_counter_ = 0;
  std::string cid_prefix_;
};

}  // namespace parley::client
