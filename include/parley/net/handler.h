// The boundary between the network layer and whatever runs on top of it (the chat dispatcher
// in parleyd, the echo backend in parley-echo, test backends). The network layer knows nothing
// of chat: it delivers complete messages and HTTP requests and carries an opaque per-connection
// context across shards.
#pragma once

#include <string_view>

namespace parley::http {
struct Request;
}

namespace parley::net {

class Connection;

// Per-connection state owned by the application. It moves with the connection when the
// connection is handed to another shard, so it must not point at the old shard's state.
struct ConnContext {
  virtual ~ConnContext() = default;
};

// All callbacks run on the shard that owns the connection. A callback may send on the
// connection, close it or hand it off; it must not destroy it (the network layer frees it later).
class Handler {
 public:
  virtual ~Handler() = default;

  // A WebSocket or TCP client connection is ready for messages.
  virtual void on_open(Connection&) {}
  // One complete message: a WebSocket text/binary message or a TCP frame's payload. `payload`
  // is valid only during the call.
  virtual void on_message(Connection&, std::string_view payload, bool binary) = 0;
  // A plain HTTP request on the HTTP port. Answer with Connection::respond(), now or later
  // (the connection parses no further pipelined request until then).
  virtual void on_http(Connection&, http::Request&) = 0;
  // The headers of a plain HTTP request are complete (called once per request, before any
  // on_http_body or on_http). Return true to take its body as it arrives through on_http_body;
  // false to get it whole in on_http. May answer at once with Connection::respond(..., true)
  // (e.g. refused credentials): the request's body is then never read.
  virtual bool on_http_headers(Connection&, http::Request&) { return false; }
  // More body of a request accepted by on_http_headers is in `req.body`: take what you want and
  // leave the rest for the next call or on_http. Connection::hold_body() stops the flow.
  virtual void on_http_body(Connection&, http::Request&) {}
  // Whether an Upgrade request for this path may become a WebSocket (default: "/ws").
  virtual bool accept_websocket(std::string_view path) { return path == "/ws"; }
  // Output that went over max_outbuf has drained below half of it: a paused pump may resume.
  virtual void on_drain(Connection&) {}
  // The connection is closing (peer gone, error, timeout, shutdown); its context is still there.
  // Not called when the connection moves to another shard (it lives on there).
  virtual void on_close(Connection&) {}
};

}  // namespace parley::net
