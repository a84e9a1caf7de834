// Percent-decoding and query-string lookup for request targets. Pure functions, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::http {

// Decodes %XX escapes (either hex case); with `plus_as_space`, '+' becomes ' ' (query strings,
// not paths). Returns nullopt when a '%' is not followed by two hex digits. The result may hold
// any byte, NUL and '/' included; callers that care (routing, names) validate it.
std::optional<std::string> percent_decode(std::string_view s, bool plus_as_space);

// The decoded value of the first `name=value` pair in `query` (the raw text after '?', without
// the '?') whose decoded key equals `name`. A pair without '=' has the value "". Returns nullopt
// when no pair matches, or when the first matching pair's value has a bad escape.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

}  // namespace parley::http
