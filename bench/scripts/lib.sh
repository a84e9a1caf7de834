# Shared by the benchmark scripts (sourced): their arguments, a temporary work directory that is
# removed on exit together with the servers started in it, and parleyd as the benchmarks run it.

# bench_init NAME [BUILD_DIR=build-bench-rel] [OUT_DIR=bench-out]: sets R (build dir), B
# (parley-bench), O (results), work (temporary) and writes $work/c.toml with the bench secret.
bench_init() {
  R=$(realpath "${2:-build-bench-rel}")
  O=$(realpath -m "${3:-bench-out}")
  B=$R/bench/harness/parley-bench
  mkdir -p "$O"
  work=$(mktemp -d "/tmp/parley-$1-XXXXXX")
  pp=""
  extra_pids=()
  trap 'kill -9 $pp "${extra_pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
  printf '[auth]\njwt_secret = "bench-secret"\n' >"$work/c.toml"
}

# start_parleyd HTTP_PORT TCP_PORT [COMMAND PREFIX, e.g. taskset -c 0]: parleyd on $work/data with one shard,
# --sync batch and no rate limit, stderr in $work/server.log. Sets pp (its pid) and secs (seconds
# from the start to its "listening" line).
start_parleyd() {
  local http=$1 tcp=$2 t0
  shift 2
  t0=$(date +%s.%N)
  "$@" "$R/parleyd" --config "$work/c.toml" --data-dir "$work/data" --http-port "$http" \
    --tcp-port "$tcp" --shards 1 --sync batch --rate-limit 0 >/dev/null 2>"$work/server.log" &
  pp=$!
  for _ in $(seq 6000); do
    grep -q 'listening ' "$work/server.log" && break
    sleep 0.005
  done
  secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" \
    "$t0" "$(date +%s.%N)")
}

# json_field FILE FIELD: one field of a parley-bench --json result (the last line of FILE).
json_field() {
  python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])" "$1" "$2"
}
