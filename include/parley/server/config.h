// parleyd's configuration: built-in defaults, overlaid by a TOML file (--config), overlaid by
// command-line flags. It is parsed once, on the main thread, before any shard starts; after that
// the Config is immutable and every shard reads it without locking.
//
// Every option is documented, with its unit and default, in conf/parley.toml. The TOML layout:
// top-level keys data_dir, bind, http_port, tcp_port, shards, log_level; the tables [limits],
// [storage] and [auth] hold the rest. Durations are written without the `_ms` / `_s` suffix of
// the field (`header_timeout = "10s"`); sizes and durations accept units (see parse_size and
// parse_duration_ms).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "parley/server/log.h"

namespace parley::server {

// The fsync policy of the store (see DESIGN.md, "Batching").
enum class SyncMode {
  kAlways,  // fsync each tick's write batch before replying
  kBatch,   // fsync the WAL at most every sync_interval_ms
  kNone,    // leave flushing to the OS
};

// "always" | "batch" | "none" -> mode; anything else -> nullopt.
std::optional<SyncMode> sync_mode_from_name(std::string_view name);
std::string_view sync_mode_name(SyncMode mode);

struct Config {
  // ---- top level
  std::string data_dir = "./data";  // RocksDB store and the instance lock
  std::string bind = "127.0.0.1";   // address every listener binds
  uint16_t http_port = 8080;        // HTTP API + WebSocket; 0 = a free port
  uint16_t tcp_port = 7070;         // raw TCP transport; 0 = a free port
  int shards = 0;                   // shard threads; 0 = one per core
  LogLevel log_level = LogLevel::kInfo;

  // ---- [limits]
  size_t max_frame = 64 * 1024;         // client WS message / TCP payload, bytes
  size_t max_body = 16 * 1024;          // message `body`, UTF-8 bytes
  size_t max_meta = 4 * 1024;           // message `meta`, bytes of JSON
  size_t max_outbuf = 4 * 1024 * 1024;  // unsent output per connection, bytes
  size_t max_header_bytes = 16 * 1024;  // HTTP request line + headers, bytes
  size_t max_http_body = 1024 * 1024;   // HTTP request body (not file uploads), bytes
  size_t max_file = 10 * 1024 * 1024;   // one uploaded file, bytes
  size_t max_uploads = 32;              // file uploads in progress at once, whole process
  uint64_t header_timeout_ms = 10'000;  // HTTP headers must be complete within this
  uint64_t login_timeout_ms = 10'000;   // WS/TCP connection must log in within this
  uint64_t idle_timeout_ms = 90'000;    // nothing received for this long: closed
  double rate_limit = 200;              // requests/s per connection (token bucket); 0 = none
  double rate_burst = 400;              // token bucket size, requests
  double user_rate_limit = 400;         // requests/s of all of one user's devices; 0 = none
  double user_rate_burst = 800;
  uint64_t rate_abuse_ms = 10'000;      // over the rate this long without a 1 s break: closed
  size_t max_connections = 0;           // whole process; 0 = unlimited
  size_t max_connections_per_ip = 0;    // per client address (IPv6: per /64); 0 = unlimited
  int login_attempts = 5;               // failed password logins in a row, per user (x4 per address)
  uint64_t login_attempt_interval_ms = 30'000;  // ...then one more per this interval
  int max_devices = 10;                 // devices of one user online at once
  int max_group_size = 10000;           // members of one group
  int max_watch = 1000;                 // users one connection may watch
  int max_groups = 500;                 // a user in this many groups may not create another

  // ---- [storage]
  SyncMode sync = SyncMode::kBatch;
  uint64_t sync_interval_ms = 5;               // kBatch: WAL fsync at most this often
  uint64_t retention_ms = 30ull * 86'400'000;  // keep messages this long; 0 = forever
  uint64_t retention_count = 100'000;          // ...or the newest N, whichever keeps more; 0 = all
  uint64_t dedupe_window_ms = 86'400'000;      // a (sender, cid) pair is remembered this long
  size_t min_free_space = 64ull << 20;         // writes refused below this free; 0 = no check

  // ---- [auth]
  std::string jwt_secret;                 // HS256 key; empty = parleyd uses a random one of its own
  std::string api_key;                    // back-end bearer key; empty = back-end API disabled
  bool open_registration = true;          // false: only the api key may register users
  bool jwt_auto_create = true;            // a valid token for an unknown name creates the user
  bool friends_only = false;              // 1:1 sends only between friends
  uint64_t token_ttl_s = 30ull * 86'400;  // lifetime of tokens the server issues
  uint64_t scrypt_n = 16384;              // password hash cost (a power of two)
  uint32_t scrypt_r = 8;                  // scrypt block size
  uint32_t scrypt_p = 1;                  // scrypt parallelism

  bool operator==(const Config&) const = default;
};

// Parses `toml_text` (the bytes of a TOML document) and overlays the keys it sets onto `out`;
// keys it does not mention keep their value in `out`. Validation is strict: unknown keys or
// tables, wrong types and out-of-range values are errors, and so is a result that fails
// validate_config. On error returns false, leaves `out` unchanged and sets `error` to one line
// naming `source_name` (a path, for messages only), the key, and the line where known.
// Pure: no I/O, never throws. Any thread.
bool parse_config(std::string_view toml_text, std::string_view source_name, Config& out,
                  std::string& error);

// Checks rules that span several fields (e.g. max_body <= max_frame). Returns false and sets
// `error` on the first violation.
bool validate_config(const Config& config, std::string& error);

// The effective configuration as TOML text, every option with units where they are exact.
// Secrets are not printed (their line is a comment giving the length). Feeding the output to
// parse_config yields the same Config, apart from the secrets.
std::string describe(const Config& config);

// "512B", "64KiB", "4MiB", "1GiB" (powers of 1024), "2KB", "3MB", "1GB" (powers of 1000), an
// optional space before the unit; whole numbers only. nullopt if malformed or over 2^64-1.
std::optional<uint64_t> parse_size(std::string_view text);
// "400ms", "10s", "2m", "1h", "7d" -> milliseconds; an optional space before the unit; whole
// numbers only. nullopt if malformed or over 2^64-1 ms.
std::optional<uint64_t> parse_duration_ms(std::string_view text);

// The outcome of the command line (parse_command_line). Either run the server with `config`
// (with check_config: print describe(config) and "configuration ok", then exit 0), or exit at
// once with `exit_code` after printing `output` to stderr (to_stderr) or stdout.
struct CliResult {
  enum class Action { kRun, kExit };
  Action action = Action::kRun;
  int exit_code = 0;   // kExit: 0 (--help, --version), 1 (bad config), 2 (bad usage)
  std::string output;  // kExit: what to print, ending in a newline
  bool to_stderr = false;
  bool check_config = false;
  Config config;
};

// Parses parleyd's flags (see `parleyd --help`, PROTOCOL.md "Starting the server"): defaults,
// then the file named by --config, then the other flags. Reads only that file; prints nothing;
// never throws. `version` goes into the --version line "parleyd VERSION".
CliResult parse_command_line(int argc, char** argv, std::string_view version);

}  // namespace parley::server
