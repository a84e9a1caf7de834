// parleyd: the Parley server. See docs/OPERATIONS.md and `parleyd --help`.
#include <cstdio>

#include "parley/server/app.h"
#include "parley/server/config.h"
#include "parley/server/log.h"

int main(int argc, char** argv) {
  using namespace parley::server;
  CliResult cli = parse_command_line(argc, argv, PARLEY_VERSION);
  if (cli.action == CliResult::Action::kExit) {
    std::fputs(cli.output.c_str(), cli.to_stderr ? stderr : stdout);
    return cli.exit_code;
  }
  if (cli.check_config) {
    std::fputs(describe(cli.config).c_str(), stdout);
    std::fputs("configuration ok\n", stdout);
    return 0;
  }
  parley::log::set_level(cli.config.log_level);
  return run_server(cli.config);
}
