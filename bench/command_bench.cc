// Request decode (simdjson On-Demand: envelope only, and envelope + typed body) and frame encode
// (our JSON writer).
#include <benchmark/benchmark.h>

#include <string>

#include "parley/proto/command.h"
#include "parley/proto/frames.h"
#include "parley/proto/json_writer.h"
#include "parley/proto/request.h"

namespace {

void BM_DecodePing(benchmark::State& state) {
  parley::proto::CommandDecoder d;
  parley::proto::Envelope env;
  parley::proto::DecodeError err;
  std::string in = R"({"op":"ping","id":12345})";
  for (auto _ : state) benchmark::DoNotOptimize(d.decode(in, env, err));
  state.SetBytesProcessed(state.iterations() * in.size());
}
BENCHMARK(BM_DecodePing);

void BM_DecodeSendEnvelope(benchmark::State& state) {
  parley::proto::CommandDecoder d;
  parley::proto::Envelope env;
  parley::proto::DecodeError err;
  std::string in = R"({"op":"send","id":7,"to":"bob","cid":"c-000001","type":"text","body":")" +
                   std::string(static_cast<size_t>(state.range(0)), 'a') +
                   R"(","meta":{"mentions":["carol"],"size":12}})";
  for (auto _ : state) benchmark::DoNotOptimize(d.decode(in, env, err));
  state.SetBytesProcessed(state.iterations() * in.size());
}
BENCHMARK(BM_DecodeSendEnvelope)->Arg(20)->Arg(4096);

// The full decode of a typical send: envelope, target, cid, type, body copied out, meta walked.
void BM_DecodeSendRequest(benchmark::State& state) {
  parley::proto::CommandDecoder d;
  parley::proto::Request req;
  parley::proto::DecodeError err;
  parley::proto::RequestLimits limits;
  std::string in = R"({"op":"send","id":7,"to":"bob","cid":"c-000001","type":"text","body":")" +
                   std::string(static_cast<size_t>(state.range(0)), 'a') +
                   R"(","meta":{"mentions":["carol"],"size":12}})";
  if (!d.decode(in, req, err, limits)) state.SkipWithError("decode failed");
  for (auto _ : state) benchmark::DoNotOptimize(d.decode(in, req, err, limits));
  state.SetBytesProcessed(state.iterations() * in.size());
}
BENCHMARK(BM_DecodeSendRequest)->Arg(20)->Arg(4096);

void BM_EncodeMsg(benchmark::State& state) {
  std::string body(static_cast<size_t>(state.range(0)), 'a');
  std::string out;
  for (auto _ : state) {
    out.clear();
    parley::proto::JsonWriter w(out);
    w.begin_object()
        .field("op", "msg")
        .field("from", "alice")
        .field("to", "bob")
        .field("seq", uint64_t{123456})
        .field("mid", "1732345678901000001")
        .field("ts", uint64_t{1732345678901})
        .field("cid", "c-000001")
        .field("type", "text")
        .field("body", std::string_view(body))
        .end_object();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_EncodeMsg)->Arg(20)->Arg(4096);

// encode_msg as the chat core calls it (one fresh string per frame, meta copied verbatim).
void BM_EncodeMsgFrame(benchmark::State& state) {
  std::string body(static_cast<size_t>(state.range(0)), 'a');
  parley::proto::MsgView m{"alice",
                           parley::proto::Target::Kind::kUser,
                           "bob",
                           123456,
                           1732345678901000001,
                           1732345678901,
                           "c-000001",
                           parley::proto::MsgType::kText,
                           body,
                           R"({"mentions":["carol"]})"};
  size_t bytes = 0;
  for (auto _ : state) {
    std::string frame = parley::proto::encode_msg(m);
    bytes += frame.size();
    benchmark::DoNotOptimize(frame.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeMsgFrame)->Arg(20)->Arg(4096);

}  // namespace
