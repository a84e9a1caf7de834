// Store append: the cost per message of the group commit path (ShardBatch put + after_commit,
// then commit() = one Store::write), with 1 message per batch (no batching) against 64 (a busy
// tick), under each sync policy. Values are 300 bytes, keys are msg_key()s of 64 conversations
// appended in turn. Each run uses a fresh DB under /tmp, removed afterwards.
//   build/parley-microbench --benchmark_filter=StoreAppend
// No BENCHMARK_MAIN here: the shared bench main is linked in.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "parley/store/keys.h"
#include "parley/store/store.h"

namespace parley::store {
namespace {

constexpr int kConversations = 64;
constexpr size_t kValueBytes = 300;

const char* policy_name(SyncPolicy p) {
  switch (p) {
    case SyncPolicy::kAlways:
      return "sync=always";
    case SyncPolicy::kBatch:
      return "sync=batch";
    case SyncPolicy::kNone:
      return "sync=none";
  }
  return "?";
}

// args: messages per batch, SyncPolicy.
void BM_StoreAppend(benchmark::State& state) {
  const int per_batch = static_cast<int>(state.range(0));
  const auto policy = static_cast<SyncPolicy>(state.range(1));
  state.SetLabel(policy_name(policy));

  char tmpl[] = "/tmp/parley-store-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  std::string dir = tmpl;
  std::string error;
  auto store = Store::open({.path = dir + "/db", .sync = policy}, error);
  if (!store) {
    state.SkipWithError(error.c_str());
    return;
  }

  std::vector<ConvId> convs;
  for (int i = 0; i < kConversations; ++i) convs.push_back(ConvId::pair(1, 2 + i));
  std::vector<uint64_t> seqs(kConversations, 0);
  std::string value(kValueBytes, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + (i * 7) % 26);

  ShardBatch batch(*store);
  uint64_t n = 0, acked = 0;
  for (auto _ : state) {
    for (int i = 0; i < per_batch; ++i, ++n) {
      size_t c = n % kConversations;
      batch.put(msg_key(convs[c], ++seqs[c]), value);
      batch.after_commit([&acked](bool ok) { acked += ok; });
    }
    batch.commit();
  }
  if (acked != n) state.SkipWithError("a write failed");
  const double msgs = static_cast<double>(state.iterations() * per_batch);
  state.SetItemsProcessed(static_cast<int64_t>(msgs));
  state.counters["time/msg"] =
      benchmark::Counter(msgs, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["wal_syncs/msg"] =
      benchmark::Counter(static_cast<double>(store->stats().wal_syncs) / msgs);

  store.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_StoreAppend)
    ->ArgNames({"msgs", "sync"})
    ->ArgsProduct({{1, 64},
                   {static_cast<int64_t>(SyncPolicy::kNone),
                    static_cast<int64_t>(SyncPolicy::kBatch),
                    static_cast<int64_t>(SyncPolicy::kAlways)}})
    ->UseRealTime();

}  // namespace
}  // namespace parley::store
