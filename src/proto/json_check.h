// Full reading of JSON values the decoders do not otherwise use. simdjson's On-Demand API skips a
// value it was not asked for by counting brackets only, so junk inside it (`[1 2]`, `{"a" 1}`,
// `tru`, a stray `:`) would pass, and inside a nested value left half-read it can lose its place
// and take later tokens for fields of the frame (found by the fuzzer). The decoders therefore read
// every value to its end with check_value, and never leave one to be skipped.
#pragma once

#include <simdjson.h>

#include "parley/proto/command.h"

namespace parley::proto {

// Nesting levels of arrays/objects allowed inside any one field's value; recursion is bounded by
// it (frames can be long enough to nest far deeper).
inline constexpr int kMaxJsonDepth = 128;

// Reads all of `v`, checking every token. `levels` receives the deepest nesting of arrays and
// objects seen (0 for a scalar).
JsonCheck check_value(simdjson::ondemand::value v, int& levels);
JsonCheck check_value(simdjson::ondemand::value v);

// The error message for a check that failed.
const char* json_check_message(JsonCheck c);

}  // namespace parley::proto
