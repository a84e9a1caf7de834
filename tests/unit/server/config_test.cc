#include "parley/server/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace parley::server {
namespace {

// Parses `text` onto the defaults; on failure the error is in `error`.
bool parse(const std::string& text, Config& c, std::string& error) {
  c = Config{};
  return parse_config(text, "test.toml", c, error);
}

Config parse_ok(const std::string& text) {
  Config c;
  std::string error;
  EXPECT_TRUE(parse(text, c, error)) << error;
  return c;
}

std::string parse_error(const std::string& text) {
  Config c;
  std::string error;
  EXPECT_FALSE(parse(text, c, error)) << "accepted: " << text;
  EXPECT_EQ(c, Config{}) << "a failed parse must leave the config unchanged";
  return error;
}

CliResult run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "parleyd");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return parse_command_line(static_cast<int>(args.size()), argv.data(), "1.2.3");
}

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "parley_config_test_" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, Defaults) {
  Config c;
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.bind, "127.0.0.1");
  EXPECT_EQ(c.http_port, 8080);
  EXPECT_EQ(c.tcp_port, 7070);
  EXPECT_EQ(c.shards, 0);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.max_frame, 65536u);
  EXPECT_EQ(c.max_body, 16384u);
  EXPECT_EQ(c.max_meta, 4096u);
  EXPECT_EQ(c.max_outbuf, 4u << 20);
  EXPECT_EQ(c.max_header_bytes, 16384u);
  EXPECT_EQ(c.max_http_body, 1u << 20);
  EXPECT_EQ(c.max_file, 10u << 20);
  EXPECT_EQ(c.header_timeout_ms, 10000u);
  EXPECT_EQ(c.login_timeout_ms, 10000u);
  EXPECT_EQ(c.idle_timeout_ms, 90000u);
  EXPECT_EQ(c.rate_limit, 200.0);
  EXPECT_EQ(c.rate_burst, 400.0);
  EXPECT_EQ(c.max_connections, 0u);
  EXPECT_EQ(c.max_devices, 10);
  EXPECT_EQ(c.sync, SyncMode::kBatch);
  EXPECT_EQ(c.sync_interval_ms, 5u);
  EXPECT_EQ(c.retention_ms, 30ull * 86400000);
  EXPECT_EQ(c.retention_count, 100000u);
  EXPECT_EQ(c.dedupe_window_ms, 86400000u);
  EXPECT_TRUE(c.jwt_secret.empty());
  EXPECT_TRUE(c.api_key.empty());
  EXPECT_TRUE(c.open_registration);
  EXPECT_TRUE(c.jwt_auto_create);
  EXPECT_FALSE(c.friends_only);
  EXPECT_EQ(c.token_ttl_s, 30u * 86400);
  EXPECT_EQ(c.scrypt_n, 16384u);
  std::string error;
  EXPECT_TRUE(validate_config(c, error)) << error;
  EXPECT_EQ(parse_ok(""), Config{});
  EXPECT_EQ(parse_ok("# only a comment\n"), Config{});
}

TEST(ConfigTest, TopLevel) {
  Config c = parse_ok(
      "data_dir = \"/var/lib/parley\"\nbind = \"0.0.0.0\"\nhttp_port = 0\ntcp_port = 9000\n"
      "shards = 4\nlog_level = \"debug\"\n");
  EXPECT_EQ(c.data_dir, "/var/lib/parley");
  EXPECT_EQ(c.bind, "0.0.0.0");
  EXPECT_EQ(c.http_port, 0);
  EXPECT_EQ(c.tcp_port, 9000);
  EXPECT_EQ(c.shards, 4);
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
}

