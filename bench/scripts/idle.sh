#!/usr/bin/env bash
# idle: server memory per logged-in connection at 19,000 WebSocket connections
# (docs/BENCHMARKS.md). A first run creates the users (jwt_auto_create); the server restarts,
# and a second run logs the same users in again, so the figure is connections, not new users.
# Needs a descriptor limit of at least 19,100 (this box: 20,000). Loopback only; ~2.5 minutes
# (it waits out the TIME_WAIT sockets of the first run).
# Usage: bench/scripts/idle.sh [BUILD_DIR=build-bench-rel] [OUT_DIR=bench-out]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init idle "$@"
start_parleyd 18290 17290 taskset -c 0
taskset -c 0 "$B" idle --port 18290 --conns 19000 --jwt-secret bench-secret --prefix idl --hold 1 \
  --json >"$O/idle_create.json"
kill $pp
wait $pp || true
sleep 65  # the server side's TIME_WAIT sockets would otherwise slow the reconnects
start_parleyd 18290 17290 taskset -c 0
sleep 1
taskset -c 0 "$B" idle --port 18290 --conns 19000 --jwt-secret bench-secret --prefix idl --hold 5 \
  --server-pid $pp --json >"$O/idle.json"
echo "idle: $(json_field "$O/idle.json" server_bytes_per_connection) bytes of server RSS per" \
  "connection, $(json_field "$O/idle.json" connections_per_s) connect+login/s"
