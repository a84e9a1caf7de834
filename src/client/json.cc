#include "parley/client/json.h"

#include "parley/proto/json_writer.h"

namespace parley::client {

namespace dom = simdjson::dom;

std::string str_of(dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

uint64_t u64_of(dom::element e, const char* key) {
  uint64_t v = 0;
  if (e[key].get(v) != simdjson::SUCCESS) return 0;
  return v;
}

int64_t i64_of(dom::element e, const char* key) {
  int64_t v = 0;
  if (e[key].get(v) != simdjson::SUCCESS) return 0;
  return v;
}

bool bool_of(dom::element e, const char* key) {
  bool v = false;
  if (e[key].get(v) != simdjson::SUCCESS) return false;
  return v;
}

std::string json_quote(std::string_view s) {
  std::string out;
  proto::append_json_string(out, s);
  return out;
}

std::string names_array(std::span<const std::string> names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    std::string_view n = names[i];
    if (!n.empty() && n.front() == '@') n.remove_prefix(1);
    proto::append_json_string(out, n);
  }
  return out + "]";
}

std::vector<PresenceEntry> parse_presence_list(std::string_view json, const char* key) {
  std::vector<PresenceEntry> out;
  dom::parser parser;
  dom::element e;
  dom::array arr;
  if (parser.parse(json.data(), json.size()).get(e) != simdjson::SUCCESS ||
      e[key].get(arr) != simdjson::SUCCESS) {
    return out;
  }
  for (dom::element x : arr) {
    out.push_back(PresenceEntry{str_of(x, "user"), bool_of(x, "online"), i64_of(x, "last_seen")});
  }
  return out;
}

}  // namespace parley::client