TEST(ConfigTest, LimitsTable) {
  Config c = parse_ok(
      "[limits]\nmax_frame = 131072\nmax_body = \"32KiB\"\nmax_meta = 100\nmax_outbuf = \"8MiB\"\n"
      "max_header_bytes = \"8KiB\"\nmax_http_body = \"2MB\"\nmax_file = \"1GiB\"\n"
      "header_timeout = \"5s\"\nlogin_timeout = 2500\nidle_timeout = \"2m\"\n"
      "rate_limit = 12.5\nrate_burst = 30\nmax_connections = 1000000\n"
      "max_connections_per_ip = 64\nmax_devices = 3\nmax_group_size = 500\nmax_watch = 0\n");
  EXPECT_EQ(c.max_frame, 131072u);
  EXPECT_EQ(c.max_body, 32u * 1024);
  EXPECT_EQ(c.max_meta, 100u);
  EXPECT_EQ(c.max_outbuf, 8u << 20);
  EXPECT_EQ(c.max_header_bytes, 8192u);
  EXPECT_EQ(c.max_http_body, 2000000u);
  EXPECT_EQ(c.max_file, 1u << 30);
  EXPECT_EQ(c.header_timeout_ms, 5000u);
  EXPECT_EQ(c.login_timeout_ms, 2500u);
  EXPECT_EQ(c.idle_timeout_ms, 120000u);
  EXPECT_EQ(c.rate_limit, 12.5);
  EXPECT_EQ(c.rate_burst, 30.0);
  EXPECT_EQ(c.max_connections, 1000000u);
  EXPECT_EQ(c.max_connections_per_ip, 64u);
  EXPECT_EQ(c.max_devices, 3);
  EXPECT_EQ(c.max_group_size, 500);
  EXPECT_EQ(c.max_watch, 0);
}

TEST(ConfigTest, StorageTable) {
  Config c = parse_ok(
      "[storage]\nsync = \"always\"\nsync_interval = \"20ms\"\nretention = 0\n"
      "retention_count = 0\ndedupe_window = \"1h\"\n");
  EXPECT_EQ(c.sync, SyncMode::kAlways);
  EXPECT_EQ(c.sync_interval_ms, 20u);
  EXPECT_EQ(c.retention_ms, 0u);
  EXPECT_EQ(c.retention_count, 0u);
  EXPECT_EQ(c.dedupe_window_ms, 3600000u);
  EXPECT_EQ(parse_ok("[storage]\nsync = \"none\"").sync, SyncMode::kNone);
}

TEST(ConfigTest, AuthTable) {
  Config c = parse_ok(
      "[auth]\njwt_secret = \"s3cr3t\"\napi_key = \"k\"\nopen_registration = false\n"
      "jwt_auto_create = false\nfriends_only = true\ntoken_ttl = \"7d\"\nscrypt_n = 1024\n"
      "scrypt_r = 4\nscrypt_p = 2\n");
  EXPECT_EQ(c.jwt_secret, "s3cr3t");
  EXPECT_EQ(c.api_key, "k");
  EXPECT_FALSE(c.open_registration);
  EXPECT_FALSE(c.jwt_auto_create);
  EXPECT_TRUE(c.friends_only);
  EXPECT_EQ(c.token_ttl_s, 7u * 86400);
  EXPECT_EQ(c.scrypt_n, 1024u);
  EXPECT_EQ(c.scrypt_r, 4u);
  EXPECT_EQ(c.scrypt_p, 2u);
}

TEST(ConfigTest, DottedKeysAndInlineTables) {
  EXPECT_EQ(parse_ok("limits.max_frame = \"1MiB\"").max_frame, 1u << 20);
  EXPECT_EQ(parse_ok("auth = { friends_only = true }").friends_only, true);
}

