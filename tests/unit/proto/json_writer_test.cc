#include "parley/proto/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace parley::proto {
namespace {

TEST(JsonWriter, NestedStructures) {
  std::string s;
  JsonWriter w(s);
  w.begin_object().field("op", "ok").field("n", uint64_t{12}).field("neg", int64_t{-3});
  w.key("list").begin_array().value("a").value(true).null().begin_object().end_object();
  w.end_array().key("meta").raw(R"({"x":[1,2]})").field("f", false).end_object();
  EXPECT_EQ(s,
            R"({"op":"ok","n":12,"neg":-3,"list":["a",true,null,{}],"meta":{"x":[1,2]},"f":false})");
}

TEST(JsonWriter, EscapesEverythingJsonRequires) {
  std::string s;
  append_json_string(s, "q\"b\\n\nr\rt\tz\x01\x1f\b\f\x7f é 😀");
  EXPECT_EQ(s, "\"q\\\"b\\\\n\\nr\\rt\\tz\\u0001\\u001f\\b\\f\x7f é 😀\"");
  // Whatever we write, simdjson reads back to the same bytes.
  for (int c = 0; c < 0x80; ++c) {
    std::string in = "a" + std::string(1, static_cast<char>(c)) + "b";
    std::string out;
    append_json_string(out, in);
    simdjson::dom::parser p;
    std::string_view back;
    ASSERT_FALSE(p.parse(out).get(back)) << c;
    EXPECT_EQ(back, in) << c;
  }
}

}  // namespace
}  // namespace parley::proto
