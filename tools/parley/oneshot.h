// Scriptable one-shot commands: send, tail, register. Each connects, does one job and exits
// with a code from common.h, printing errors to stderr and results to stdout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parley/client/endpoint.h"

namespace parley::cli {

struct OneShotOptions {
  client::Endpoint endpoint;
  std::string user;
  std::string password;
  std::string token;
  std::string device;
  uint32_t timeout_ms = 30000;  // give up (exit 3) if the job is not done by then
};

// Sends each of `bodies` as one message to `conversation` ("bob" / "#team"), in order, each
// exactly once (resent with its cid across reconnects). With `json`, prints each ok reply as a
// JSON line ({"cid","mid","seq","ts"}).
int run_send(const OneShotOptions& o, const std::string& conversation,
             const std::vector<std::string>& bodies, const std::string& type, bool json);

// Prints each incoming message as one JSON line (the server's `msg` object) until `count`
// messages were printed (0: forever), SIGINT/SIGTERM, or a closed stdout. Resumes after the last
// message printed by the previous run (cursors kept per device). `only` ("bob" / "#team")
// restricts the output to one conversation. With `ack`, acks what it printed (the senders see
// "delivered").
int run_tail(const OneShotOptions& o, uint64_t count, bool ack, const std::string& only);

// Creates the account o.user with o.password. Prints "registered USER (uid N)".
int run_register(const OneShotOptions& o);

}  // namespace parley::cli
