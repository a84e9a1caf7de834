#include "json_check.h"

#include <algorithm>
#include <string_view>

namespace parley::proto {
namespace {

namespace od = simdjson::ondemand;

JsonCheck walk(od::value v, int depth, int& levels) {
  od::json_type type;
  if (v.type().get(type)) return JsonCheck::kInvalid;
  switch (type) {
    case od::json_type::object: {
      if (depth >= kMaxJsonDepth) return JsonCheck::kTooDeep;
      levels = std::max(levels, depth + 1);
      od::object obj;
      if (v.get_object().get(obj)) return JsonCheck::kInvalid;
      for (auto result : obj) {
        od::field field;
        std::string_view key;
        if (std::move(result).get(field) || field.unescaped_key().get(key)) {
          return JsonCheck::kInvalid;
        }
        if (auto c = walk(field.value(), depth + 1, levels); c != JsonCheck::kOk) return c;
      }
      return JsonCheck::kOk;
    }
    case od::json_type::array: {
      if (depth >= kMaxJsonDepth) return JsonCheck::kTooDeep;
      levels = std::max(levels, depth + 1);
      od::array arr;
      if (v.get_array().get(arr)) return JsonCheck::kInvalid;
      for (auto result : arr) {
        od::value element;
        if (std::move(result).get(element)) return JsonCheck::kInvalid;
        if (auto c = walk(element, depth + 1, levels); c != JsonCheck::kOk) return c;
      }
      return JsonCheck::kOk;
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s) ? JsonCheck::kInvalid : JsonCheck::kOk;
    }
    case od::json_type::number: {
      // As a double, so that integers past 64 bits (valid JSON) pass; numbers that overflow a
      // double (1e400) do not.
      double d;
      return v.get_double().get(d) ? JsonCheck::kInvalid : JsonCheck::kOk;
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b) ? JsonCheck::kInvalid : JsonCheck::kOk;
    }
    case od::json_type::null: {
      bool is_null = false;
      return v.is_null().get(is_null) || !is_null ? JsonCheck::kInvalid : JsonCheck::kOk;
    }
  }
  return JsonCheck::kInvalid;
}

}  // namespace

JsonCheck check_value(od::value v, int& levels) {
  levels = 0;
  return walk(v, 0, levels);
}

JsonCheck check_value(od::value v) {
  int levels;
  return check_value(v, levels);
}

const char* json_check_message(JsonCheck c) {
  return c == JsonCheck::kTooDeep ? "JSON nested too deeply" : "not valid JSON";
}

}  // namespace parley::proto