TEST(ConfigTest, Durations) {
  EXPECT_EQ(parse_duration_ms("400ms"), 400u);
  EXPECT_EQ(parse_duration_ms("10s"), 10000u);
  EXPECT_EQ(parse_duration_ms("2m"), 120000u);
  EXPECT_EQ(parse_duration_ms("1h"), 3600000u);
  EXPECT_EQ(parse_duration_ms("7d"), 7u * 86400000);
  EXPECT_EQ(parse_duration_ms("10 s"), 10000u);
  EXPECT_EQ(parse_duration_ms("0s"), 0u);
  for (const char* bad : {"", "s", "10", "10x", "1.5s", "-1s", " 10s", "10s ", "10  s", "10S",
                          "99999999999999999999ms", "999999999999999d"}) {
    EXPECT_FALSE(parse_duration_ms(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_ok("[limits]\nidle_timeout = 1500").idle_timeout_ms, 1500u);
  EXPECT_EQ(parse_ok("[auth]\ntoken_ttl = 60000").token_ttl_s, 60u);
  EXPECT_NE(parse_error("[auth]\ntoken_ttl = \"1500ms\"").find("whole number of seconds"),
            std::string::npos);
  EXPECT_NE(parse_error("[limits]\nidle_timeout = \"soon\"").find("limits.idle_timeout"),
            std::string::npos);
}

TEST(ConfigTest, Sizes) {
  EXPECT_EQ(parse_size("512B"), 512u);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("4MiB"), 4u << 20);
  EXPECT_EQ(parse_size("1GiB"), 1u << 30);
  EXPECT_EQ(parse_size("2KB"), 2000u);
  EXPECT_EQ(parse_size("2kB"), 2000u);
  EXPECT_EQ(parse_size("3MB"), 3000000u);
  EXPECT_EQ(parse_size("1GB"), 1000000000u);
  EXPECT_EQ(parse_size("16 KiB"), 16384u);
  for (const char* bad : {"", "KiB", "64", "64kib", "64K", "1.5MiB", "-1B", "99999999999GiB"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_ok("[limits]\nmax_frame = 131072").max_frame, 131072u);
  std::string e = parse_error("[limits]\nmax_frame = \"64 kilobytes\"");
  EXPECT_NE(e.find("limits.max_frame"), std::string::npos) << e;
  EXPECT_NE(parse_error("[limits]\nmax_file = -1").find("negative"), std::string::npos);
}

TEST(ConfigTest, UnknownKeyIsNamedWithSourceAndLine) {
  Config c;
  std::string error;
  EXPECT_FALSE(parse_config("[limits]\nmax_frme = 5\n", "/path/x.toml", c, error));
  EXPECT_NE(error.find("unknown key \"limits.max_frme\" in /path/x.toml"), std::string::npos)
      << error;
  EXPECT_NE(error.find("line 2"), std::string::npos) << error;

  EXPECT_NE(parse_error("http_prot = 1").find("unknown key \"http_prot\""), std::string::npos);
  EXPECT_NE(parse_error("[limit]\nmax_frame = 5").find("unknown table \"limit\""),
            std::string::npos);
  EXPECT_NE(parse_error("[auth.extra]\nx = 1").find("unknown key \"auth.extra\""),
            std::string::npos);
  EXPECT_NE(parse_error("limits = 5").find("\"limits\" must be a table"), std::string::npos);
  EXPECT_NE(parse_error("[[limits]]\nmax_frame = 5").find("\"limits\" must be a table"),
            std::string::npos);
  // A quoted key with a dot is one key, not a table and a key.
  EXPECT_NE(parse_error("\"limits.max_frame\" = 5").find("unknown key \"limits.max_frame\""),
            std::string::npos);
  // A key of one table is not accepted in another.
  EXPECT_NE(parse_error("[storage]\nmax_frame = 5").find("storage.max_frame"), std::string::npos);
}

TEST(ConfigTest, WrongTypeNamesKey) {
  struct Case {
    const char* text;
    const char* key;
  };
  for (const Case& c :
       {Case{"http_port = \"8080\"", "http_port"}, Case{"http_port = 80.0", "http_port"},
        Case{"data_dir = 5", "data_dir"}, Case{"log_level = 1", "log_level"},
        Case{"[limits]\nmax_frame = true", "limits.max_frame"},
        Case{"[limits]\nheader_timeout = 1.5", "limits.header_timeout"},
        Case{"[limits]\nrate_limit = \"50\"", "limits.rate_limit"},
        Case{"[storage]\nsync = false", "storage.sync"},
        Case{"[auth]\nopen_registration = \"yes\"", "auth.open_registration"},
        Case{"[auth]\napi_key = [1, 2]", "auth.api_key"},
        Case{"[auth]\ntoken_ttl = 1979-05-27", "auth.token_ttl"}}) {
    std::string e = parse_error(c.text);
    EXPECT_NE(e.find(c.key), std::string::npos) << c.text << " -> " << e;
    EXPECT_NE(e.find("must be"), std::string::npos) << e;
    EXPECT_NE(e.find("test.toml"), std::string::npos) << e;
  }
}

TEST(ConfigTest, OutOfRange) {
  struct Case {
    const char* text;
    const char* key;
  };
  for (const Case& c :
       {Case{"http_port = 65536", "http_port"}, Case{"tcp_port = -1", "tcp_port"},
        Case{"shards = 1025", "shards"}, Case{"log_level = \"loud\"", "log_level"},
        Case{"data_dir = \"\"", "data_dir"}, Case{"[limits]\nmax_frame = 15", "limits.max_frame"},
        Case{"[limits]\nmax_frame = \"65MiB\"", "limits.max_frame"},
        Case{"[limits]\nheader_timeout = 0", "limits.header_timeout"},
        Case{"[limits]\nlogin_timeout = \"0s\"", "limits.login_timeout"},
        Case{"[limits]\nrate_limit = -1", "limits.rate_limit"},
        Case{"[limits]\nrate_limit = nan", "limits.rate_limit"},
        Case{"[limits]\nrate_burst = inf", "limits.rate_burst"},
        Case{"[limits]\nmax_devices = 0", "limits.max_devices"},
        Case{"[storage]\nsync = \"sometimes\"", "storage.sync"},
        Case{"[storage]\ndedupe_window = \"10ms\"", "storage.dedupe_window"},
        Case{"[auth]\nscrypt_n = 1000", "auth.scrypt_n"},
        Case{"[auth]\nscrypt_r = 0", "auth.scrypt_r"}}) {
    std::string e = parse_error(c.text);
    EXPECT_NE(e.find(c.key), std::string::npos) << c.text << " -> " << e;
  }
  std::string e = parse_error("[storage]\nsync = \"sometimes\"");
  EXPECT_NE(e.find("\"always\", \"batch\", \"none\""), std::string::npos) << e;
}

TEST(ConfigTest, CrossFieldRules) {
  std::string e = parse_error("[limits]\nmax_body = \"128KiB\"");
  EXPECT_NE(e.find("limits.max_body"), std::string::npos) << e;
  EXPECT_NE(e.find("limits.max_frame"), std::string::npos) << e;
  parse_ok("[limits]\nmax_frame = \"256KiB\"\nmax_body = \"128KiB\"");
  EXPECT_NE(parse_error("[limits]\nmax_outbuf = \"32KiB\"").find("max_outbuf"), std::string::npos);
  // scrypt needs N < 2^(16 r).
  EXPECT_NE(parse_error("[auth]\nscrypt_n = 65536\nscrypt_r = 1").find("scrypt_n"), std::string::npos);
  parse_ok("[auth]\nscrypt_n = 32768\nscrypt_r = 1");
}

TEST(ConfigTest, SyntaxErrorHasSourceAndLine) {
  std::string e = parse_error("http_port = 1\n\nbind = \n");
  EXPECT_NE(e.find("test.toml"), std::string::npos) << e;
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
  EXPECT_FALSE(parse_error("a = \"\xff\"").empty());
  EXPECT_NE(parse_error("bind = \"a\\u0000b\"").find("NUL"), std::string::npos);
}

// Non-ASCII text is fine in strings and comments; elsewhere it is refused before toml++ 3.3.0
// sees it (it has undefined behaviour there, see screen_non_ascii in config.cc).
TEST(ConfigTest, NonAscii) {
  EXPECT_EQ(parse_ok("# données\ndata_dir = \"/srv/données\" # é\n").data_dir, "/srv/données");
  EXPECT_EQ(parse_ok("data_dir = '/srv/§'").data_dir, "/srv/§");
  EXPECT_EQ(parse_ok("data_dir = \"\"\"/a\\\n  /§\"\"\"").data_dir, "/a/§");
  EXPECT_EQ(parse_ok("data_dir = '''\n/§'''").data_dir, "/§");
  EXPECT_EQ(parse_ok("[auth]\njwt_secret = \"\"\"§\"\"\"\"").jwt_secret, "§\"");
  EXPECT_EQ(parse_ok("bind = \"\\\"§\"").bind, "\"§");
  std::string e = parse_error("http_port = 1\n\xcf\x8b = 1\n");
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
  EXPECT_NE(e.find("non-ASCII"), std::string::npos) << e;
  EXPECT_FALSE(parse_error("bind = \"x\"\xcf\x8b").empty());
  EXPECT_FALSE(parse_error("s = \"\"\"\\\n\xc2\xa7\"\"\"\n").empty());  // tomlplusplus#190
  EXPECT_FALSE(parse_error("s = \"\"\"\\\xc2\xa7\"\"\"\n").empty());
}

TEST(ConfigTest, OverlaysOntoExistingValues) {
  Config c;
  c.http_port = 1234;
  std::string error;
  ASSERT_TRUE(parse_config("tcp_port = 4321", "x", c, error)) << error;
  EXPECT_EQ(c.http_port, 1234);
  EXPECT_EQ(c.tcp_port, 4321);
}

TEST(ConfigTest, DescribeRoundTrips) {
  Config modified;
  modified.data_dir = "/tmp/dir with \"quotes\"\tand\\tabs";
  modified.http_port = 0;
  modified.log_level = LogLevel::kWarn;
  modified.max_frame = 100000;
  modified.max_file = 3000;
  modified.idle_timeout_ms = 61001;
  modified.rate_limit = 0.1;
  modified.rate_burst = 7;
  modified.sync = SyncMode::kNone;
  modified.retention_ms = 0;
  modified.token_ttl_s = 3601;
  for (const Config& c : {Config{}, modified}) {
    Config back;
    std::string error;
    ASSERT_TRUE(parse_config(describe(c), "describe", back, error)) << error << describe(c);
    EXPECT_EQ(back, c) << describe(c);
  }
  std::string d = describe(Config{});
  EXPECT_NE(d.find("max_frame = \"64KiB\""), std::string::npos) << d;
  EXPECT_NE(d.find("header_timeout = \"10s\""), std::string::npos) << d;
  EXPECT_NE(d.find("[storage]\nsync = \"batch\""), std::string::npos) << d;
}

TEST(ConfigTest, DescribeHidesSecrets) {
  Config c;
  c.jwt_secret = "very-secret-value";
  c.api_key = "another-secret";
  std::string d = describe(c);
  EXPECT_EQ(d.find("very-secret-value"), std::string::npos) << d;
  EXPECT_EQ(d.find("another-secret"), std::string::npos) << d;
  EXPECT_NE(d.find("# jwt_secret = (set, 17 bytes"), std::string::npos) << d;
}

TEST(ConfigTest, ShippedConfigIsTheDefaultsAndDocumentsEveryOption) {
  std::string path = std::string(PARLEY_SOURCE_DIR) + "/conf/parley.toml";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream text;
  text << in.rdbuf();
  Config c;
  std::string error;
  ASSERT_TRUE(parse_config(text.str(), path, c, error)) << error;
  EXPECT_EQ(c, Config{});
  // Every option describe() prints is set (and so documented) in the file.
  std::istringstream lines(describe(Config{}));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '[') continue;
    std::string key = line.substr(0, line.find(" = ") + 3);
    EXPECT_NE(text.str().find("\n" + key), std::string::npos) << key;
  }
}

