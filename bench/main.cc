// parley-microbench: every Google Benchmark in bench/ in one binary.
//   build/parley-microbench --benchmark_filter=WsFrame
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
