// Reading fields of server frames (simdjson DOM) and writing the members of client requests.
// Shared by the Session and the console so that every frame is read the same way.
//
// A missing or mistyped field reads as "", 0 or false: the protocol ignores unknown fields, and
// the client treats absent ones as their defaults. Pure functions; any thread.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace parley::client {

std::string str_of(simdjson::dom::element e, const char* key);
uint64_t u64_of(simdjson::dom::element e, const char* key);
int64_t i64_of(simdjson::dom::element e, const char* key);
bool bool_of(simdjson::dom::element e, const char* key);

// `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);
// ["bob","carol"]. A leading '@' on a name is dropped ("@bob" names the user bob).
std::string names_array(std::span<const std::string> names);

// One entry of a `presence` list (watch reply) or of a `friends` list.
struct PresenceEntry {
  std::string user;
  bool online = false;
  int64_t last_seen = 0;  // ms since the epoch; 0 when never seen
};
// The entries of the array `key` in the reply frame `json`; empty if absent or malformed.
std::vector<PresenceEntry> parse_presence_list(std::string_view json, const char* key);

}  // namespace parley::client