TEST(ConfigCliTest, NoFlagsRunsWithDefaults) {
  CliResult r = run_cli({});
  EXPECT_EQ(r.action, CliResult::Action::kRun);
  EXPECT_FALSE(r.check_config);
  EXPECT_EQ(r.config, Config{});
}

TEST(ConfigCliTest, FlagsOverrideFile) {
  std::string path = write_temp("override.toml",
                                "data_dir = \"/from/file\"\nhttp_port = 1111\ntcp_port = 2222\n"
                                "[storage]\nsync = \"none\"\n[auth]\nfriends_only = true\n");
  CliResult r = run_cli({"--config", path, "--http-port", "0", "--sync=always", "--shards", "2",
                         "--bind", "0.0.0.0", "--jwt-secret", "js", "--api-key", "ak",
                         "--open-registration", "false", "--log-level", "error"});
  ASSERT_EQ(r.action, CliResult::Action::kRun) << r.output;
  EXPECT_EQ(r.config.data_dir, "/from/file");  // file beats default
  EXPECT_EQ(r.config.http_port, 0);            // flag beats file
  EXPECT_EQ(r.config.tcp_port, 2222);
  EXPECT_EQ(r.config.sync, SyncMode::kAlways);
  EXPECT_EQ(r.config.shards, 2);
  EXPECT_EQ(r.config.bind, "0.0.0.0");
  EXPECT_EQ(r.config.jwt_secret, "js");
  EXPECT_EQ(r.config.api_key, "ak");
  EXPECT_FALSE(r.config.open_registration);
  EXPECT_EQ(r.config.log_level, LogLevel::kError);
  EXPECT_TRUE(r.config.friends_only);
  EXPECT_EQ(run_cli({"--data-dir", "/d", "--tcp-port", "0"}).config.data_dir, "/d");
  std::remove(path.c_str());
}

