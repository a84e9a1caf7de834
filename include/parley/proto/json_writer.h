// Our own small JSON writer: appends to a std::string, escapes correctly, inserts commas.
// Used for every frame the server sends; simdjson does the reading.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::proto {

// Appends `s` as a JSON string literal (with quotes). `s` must be UTF-8; control characters,
// '"' and '\\' are escaped, everything else is copied as is.
void append_json_string(std::string& out, std::string_view s);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(uint64_t n);
  JsonWriter& value(int64_t n);
  JsonWriter& value(int n) { return value(static_cast<int64_t>(n)); }
  JsonWriter& value(bool b);
  JsonWriter& null();
  // Inserts already-serialized JSON (e.g. a stored `meta` value) verbatim.
  JsonWriter& raw(std::string_view json);

  // Shorthands for "key": value.
  template <typename T>
  JsonWriter& field(std::string_view k, T v) {
    key(k);
    return value(v);
  }

 private:
  void separate();

  std::string& out_;
  uint64_t first_ = 1;  // bit d: nothing written yet at nesting depth d
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace parley::proto
