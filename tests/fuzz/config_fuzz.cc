// libFuzzer target: parse_config on arbitrary bytes. It must never crash or throw; a rejected
// document must come with a message and leave the Config untouched; an accepted one must pass
// validate_config, and describe() of it must parse back to the same Config (secrets aside,
// since describe() does not print them).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using parley::server::Config;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Config config;
  std::string error;
  if (!parley::server::parse_config(in, "fuzz.toml", config, error)) {
    if (error.empty() || !(config == Config{})) __builtin_trap();
    return 0;
  }
  if (!parley::server::validate_config(config, error)) __builtin_trap();
  Config back;
  if (!parley::server::parse_config(parley::server::describe(config), "describe", back, error)) {
    __builtin_trap();
  }
  back.jwt_secret = config.jwt_secret;
  back.api_key = config.api_key;
  if (!(back == config)) __builtin_trap();
  return 0;
}
