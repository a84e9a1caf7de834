// parleyd's command line (CLI11): defaults < the --config TOML file < flags. See config.h.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>

#include "parley/server/config.h"

namespace parley::server {
namespace {

constexpr size_t kMaxConfigFile = 1 << 20;  // a config file is small; this guards /dev/zero

constexpr const char* kDescription =
    "parleyd: the Parley chat server (WebSocket, raw TCP and an HTTP API on one process).";

constexpr const char* kFooter =
    "Every option, with its unit and default, is documented in conf/parley.toml; a flag\n"
    "overrides the file given by --config, which overrides the built-in defaults.\n"
    "Once listening, parleyd prints `listening http=ADDR:PORT tcp=ADDR:PORT` to stderr.";

CliResult exit_with(int code, std::string output, bool to_stderr) {
  CliResult r;
  r.action = CliResult::Action::kExit;
  r.exit_code = code;
  r.output = std::move(output);
  if (!r.output.empty() && r.output.back() != '\n') r.output += '\n';
  r.to_stderr = to_stderr;
  return r;
}

// Reads a whole (small) file; on failure sets `error` to a message naming the path.
bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = "cannot read config file \"" + path + "\": " + std::strerror(errno);
    return false;
  }
  char buf[16384];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && out.size() <= kMaxConfigFile) {
    out.append(buf, n);
  }
  int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) {
    error = "cannot read config file \"" + path + "\": " + std::strerror(err);
    return false;
  }
  if (out.size() > kMaxConfigFile) {
    error = "config file \"" + path + "\" is larger than 1MiB";
    return false;
  }
  return true;
}

// A CLI11 check that rejects an empty string.
CLI::Validator non_empty() {
  return CLI::Validator(
      [](std::string& s) { return s.empty() ? std::string("must not be empty") : std::string(); },
      "", "non-empty");
}

// The flags, bound to these fields; a flag counts only if it was given (Option::count).
struct Flags {
  std::string config_path;
  std::string data_dir, bind, sync, jwt_secret, api_key, open_registration, log_level;
  int http_port = 0, tcp_port = 0, shards = 0;
  double rate_limit = 0;
  bool version = false, check_config = false;
};

struct Options {
  CLI::Option *data_dir, *bind, *http_port, *tcp_port, *shards, *sync, *jwt_secret, *api_key,
      *open_registration, *log_level, *rate_limit;
};

Options add_flags(CLI::App& app, Flags& f) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--config", f.config_path, "TOML config file (every option: conf/parley.toml)")
      ->type_name("FILE")
      ->check(non_empty());
  Options o{};
  o.data_dir = app.add_option("--data-dir", f.data_dir, "Data directory (store and lock) [./data]")
                   ->type_name("DIR")
                   ->check(non_empty());
  o.bind = app.add_option("--bind", f.bind, "Address every listener binds [127.0.0.1]")
               ->type_name("ADDR")
               ->check(non_empty());
  o.http_port = app.add_option("--http-port", f.http_port,
                               "HTTP API + WebSocket port, 0-65535, 0 = any free [8080]")
                    ->type_name("N")
                    ->check(CLI::Range(0, 65535).description(""));
  o.tcp_port =
      app.add_option("--tcp-port", f.tcp_port, "Raw TCP port, 0-65535, 0 = any free [7070]")
          ->type_name("N")
          ->check(CLI::Range(0, 65535).description(""));
  o.shards = app.add_option("--shards", f.shards, "Shard threads, 0-1024, 0 = one per core [0]")
                 ->type_name("N")
                 ->check(CLI::Range(0, 1024).description(""));
  o.rate_limit = app.add_option("--rate-limit", f.rate_limit,
                                "Requests/s per connection (per user: twice that), 0 = none [200]")
                     ->type_name("R")
                     ->check(CLI::Range(0.0, 1e9).description(""));
  o.sync = app.add_option("--sync", f.sync, "Store fsync policy [batch]")
               ->type_name("always|batch|none")
               ->check(CLI::IsMember({"always", "batch", "none"}).description(""));
  o.jwt_secret =
      app.add_option("--jwt-secret", f.jwt_secret, "HS256 key for login tokens (JWT) [random]")
          ->type_name("S");
  o.api_key =
      app.add_option("--api-key", f.api_key, "Bearer key for back-end HTTP API calls [none]")
          ->type_name("K");
  o.open_registration = app.add_option("--open-registration", f.open_registration,
                                       "Let anyone register (false: api key only) [true]")
                            ->type_name("true|false")
                            ->check(CLI::IsMember({"true", "false"}).description(""));
  o.log_level = app.add_option("--log-level", f.log_level, "Least severe level logged [info]")
                    ->type_name("debug|info|warn|error")
                    ->check(CLI::IsMember({"debug", "info", "warn", "error"}).description(""));
  app.add_flag("--check-config", f.check_config, "Validate the configuration, print it and exit");
  app.add_flag("--version", f.version, "Print the version and exit");
  return o;
}

// Applies the flags that were given on top of `c` (the defaults plus the file). Their values
// have passed the CLI11 checks (Range, IsMember), so the conversions below cannot fail.
void apply_flags(const Flags& f, const Options& o, Config& c) {
  if (o.data_dir->count() > 0) c.data_dir = f.data_dir;
  if (o.bind->count() > 0) c.bind = f.bind;
  if (o.http_port->count() > 0) c.http_port = static_cast<uint16_t>(f.http_port);
  if (o.tcp_port->count() > 0) c.tcp_port = static_cast<uint16_t>(f.tcp_port);
  if (o.shards->count() > 0) c.shards = f.shards;
  if (o.rate_limit->count() > 0) {
    c.rate_limit = f.rate_limit;
    c.user_rate_limit = 2 * f.rate_limit;
  }
  if (o.sync->count() > 0) c.sync = *sync_mode_from_name(f.sync);
  if (o.jwt_secret->count() > 0) c.jwt_secret = f.jwt_secret;
  if (o.api_key->count() > 0) c.api_key = f.api_key;
  if (o.open_registration->count() > 0) c.open_registration = f.open_registration == "true";
  if (o.log_level->count() > 0) c.log_level = *log::level_from_name(f.log_level);
}

CliResult parse(int argc, char** argv, std::string_view version) {
  CLI::App app(kDescription, "parleyd");
  app.footer(kFooter);
  app.get_formatter()->column_width(38);
  Flags flags;
  Options opts = add_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    int code = app.exit(e, out, err);
    if (code == 0) return exit_with(0, out.str(), false);  // --help
    return exit_with(2, err.str(), true);
  }
  if (flags.version) return exit_with(0, "parleyd " + std::string(version), false);

  CliResult r;
  r.check_config = flags.check_config;
  std::string error;
  if (!flags.config_path.empty()) {
    std::string text;
    if (!read_file(flags.config_path, text, error) ||
        !parse_config(text, flags.config_path, r.config, error)) {
      return exit_with(1, "parleyd: " + error, true);
    }
  }
  apply_flags(flags, opts, r.config);
  if (!validate_config(r.config, error)) {
    return exit_with(1, "parleyd: invalid configuration: " + error, true);
  }
  return r;
}

}  // namespace

CliResult parse_command_line(int argc, char** argv, std::string_view version) {
  try {
    return parse(argc, argv, version);
  } catch (const std::exception& e) {
    return exit_with(1, std::string("parleyd: ") + e.what(), true);
  } catch (...) {
    return exit_with(1, "parleyd: unexpected error while reading the command line", true);
  }
}

}  // namespace parley::server
