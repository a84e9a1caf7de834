// Reading TOML text safely with Debian's toml++, and the location format of config errors.
// Internal to src/server (config.cc).
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>

namespace parley::server::detail {

// "<what> in <source>, line <n>" (the line only when known; source "" reads "config").
std::string located(std::string_view what, std::string_view source, const toml::source_region& r);

// The document in `text`, or nullopt and `error` (with the line): a syntax error, or a
// non-ASCII character where Debian's toml++ would crash on it instead of refusing it. Never
// throws, whichever exception mode toml++ was built in.
std::optional<toml::table> read_toml(std::string_view text, std::string_view source,
                                     std::string& error);

}  // namespace parley::server::detail
