#!/usr/bin/env bash
# Every parley-bench scenario against a fresh parleyd, as recorded in docs/BENCHMARKS.md.
# Server and client share core 0 (taskset -c 0), --shards 1, --sync batch, TCP unless noted.
# Usage: bench/scripts/scenarios.sh [BUILD_DIR=build-bench-rel] [OUT_DIR=bench-out]
# Writes one JSON file per run into OUT_DIR (mixed: one line per interval, the last one is the
# run's result) and strace -c of the echo server. Loopback only; about 2.5 minutes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init scenarios "$@"
P0=(taskset -c 0)
echo "$(date -u +%FT%T) $(git rev-parse --short HEAD 2>/dev/null || echo '?') load: $(cat /proc/loadavg)" |
  tee "$O/env.txt"

# The network layer: echo against parley-echo (WS and TCP), and its syscalls under strace -c.
"${P0[@]}" "$R/parley-echo" --port 19101 --tcp-port 19102 --shards 1 2>/dev/null &
ep=$!
extra_pids+=($ep)
sleep 0.5
"${P0[@]}" "$B" echo --port 19101 --path / --conns 100 --payload 20 --duration 5 --server-pid $ep \
  --json >"$O/echo_ws.json"
"${P0[@]}" "$B" echo --transport tcp --tcp-port 19102 --conns 100 --payload 20 --duration 5 \
  --server-pid $ep --json >"$O/echo_tcp.json"
timeout 12 strace -c -f -p $ep -o "$O/echo_strace.txt" &
sp=$!
sleep 1
"${P0[@]}" "$B" echo --port 19101 --path / --conns 100 --payload 20 --duration 5 --warmup 0 \
  --json >"$O/echo_ws_strace.json"
kill -INT $sp
wait $sp || true
kill $ep

# parleyd: one server for every scenario, in this order.
start_parleyd 18190 17190 "${P0[@]}"
T=(--transport tcp --tcp-port 17190 --jwt-secret bench-secret --server-pid $pp --json)
"${P0[@]}" "$B" ping --port 18190 --conns 100 --duration 5 --server-pid $pp --json >"$O/ping_ws.json"
"${P0[@]}" "$B" group "${T[@]}" --groups 1 --members 100 --window 4 --duration 5 >"$O/group.json"
"${P0[@]}" "$B" p2p "${T[@]}" --users 100 --window 16 --duration 5 >"$O/p2p.json"
half=$(json_field "$O/p2p.json" replies_per_s | cut -d. -f1)
half=$((half / 2))
echo "p2p open loop at half the closed-loop rate: $half/s" | tee -a "$O/env.txt"
"${P0[@]}" "$B" p2p "${T[@]}" --users 100 --window 16 --rate $half --duration 5 >"$O/p2p_half.json"
"${P0[@]}" "$B" p2p "${T[@]}" --users 100 --window 16 --rate $((half / 2)) --duration 5 \
  >"$O/p2p_quarter.json"
"${P0[@]}" "$B" offline "${T[@]}" --users 200 --messages 2000 --window 16 >"$O/offline.json"
"${P0[@]}" "$B" storm "${T[@]}" --users 2000 --window 4 --duration 3 >"$O/storm.json"
for rate in 5000 2000; do
  "${P0[@]}" "$B" mixed --port 18190 --jwt-secret bench-secret --server-pid $pp --users 1000 \
    --members 10 --rate $rate --window 4 --churn 0.01 --duration 30 --report-every 10 --json \
    >"$O/mixed$rate.json"
done
echo "done $(date -u +%FT%T) load: $(cat /proc/loadavg)" | tee -a "$O/env.txt"