TEST(ConfigCliTest, BadUsageExits2ToStderr) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--sync", "sometimes"},
                                             {"--log-level", "loud"},
                                             {"--open-registration", "maybe"},
                                             {"--http-port", "65536"},
                                             {"--tcp-port", "abc"},
                                             {"--shards", "-1"},
                                             {"--no-such-flag"},
                                             {"stray-argument"},
                                             {"--data-dir", ""},
                                             {"--bind"}}) {
    CliResult r = run_cli(args);
    EXPECT_EQ(r.action, CliResult::Action::kExit) << args[0];
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_TRUE(r.to_stderr) << args[0];
    EXPECT_FALSE(r.output.empty()) << args[0];
  }
  EXPECT_NE(run_cli({"--sync", "sometimes"}).output.find("sometimes"), std::string::npos);
}

TEST(ConfigCliTest, VersionAndHelp) {
  CliResult v = run_cli({"--version"});
  EXPECT_EQ(v.action, CliResult::Action::kExit);
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_FALSE(v.to_stderr);
  EXPECT_EQ(v.output, "parleyd 1.2.3\n");

  CliResult h = run_cli({"--help"});
  EXPECT_EQ(h.action, CliResult::Action::kExit);
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_FALSE(h.to_stderr);
  for (const char* flag : {"--config", "--data-dir", "--bind", "--http-port", "--tcp-port",
                           "--shards", "--sync", "--jwt-secret", "--api-key", "--open-registration",
                           "--log-level", "--version", "--check-config", "conf/parley.toml"}) {
    EXPECT_NE(h.output.find(flag), std::string::npos) << flag << "\n" << h.output;
  }
}

