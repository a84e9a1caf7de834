// WebSocket framing benchmarks: decoding masked client frames (header parse, unmask in place,
// UTF-8 check of text) and encoding server frames, for a small JSON message and a 4 KiB payload.
// No BENCHMARK_MAIN here: the shared bench main is linked in.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "parley/net/ws_frame.h"

namespace parley::net {
namespace {

constexpr uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};

std::string payload_of(size_t size) {
  std::string p = R"({"op":"send","to":"alice","body":")";
  while (p.size() + 2 < size) p += static_cast<char>('a' + p.size() % 26);
  p += "\"}";
  p.resize(size, ' ');
  return p;
}

// Decode one masked text frame of range(0) bytes. Each iteration re-masks a fresh copy first
// (a memcpy of the wire bytes, as a socket read would), then decodes it.
void BM_WsDecodeMaskedText(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::string wire;
  ws_append_frame(wire, WsOpcode::kText, payload_of(size), kMask);
  std::vector<uint8_t> buf(wire.size());
  WsDecoder dec(WsLimits{.max_message = 1 << 20});
  for (auto _ : state) {
    std::memcpy(buf.data(), wire.data(), wire.size());
    auto r = dec.decode({buf.data(), buf.size()});
    benchmark::DoNotOptimize(r.event.payload.data());
    if (r.event.kind != WsEventKind::kMessage) state.SkipWithError("decode failed");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wire.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WsDecodeMaskedText)->Arg(32)->Arg(4096);

// Decode a burst of 64 small frames back to back from one buffer, as one read delivers them.
void BM_WsDecodeBurst64(benchmark::State& state) {
  std::string one;
  ws_append_frame(one, WsOpcode::kText, payload_of(32), kMask);
  std::string wire;
  for (int i = 0; i < 64; ++i) wire += one;
  std::vector<uint8_t> buf(wire.size());
  WsDecoder dec;
  for (auto _ : state) {
    std::memcpy(buf.data(), wire.data(), wire.size());
    size_t off = 0;
    while (off < buf.size()) {
      auto r = dec.decode({buf.data() + off, buf.size() - off});
      benchmark::DoNotOptimize(r.event.payload.data());
      off += r.consumed;
    }
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_WsDecodeBurst64);

// Encode one unmasked server frame (header + payload append) into a reused buffer.
void BM_WsEncodeServerFrame(benchmark::State& state) {
  const std::string payload = payload_of(static_cast<size_t>(state.range(0)));
  std::string out;
  out.reserve(payload.size() + kWsMaxHeaderSize);
  for (auto _ : state) {
    out.clear();
    ws_append_frame(out, WsOpcode::kText, payload);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(payload.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WsEncodeServerFrame)->Arg(32)->Arg(4096);

// Unmasking alone (the XOR loop), 4 KiB.
void BM_WsUnmask4K(benchmark::State& state) {
  std::vector<uint8_t> buf(4096, 0x5a);
  for (auto _ : state) {
    ws_mask({buf.data(), buf.size()}, kMask);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(state.iterations() * 4096);
}
BENCHMARK(BM_WsUnmask4K);

}  // namespace
}  // namespace parley::net
