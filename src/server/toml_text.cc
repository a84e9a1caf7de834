// Reading TOML text with Debian's toml++ 3.3.0 without reaching its crash on non-ASCII input
// (see screen_non_ascii), and the location format of config errors.
#include "toml_text.h"

#include <algorithm>
#include <utility>

namespace parley::server::detail {

std::string located(std::string_view what, std::string_view source, const toml::source_region& r) {
  std::string s(what);
  s += " in ";
  s += source.empty() ? std::string_view("config") : source;
  if (r.begin.line > 0) {
    s += ", line ";
    s += std::to_string(r.begin.line);
  }
  return s;
}

namespace {

// toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable() when it asks whether some non-ASCII
// code points are whitespace (marzer/tomlplusplus#190 and #295, fixed upstream by #305). It asks
// wherever whitespace may appear: outside strings and comments, right after a backslash in a
// multi-line basic string, and after a line-ending backslash. A non-ASCII character in those
// places is never valid TOML, so such documents are refused before toml++ sees them, in two
// steps (see safe_for_toml): this lexer, which names the line, and which is exact for
// well-formed TOML; then a parse of an ASCII copy, which catches what the lexer cannot see in
// malformed documents (a quote inside a bare token such as `x = 1'...`).
bool screen_non_ascii(std::string_view s, std::string_view source, std::string& error) {
  enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral };
  In in = In::kCode;
  uint32_t line = 1;
  auto at = [&](size_t i, std::string_view what) { return s.substr(i, what.size()) == what; };
  auto refuse = [&](std::string_view where) {
    toml::source_region r;
    r.begin.line = line;
    error = located("syntax error", source, r) + ": non-ASCII character " + std::string(where);
    return false;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\n') {
      ++line;
      if (in == In::kComment || in == In::kBasic || in == In::kLiteral) in = In::kCode;
      continue;
    }
    switch (in) {
      case In::kCode:
        if ((c & 0x80) != 0) return refuse("outside a string or comment");
        if (c == '#') {
          in = In::kComment;
        } else if (at(i, "\"\"\"") || at(i, "'''")) {
          in = c == '"' ? In::kMultiBasic : In::kMultiLiteral;
          i += 2;
        } else if (c == '"' || c == '\'') {
          in = c == '"' ? In::kBasic : In::kLiteral;
        }
        break;
      case In::kComment:
        break;
      case In::kBasic:
        if (c == '"') in = In::kCode;
        if (c == '\\' && i + 1 < s.size() && s[i + 1] != '\n') ++i;  // an escaped character
        break;
      case In::kLiteral:
        if (c == '\'') in = In::kCode;
        break;
      case In::kMultiBasic:
        if (c == '\\') {
          size_t j = i + 1;
          while (j < s.size() && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n')) {
            if (s[j++] == '\n') ++line;
          }
          if (j < s.size() && (s[j] & 0x80) != 0)
            return refuse("after a backslash in a multi-line string");
          i = j == i + 1 ? j : j - 1;  // skip the escaped character or the whitespace run
        } else if (at(i, "\"\"\"")) {
          i += 2;
          for (int extra = 0; extra < 2 && i + 1 < s.size() && s[i + 1] == '"'; ++extra) ++i;
          in = In::kCode;
        }
        break;
      case In::kMultiLiteral:
        if (at(i, "'''")) {
          i += 2;
          for (int extra = 0; extra < 2 && i + 1 < s.size() && s[i + 1] == '\''; ++extra) ++i;
          in = In::kCode;
        }
        break;
    }
  }
  return true;
}

// Parses `text`, or sets `error`; never throws, whichever exception mode toml++ was built in.
std::optional<toml::table> parse_toml(std::string_view text, std::string_view source,
                                      std::string& error) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    error = located("syntax error", source, e.source()) + ": " + std::string(e.description());
    return std::nullopt;
  }
#else
  toml::parse_result r = toml::parse(text, source);
  if (!r) {
    error = located("syntax error", source, r.error().source()) + ": " +
            std::string(r.error().description());
    return std::nullopt;
  }
  return std::move(r).table();
#endif
}

// Whether toml++ may be given `text` (see screen_non_ascii); if not, sets `error`.
bool safe_for_toml(std::string_view text, std::string_view source, std::string& error) {
  if (!screen_non_ascii(text, source, error)) return false;
  if (std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; })) return true;
  // '~' is allowed in strings and comments and nowhere else, so the ASCII copy parses only if
  // every non-ASCII byte sits in a string or a comment, where the lexer above is exact.
  std::string ascii(text);
  for (char& c : ascii) c = (c & 0x80) != 0 ? '~' : c;
  return parse_toml(ascii, source, error).has_value();
}

}  // namespace

std::optional<toml::table> read_toml(std::string_view text, std::string_view source,
                                     std::string& error) {
  if (!safe_for_toml(text, source, error)) return std::nullopt;
  return parse_toml(text, source, error);
}

}  // namespace parley::server::detail