TEST(ConfigCliTest, MissingConfigFileExits1NamingPath) {
  std::string path = ::testing::TempDir() + "parley_no_such_dir/none.toml";
  CliResult r = run_cli({"--config", path});
  EXPECT_EQ(r.action, CliResult::Action::kExit);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.to_stderr);
  EXPECT_NE(r.output.find(path), std::string::npos) << r.output;

  CliResult dir = run_cli({"--config", ::testing::TempDir()});
  EXPECT_EQ(dir.exit_code, 1) << dir.output;
}

TEST(ConfigCliTest, BadConfigFileExits1) {
  std::string path = write_temp("bad.toml", "[limits]\nmax_frme = 5\n");
  CliResult r = run_cli({"--config", path, "--http-port", "1"});
  EXPECT_EQ(r.action, CliResult::Action::kExit);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.to_stderr);
  EXPECT_NE(r.output.find("unknown key \"limits.max_frme\" in " + path), std::string::npos)
      << r.output;
  std::remove(path.c_str());
}

TEST(ConfigCliTest, CheckConfig) {
  std::string shipped = std::string(PARLEY_SOURCE_DIR) + "/conf/parley.toml";
  CliResult r = run_cli({"--config", shipped, "--check-config"});
  ASSERT_EQ(r.action, CliResult::Action::kRun) << r.output;
  EXPECT_TRUE(r.check_config);
  EXPECT_EQ(r.config, Config{});
}

}  // namespace
}  // namespace parley::server
