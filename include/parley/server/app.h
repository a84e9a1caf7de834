// parleyd as a whole: takes the data directory, opens the listeners, starts the shards, prints
// the "listening" line, and shuts down cleanly on SIGTERM/SIGINT.
#pragma once

#include "parley/server/config.h"

namespace parley::server {

// Runs the server until SIGTERM or SIGINT. Returns the process exit code (0 after a clean
// shutdown, 1 when it cannot start). Call from the main thread.
int run_server(const Config& config);

}  // namespace parley::server
