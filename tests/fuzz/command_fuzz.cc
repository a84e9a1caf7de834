// libFuzzer target: both request decoders (envelope only, and envelope + typed body) on arbitrary
// bytes. Checks that they agree, that every decoded body obeys the protocol's rules and limits,
// and that the frames built from what was decoded (replies, msg, history entry) are valid JSON.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "parley/proto/command.h"
#include "parley/proto/frames.h"
#include "parley/proto/request.h"

namespace {

using namespace parley::proto;

simdjson::dom::parser& checker() {
  static simdjson::dom::parser p;
  return p;
}

void must_parse(const std::string& json) {
  simdjson::dom::element e;
  // We must never write invalid JSON. simdjson 3.0's DOM refuses integers past 64 bits (as a
  // NUMBER_ERROR), which are valid JSON a client's meta may hold: that refusal is not ours.
  auto error = checker().parse(json).get(e);
  if (error && error != simdjson::NUMBER_ERROR) __builtin_trap();
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool good_target(const Target& t) { return t.kind != Target::Kind::kNone && valid_name(t.name); }

// The invariants a successfully decoded request guarantees to the chat core.
void check_body(const Request& req, const RequestLimits& limits) {
  if (const auto* s = std::get_if<SendReq>(&req.body)) {
    check(good_target(s->target));
    check(!s->cid.empty() && s->cid.size() <= kMaxCidBytes);
    check(s->type != MsgType::kSystem);
    check(s->body.size() <= limits.max_body);
    check(s->meta.size() <= limits.max_meta);
    MsgView m{"alice", s->target.kind, s->target.name, 1, 2, 3, s->cid, s->type, s->body, s->meta};
    std::string frame = encode_msg(m);
    must_parse(frame);
    std::string entry;
    check(msg_to_history_entry(frame, entry));
    must_parse(entry);
    uint64_t seq = 0;
    check(parse_msg_seq(frame, seq) && seq == 1);
  } else if (const auto* l = std::get_if<LoginReq>(&req.body)) {
    check(l->password.empty() != l->token.empty());
    check(l->user.empty() ? l->password.empty() : valid_name(l->user));
    check(!l->device.empty() && l->device.size() <= kMaxDeviceBytes);
    for (const auto& [target, seq] : l->after) check(good_target(target));
  } else if (const auto* r = std::get_if<RegisterReq>(&req.body)) {
    check(valid_name(r->user));
    check(r->password.size() >= kMinPasswordBytes && r->password.size() <= kMaxPasswordBytes);
  } else if (const auto* h = std::get_if<HistoryReq>(&req.body)) {
    check(good_target(h->target) && h->limit >= 1 && h->limit <= kMaxHistoryLimit);
  } else if (const auto* c = std::get_if<CursorReq>(&req.body)) {
    check(good_target(c->target));
  } else if (const auto* t = std::get_if<TypingReq>(&req.body)) {
    check(good_target(t->target));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static CommandDecoder decoder;
  static CommandDecoder full;
  std::string_view in(reinterpret_cast<const char*>(data), size);

  Envelope env;
  DecodeError env_err;
  bool env_ok = decoder.decode(in, env, env_err);
  must_parse(env_ok ? reply_pong(env.id)
                    : reply_error(env_err.id, ErrorCode::kBadRequest, env_err.message));

  // Default limits, then tiny ones so the too_large paths are reached too.
  for (RequestLimits limits : {RequestLimits{}, RequestLimits{8, 8}}) {
    Request req;
    DecodeError err;
    bool ok = full.decode(in, req, err, limits);
    if (ok) {
      // The full decoder is at least as strict as the envelope one and agrees with it.
      check(env_ok && req.env.op == env.op && req.env.id.kind == env.id.kind &&
            req.env.id.text == env.id.text && req.env.id.number == env.id.number);
      check_body(req, limits);
      must_parse(reply_ok(req.env.id));
    } else {
      // Both read every value in full, so they agree on what is JSON: when the envelope decoder
      // accepted the frame, the full one may refuse only its body.
      if (env_ok) {
        check(err.message != "not valid JSON" && err.message != "meta is not valid JSON" &&
              err.message != "JSON nested too deeply" &&
              err.message != "trailing content after the JSON object");
      }
      check(!err.message.empty());
      check(err.code == ErrorCode::kBadRequest || err.code == ErrorCode::kTooLarge);
      must_parse(reply_error(err.id, err.code, err.message));
    }
    // The same bytes as an HTTP broadcast body.
    BroadcastReq b;
    DecodeError berr;
    if (full.decode_broadcast(in, b, berr, limits)) {
      check(!b.body.empty() && b.body.size() <= limits.max_body && b.type != MsgType::kSystem);
    } else {
      check(!berr.message.empty());
    }
  }
  return 0;
}
