// /metrics: per-shard counters gathered from every shard (through ask()) and rendered in the
// Prometheus text exposition format.
#pragma once

#include <string>
#include <vector>

#include "parley/chat/chat.h"
#include "parley/net/net_shard.h"
#include "parley/server/files.h"
#include "parley/shard/shard.h"
#include "parley/store/store.h"

namespace parley::server {

struct ShardSample {
  int shard = 0;
  net::NetStats net;
  shard::Shard::Stats queues;
  size_t queue_depth = 0;  // tasks waiting in this shard's outbound overflow
  chat::ChatShard::Stats chat;
  UploadStats uploads;
  store::StoreStats store;  // process-wide (the same on every shard; rendered once)
};

// Takes a copy of the calling shard's counters. Owner thread only.
ShardSample sample_current_shard();

std::string render_metrics(const std::vector<ShardSample>& shards);

}  // namespace parley::server
