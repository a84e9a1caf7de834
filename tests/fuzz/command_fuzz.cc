// libFuzzer target: the request envelope decoder (simdjson On-Demand) on arbitrary bytes, and
// the replies it leads to must be valid JSON.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parley/proto/command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static parley::proto::CommandDecoder decoder;
  static simdjson::dom::parser check;
  parley::proto::Envelope env;
  parley::proto::DecodeError err;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string reply;
  if (decoder.decode(in, env, err)) {
    reply = parley::proto::reply_pong(env.id);
  } else {
    reply = parley::proto::reply_error(err.id, parley::proto::ErrorCode::kBadRequest, err.message);
  }
  simdjson::dom::element e;
  if (check.parse(reply).get(e)) __builtin_trap();  // we must never write invalid JSON
  return 0;
}
