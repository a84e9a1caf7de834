#!/usr/bin/env bash
# Restart with 10 million stored messages (docs/BENCHMARKS.md): fills a store with p2p runs on
# both cores until it holds 10 M messages, then times three restarts after SIGTERM and three
# after kill -9 during sends (start to the "listening" line), each followed by a ping run that
# must succeed. Loopback only; ~6 minutes and ~600 MB of disk in a temporary directory.
# Usage: bench/scripts/restart.sh [BUILD_DIR=build-bench-rel] [OUT_DIR=bench-out]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init restart "$@"
TCP=(--transport tcp --tcp-port 17390 --jwt-secret bench-secret)
start_parleyd 18390 17390  # on both cores while filling
stored=0
for i in $(seq 0 19); do
  ((stored < 10000000)) || break
  "$B" p2p "${TCP[@]}" --users 200 --window 32 --duration 60 --warmup 0 --json >"$O/fill_$i.json"
  stored=$((stored + $(json_field "$O/fill_$i.json" sent)))
  echo "fill $i: $stored messages stored" | tee -a "$O/restart.txt"
done
kill $pp
wait $pp || true
echo "store: $(du -sh "$work/data" | cut -f1)" | tee -a "$O/restart.txt"
for k in 1 2 3; do
  start_parleyd 18390 17390 taskset -c 0
  echo "after SIGTERM, run $k: listening in $secs s" | tee -a "$O/restart.txt"
  taskset -c 0 "$B" ping --port 18390 --conns 10 --duration 1 --warmup 0 --json >"$O/restart_ping$k.json"
  kill $pp
  wait $pp || true
done
for k in 1 2 3; do
  start_parleyd 18390 17390 taskset -c 0
  "$B" p2p "${TCP[@]}" --users 20 --window 8 --duration 3 --warmup 0 --json >/dev/null &
  bp=$!
  sleep 1
  kill -9 $pp
  wait $pp || true
  wait $bp || true
  start_parleyd 18390 17390 taskset -c 0
  echo "after kill -9, run $k: listening in $secs s" | tee -a "$O/restart.txt"
  taskset -c 0 "$B" ping --port 18390 --conns 10 --duration 1 --warmup 0 --json >"$O/restart_kping$k.json"
  kill $pp
  wait $pp || true
done
