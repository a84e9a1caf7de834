// Parsing, validating and printing the TOML configuration. Every option appears exactly once, in
// visit_options(); the parser, the unknown-key check and describe() are visitors over that list.
#include "parley/server/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <exception>
#include <utility>
#include <vector>

#include "toml_text.h"

namespace parley::server {
namespace {

using detail::located;
using detail::read_toml;

constexpr uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024;
constexpr uint64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute;
constexpr uint64_t kDay = 24 * kHour;

template <class E>
struct Named {
  std::string_view name;
  E value;
};
constexpr std::array<Named<LogLevel>, 4> kLogLevels{{{"debug", LogLevel::kDebug},
                                                     {"info", LogLevel::kInfo},
                                                     {"warn", LogLevel::kWarn},
                                                     {"error", LogLevel::kError}}};
constexpr std::array<Named<SyncMode>, 3> kSyncModes{
    {{"always", SyncMode::kAlways}, {"batch", SyncMode::kBatch}, {"none", SyncMode::kNone}}};

struct Unit {
  std::string_view suffix;
  uint64_t factor;
};
constexpr std::array<Unit, 8> kSizeUnits{{{"B", 1},
                                          {"KiB", kKiB},
                                          {"MiB", kMiB},
                                          {"GiB", kGiB},
                                          {"KB", 1000},
                                          {"kB", 1000},
                                          {"MB", 1000 * 1000},
                                          {"GB", 1000 * 1000 * 1000}}};
constexpr std::array<Unit, 5> kDurationUnits{
    {{"ms", 1}, {"s", kSecond}, {"m", kMinute}, {"h", kHour}, {"d", kDay}}};

// The one list of options: table ("" = top level), key, field, allowed range. Parsing,
// the unknown-key check and describe() all walk it, so a new option is added here only
// (and documented in conf/parley.toml). `C` is Config or const Config.
template <class C, class V>
void visit_options(C& c, V& v) {
  v.text("", "data_dir", c.data_dir);
  v.text("", "bind", c.bind);
  v.integer("", "http_port", c.http_port, 0, 65535);
  v.integer("", "tcp_port", c.tcp_port, 0, 65535);
  v.integer("", "shards", c.shards, 0, 1024);
  v.choice("", "log_level", c.log_level, kLogLevels);

  v.size("limits", "max_frame", c.max_frame, 16, 64 * kMiB);
  v.size("limits", "max_body", c.max_body, 1, 64 * kMiB);
  v.size("limits", "max_meta", c.max_meta, 0, 64 * kMiB);
  v.size("limits", "max_outbuf", c.max_outbuf, 4 * kKiB, 4 * kGiB);
  v.size("limits", "max_header_bytes", c.max_header_bytes, 1 * kKiB, 1 * kMiB);
  v.size("limits", "max_http_body", c.max_http_body, 1 * kKiB, 1 * kGiB);
  v.size("limits", "max_file", c.max_file, 1, 16 * kGiB);
  v.integer("limits", "max_uploads", c.max_uploads, 1, 1'000'000);
  v.duration("limits", "header_timeout", c.header_timeout_ms, 1, kDay, 1);
  v.duration("limits", "login_timeout", c.login_timeout_ms, 1, kDay, 1);
  v.duration("limits", "idle_timeout", c.idle_timeout_ms, 1, kDay, 1);
  v.real("limits", "rate_limit", c.rate_limit, 0, 1e9);
  v.real("limits", "rate_burst", c.rate_burst, 1, 1e9);
  v.duration("limits", "rate_abuse", c.rate_abuse_ms, 1, kDay, 1);
  v.real("limits", "user_rate_limit", c.user_rate_limit, 0, 1e9);
  v.real("limits", "user_rate_burst", c.user_rate_burst, 1, 1e9);
  v.integer("limits", "max_connections", c.max_connections, 0, 1'000'000'000);
  v.integer("limits", "max_connections_per_ip", c.max_connections_per_ip, 0, 1'000'000);
  v.integer("limits", "login_attempts", c.login_attempts, 1, 1'000'000);
  v.duration("limits", "login_attempt_interval", c.login_attempt_interval_ms, 1, kDay, 1);
  v.integer("limits", "max_devices", c.max_devices, 1, 1000);
  v.integer("limits", "max_group_size", c.max_group_size, 2, 1'000'000);
  v.integer("limits", "max_watch", c.max_watch, 0, 1'000'000);
  v.integer("limits", "max_groups", c.max_groups, 1, 1'000'000);

  v.choice("storage", "sync", c.sync, kSyncModes);
  v.duration("storage", "sync_interval", c.sync_interval_ms, 1, kMinute, 1);
  v.duration("storage", "retention", c.retention_ms, 0, 100 * 365 * kDay, 1);
  v.integer("storage", "retention_count", c.retention_count, 0, INT64_MAX);
  v.duration("storage", "dedupe_window", c.dedupe_window_ms, kSecond, 30 * kDay, 1);
  v.size("storage", "min_free_space", c.min_free_space, 0, 1024 * kGiB);

  v.secret("auth", "jwt_secret", c.jwt_secret);
  v.secret("auth", "api_key", c.api_key);
  v.boolean("auth", "open_registration", c.open_registration);
  v.boolean("auth", "jwt_auto_create", c.jwt_auto_create);
  v.boolean("auth", "friends_only", c.friends_only);
  v.duration("auth", "token_ttl", c.token_ttl_s, kSecond, 3650 * kDay, kSecond);
  v.integer("auth", "scrypt_n", c.scrypt_n, 2, 1 << 24);
  v.integer("auth", "scrypt_r", c.scrypt_r, 1, 64);
  v.integer("auth", "scrypt_p", c.scrypt_p, 1, 64);
}

std::string dotted(std::string_view table, std::string_view key) {
  std::string s(table);
  if (!s.empty()) s += '.';
  s += key;
  return s;
}

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

std::optional<uint64_t> parse_with_units(std::string_view text, const Unit* units, size_t n) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view suffix = text.substr(static_cast<size_t>(end - text.data()));
  if (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  for (size_t i = 0; i < n; ++i) {
    if (suffix != units[i].suffix) continue;
    uint64_t out = 0;
    if (__builtin_mul_overflow(number, units[i].factor, &out)) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

// The options visit_options() names, as (table, key), and the tables that hold them.
struct KnownKeys {
  std::vector<std::pair<std::string_view, std::string_view>> keys;
  std::vector<std::string_view> tables;
  void add(std::string_view table, std::string_view key) {
    if (!table.empty() && (tables.empty() || tables.back() != table)) tables.push_back(table);
    keys.emplace_back(table, key);
  }
  bool has(std::string_view table, std::string_view key) const {
    return std::find(keys.begin(), keys.end(), std::pair(table, key)) != keys.end();
  }
};

// Reports the first key or table of `root` that no option describes.
bool check_known(const toml::table& root, const KnownKeys& known, std::string_view source,
                 std::string& error) {
  for (auto&& [key, node] : root) {
    bool is_table_name = false;
    for (std::string_view t : known.tables) is_table_name = is_table_name || t == key.str();
    if (!is_table_name) {
      if (known.has("", key.str())) continue;
      std::string what = node.is_table() ? "unknown table \"" : "unknown key \"";
      error = located(what + std::string(key.str()) + "\"", source, key.source());
      return false;
    }
    const toml::table* tbl = node.as_table();
    if (tbl == nullptr) {
      error = located(
          "\"" + std::string(key.str()) + "\" must be a table, not " + std::string(type_name(node)),
          source, node.source());
      return false;
    }
    for (auto&& [sub, subnode] : *tbl) {
      if (known.has(key.str(), sub.str())) continue;
      error = located("unknown key \"" + dotted(key.str(), sub.str()) + "\"", source, sub.source());
      return false;
    }
  }
  return true;
}

// Reads each option present in the document into a Config; stops reading at the first error
// but goes on recording the names of all options (for check_known).
class Reader {
 public:
  Reader(const toml::table& root, std::string_view source) : root_(root), source_(source) {}
  const std::string& error() const { return error_; }
  const KnownKeys& known() const { return known_; }

  void text(std::string_view t, std::string_view k, std::string& out) {
    std::string s;
    if (!string_value(t, k, s)) return;
    if (s.empty()) return fail(t, k, "must not be empty");
    out = std::move(s);
  }
  void secret(std::string_view t, std::string_view k, std::string& out) {
    std::string s;
    if (string_value(t, k, s)) out = std::move(s);
  }
  void boolean(std::string_view t, std::string_view k, bool& out) {
    const toml::node* n = find(t, k);
    if (n == nullptr) return;
    if (!n->is_boolean()) return wrong_type(t, k, *n, "a boolean (true or false)");
    out = n->as_boolean()->get();
  }
  template <class T>
  void integer(std::string_view t, std::string_view k, T& out, int64_t min, int64_t max) {
    const toml::node* n = find(t, k);
    if (n == nullptr) return;
    if (!n->is_integer()) return wrong_type(t, k, *n, "an integer");
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      return fail(t, k,
                  "is " + std::to_string(v) + ", must be between " + std::to_string(min) + " and " +
                      std::to_string(max));
    }
    out = static_cast<T>(v);
  }
  void size(std::string_view t, std::string_view k, size_t& out, uint64_t min, uint64_t max) {
    std::optional<uint64_t> v =
        with_units(t, k, "a size (bytes, or a string like \"64KiB\")", parse_size);
    if (!v) return;
    if (*v < min || *v > max) {
      return fail(t, k,
                  "is " + std::to_string(*v) + " bytes, must be between " + std::to_string(min) +
                      " and " + std::to_string(max));
    }
    out = static_cast<size_t>(*v);
  }
  void duration(std::string_view t, std::string_view k, uint64_t& out, uint64_t min_ms,
                uint64_t max_ms, uint64_t unit_ms) {
    std::optional<uint64_t> v =
        with_units(t, k, "a duration (milliseconds, or a string like \"10s\")", parse_duration_ms);
    if (!v) return;
    if (*v < min_ms || *v > max_ms) {
      return fail(t, k,
                  "is " + std::to_string(*v) + " ms, must be between " + std::to_string(min_ms) +
                      " and " + std::to_string(max_ms) + " ms");
    }
    if (*v % unit_ms != 0) return fail(t, k, "must be a whole number of seconds");
    out = *v / unit_ms;
  }
  void real(std::string_view t, std::string_view k, double& out, double min, double max) {
    const toml::node* n = find(t, k);
    if (n == nullptr) return;
    double v = 0;
    if (n->is_floating_point()) {
      v = n->as_floating_point()->get();
    } else if (n->is_integer()) {
      v = static_cast<double>(n->as_integer()->get());
    } else {
      return wrong_type(t, k, *n, "a number");
    }
    if (!(v >= min && v <= max)) {  // also rejects nan
      char buf[64];
      std::snprintf(buf, sizeof buf, "must be between %g and %g", min, max);
      return fail(t, k, buf);
    }
    out = v;
  }
  template <class E, size_t N>
  void choice(std::string_view t, std::string_view k, E& out, const std::array<Named<E>, N>& set) {
    std::string s;
    if (!string_value(t, k, s)) return;
    std::string allowed;
    for (const Named<E>& e : set) {
      if (e.name == s) {
        out = e.value;
        return;
      }
      allowed += allowed.empty() ? "\"" : ", \"";
      allowed += e.name;
      allowed += '"';
    }
    fail(t, k, "is \"" + s + "\", must be one of " + allowed);
  }

 private:
  const toml::node* find(std::string_view table, std::string_view key) {
    known_.add(table, key);
    if (!error_.empty()) return nullptr;
    const toml::table* tbl = &root_;
    if (!table.empty()) tbl = root_.get_as<toml::table>(table);
    if (tbl == nullptr) return nullptr;
    node_ = tbl->get(key);
    return node_;
  }
  bool string_value(std::string_view t, std::string_view k, std::string& out) {
    const toml::node* n = find(t, k);
    if (n == nullptr) return false;
    if (!n->is_string()) {
      wrong_type(t, k, *n, "a string");
      return false;
    }
    out = n->as_string()->get();
    if (out.find('\0') != std::string::npos) {
      fail(t, k, "must not contain NUL");
      return false;
    }
    return true;
  }
  template <class Parse>
  std::optional<uint64_t> with_units(std::string_view t, std::string_view k,
                                     std::string_view expected, Parse parse) {
    const toml::node* n = find(t, k);
    if (n == nullptr) return std::nullopt;
    if (n->is_integer()) {
      int64_t v = n->as_integer()->get();
      if (v >= 0) return static_cast<uint64_t>(v);
      fail(t, k, "must not be negative");
      return std::nullopt;
    }
    if (n->is_string()) {
      const std::string& s = n->as_string()->get();
      std::optional<uint64_t> v = parse(s);
      if (!v) fail(t, k, "is \"" + s + "\", not " + std::string(expected));
      return v;
    }
    wrong_type(t, k, *n, expected);
    return std::nullopt;
  }
  void wrong_type(std::string_view t, std::string_view k, const toml::node& n,
                  std::string_view expected) {
    fail(t, k, "must be " + std::string(expected) + ", not " + std::string(type_name(n)));
  }
  void fail(std::string_view t, std::string_view k, const std::string& why) {
    if (!error_.empty()) return;
    error_ = located(dotted(t, k) + " " + why, source_, node_->source());
  }

  const toml::table& root_;
  std::string_view source_;
  const toml::node* node_ = nullptr;  // the node being read, for the line in messages
  std::string error_;
  KnownKeys known_;
};

// TOML basic string with the escapes the spec requires.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

// The largest unit that represents `v` exactly, as a quoted TOML string.
std::string with_unit(uint64_t v, const Unit* units, size_t n, std::string_view zero) {
  if (v == 0) return quoted(zero);
  const Unit* best = &units[0];
  for (size_t i = 0; i < n; ++i) {
    if (v % units[i].factor == 0 && units[i].factor > best->factor) best = &units[i];
  }
  return quoted(std::to_string(v / best->factor) + std::string(best->suffix));
}

// Renders each option as `key = value`, with a [table] header when the table changes.
class Printer {
 public:
  std::string out = "# effective configuration: defaults < config file < flags\n";

  void text(std::string_view t, std::string_view k, const std::string& v) { put(t, k, quoted(v)); }
  void secret(std::string_view t, std::string_view k, const std::string& v) {
    if (v.empty()) return put(t, k, "\"\"");
    header(t);
    out += "# " + std::string(k) + " = (set, " + std::to_string(v.size()) + " bytes, not shown)\n";
  }
  void boolean(std::string_view t, std::string_view k, bool v) { put(t, k, v ? "true" : "false"); }
  template <class T>
  void integer(std::string_view t, std::string_view k, const T& v, int64_t, int64_t) {
    put(t, k, std::to_string(v));
  }
  void size(std::string_view t, std::string_view k, size_t v, uint64_t, uint64_t) {
    put(t, k, with_unit(v, kSizeUnits.data(), 4, "0B"));  // binary units only
  }
  void duration(std::string_view t, std::string_view k, uint64_t v, uint64_t, uint64_t,
                uint64_t unit_ms) {
    put(t, k, with_unit(v * unit_ms, kDurationUnits.data(), kDurationUnits.size(), "0s"));
  }
  void real(std::string_view t, std::string_view k, double v, double, double) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, ec == std::errc() ? end : buf);
    if (s.find_first_of(".eEni") == std::string::npos) s += ".0";
    put(t, k, s);
  }
  template <class E, size_t N>
  void choice(std::string_view t, std::string_view k, E v, const std::array<Named<E>, N>& set) {
    for (const Named<E>& e : set) {
      if (e.value == v) return put(t, k, quoted(e.name));
    }
  }

 private:
  void header(std::string_view table) {
    if (table == table_) return;
    table_ = table;
    out += "\n[" + std::string(table) + "]\n";
  }
  void put(std::string_view t, std::string_view k, const std::string& value) {
    header(t);
    out += std::string(k) + " = " + value + "\n";
  }
  std::string_view table_;
};

}  // namespace

std::optional<SyncMode> sync_mode_from_name(std::string_view name) {
  for (const Named<SyncMode>& e : kSyncModes) {
    if (e.name == name) return e.value;
  }
  return std::nullopt;
}

std::string_view sync_mode_name(SyncMode mode) {
  for (const Named<SyncMode>& e : kSyncModes) {
    if (e.value == mode) return e.name;
  }
  return "batch";
}

std::optional<uint64_t> parse_size(std::string_view text) {
  return parse_with_units(text, kSizeUnits.data(), kSizeUnits.size());
}

std::optional<uint64_t> parse_duration_ms(std::string_view text) {
  return parse_with_units(text, kDurationUnits.data(), kDurationUnits.size());
}

bool parse_config(std::string_view toml_text, std::string_view source_name, Config& out,
                  std::string& error) {
  try {
    std::optional<toml::table> root = read_toml(toml_text, source_name, error);
    if (!root) return false;
    Config next = out;
    Reader reader(*root, source_name);
    visit_options(next, reader);
    if (!check_known(*root, reader.known(), source_name, error)) return false;  // typos first
    if (!reader.error().empty()) {
      error = reader.error();
      return false;
    }
    std::string why;
    if (!validate_config(next, why)) {
      error = why + " in " + std::string(source_name.empty() ? "config" : source_name);
      return false;
    }
    out = std::move(next);
    return true;
  } catch (const std::exception& e) {
    error = "cannot parse " + std::string(source_name) + ": " + e.what();
  } catch (...) {
    error = "cannot parse " + std::string(source_name);
  }
  return false;
}

bool validate_config(const Config& c, std::string& error) {
  auto too_big = [&](std::string_view a, size_t av, std::string_view b, size_t bv) {
    error = std::string(a) + " (" + std::to_string(av) + ") must not exceed " + std::string(b) +
            " (" + std::to_string(bv) + ")";
    return false;
  };
  if (c.max_body > c.max_frame)
    return too_big("limits.max_body", c.max_body, "limits.max_frame", c.max_frame);
  if (c.max_meta > c.max_frame)
    return too_big("limits.max_meta", c.max_meta, "limits.max_frame", c.max_frame);
  if (c.max_frame > c.max_outbuf)
    return too_big("limits.max_frame", c.max_frame, "limits.max_outbuf", c.max_outbuf);
  if ((c.scrypt_n & (c.scrypt_n - 1)) != 0) {
    error = "auth.scrypt_n (" + std::to_string(c.scrypt_n) + ") must be a power of two";
    return false;
  }
  if (c.scrypt_r < 4 && c.scrypt_n >= (uint64_t{1} << (16 * c.scrypt_r))) {
    // scrypt itself (RFC 7914) needs N < 2^(16 r); OpenSSL refuses anything else.
    error = "auth.scrypt_n must be below 2^(16 * auth.scrypt_r)";
    return false;
  }
  if (128 * c.scrypt_n * c.scrypt_r > kGiB) {
    error = "auth.scrypt_n * auth.scrypt_r * 128 (the memory of one hash) must not exceed 1GiB";
    return false;
  }
  if (c.data_dir.empty() || c.bind.empty()) {
    error = c.data_dir.empty() ? "data_dir must not be empty" : "bind must not be empty";
    return false;
  }
  return true;
}

std::string describe(const Config& config) {
  Printer p;
  visit_options(config, p);
  return std::move(p.out);
}

}  // namespace parley::server
