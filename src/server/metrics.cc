#include "parley/server/metrics.h"

#include <cstdint>
#include <functional>
#include <string_view>

namespace parley::server {
namespace {

using net::Transport;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  // One metric family: its HELP/TYPE header, then one sample per shard (and label set).
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP parley_";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE parley_";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
    name_ = name;
  }
  void sample(int shard, std::string_view extra_label, int64_t v) {
    out_ += "parley_";
    out_ += name_;
    out_ += "{shard=\"";
    out_ += std::to_string(shard);
    out_ += '"';
    if (!extra_label.empty()) {
      out_ += ',';
      out_ += extra_label;
    }
    out_ += "} ";
    out_ += std::to_string(v);
    out_ += '\n';
  }

 private:
  std::string& out_;
  std::string_view name_;
};

constexpr Transport kTransports[] = {Transport::kHttp, Transport::kWebSocket, Transport::kTcp};

std::string transport_label(Transport t) {
  return "transport=\"" + std::string(net::to_string(t)) + "\"";
}

}  // namespace

ShardSample sample_current_shard() {
  ShardSample s;
  shard::Shard* sh = shard::Shard::current();
  net::NetShard* net = net::NetShard::current();
  if (sh != nullptr) {
    s.shard = sh->id();
    s.queues = sh->stats();
    s.queue_depth = sh->stats().overflow;
  }
  if (net != nullptr) s.net = net->stats();
  return s;
}

std::string render_metrics(const std::vector<ShardSample>& shards) {
  std::string out;
  out.reserve(4096);
  Writer w(out);
  auto per_transport = [&](std::string_view name, std::string_view type, std::string_view help,
                           auto get) {
    w.family(name, type, help);
    for (const auto& s : shards) {
      for (Transport t : kTransports) w.sample(s.shard, transport_label(t), get(s, t));
    }
  };
  auto per_shard = [&](std::string_view name, std::string_view type, std::string_view help,
                       auto get) {
    w.family(name, type, help);
    for (const auto& s : shards) w.sample(s.shard, {}, static_cast<int64_t>(get(s)));
  };
  per_transport("connections_open", "gauge", "Client connections open now.",
                [](const ShardSample& s, Transport t) { return s.net.open[int(t)]; });
  per_transport("connections_accepted_total", "counter",
                "Client connections accepted (WebSocket: upgrades).",
                [](const ShardSample& s, Transport t) {
                  return static_cast<int64_t>(s.net.accepted[int(t)]);
                });
  per_shard("frames_in_total", "counter", "Client messages received (WebSocket or TCP).",
            [](const ShardSample& s) { return s.net.frames_in; });
  per_shard("frames_out_total", "counter", "Messages sent to clients.",
            [](const ShardSample& s) { return s.net.frames_out; });
  per_shard("bytes_in_total", "counter", "Bytes read from client sockets.",
            [](const ShardSample& s) { return s.net.bytes_in; });
  per_shard("bytes_out_total", "counter", "Bytes written to client sockets.",
            [](const ShardSample& s) { return s.net.bytes_out; });
  per_shard("http_requests_total", "counter", "HTTP requests parsed.",
            [](const ShardSample& s) { return s.net.http_requests; });
  per_shard("http_parse_errors_total", "counter", "Malformed or over-limit HTTP requests.",
            [](const ShardSample& s) { return s.net.http_errors; });
  per_shard("ws_protocol_errors_total", "counter", "WebSocket connections closed for bad framing.",
            [](const ShardSample& s) { return s.net.ws_errors; });
  per_shard("tcp_framing_errors_total", "counter", "TCP connections closed for bad framing.",
            [](const ShardSample& s) { return s.net.tcp_errors; });
  per_shard("timeouts_total", "counter", "Connections closed by a login, header or idle timeout.",
            [](const ShardSample& s) { return s.net.timeouts; });
  per_shard("slow_client_closes_total", "counter",
            "Connections closed because their output passed max_outbuf.",
            [](const ShardSample& s) { return s.net.slow_client_closes; });
  per_shard("read_pauses_total", "counter", "Times reading paused for a client's full output.",
            [](const ShardSample& s) { return s.net.read_pauses; });
  per_shard("connections_rejected_total", "counter", "Connections refused at the limit.",
            [](const ShardSample& s) { return s.net.rejected; });
  per_shard("handoffs_total", "counter", "Connections moved to this shard from another.",
            [](const ShardSample& s) { return s.net.handoffs_in; });
  per_shard("direct_writes_total", "counter", "Flushes written entirely without waiting.",
            [](const ShardSample& s) { return s.net.direct_writes; });
  per_shard("queued_writes_total", "counter", "Flushes that had to wait for the socket.",
            [](const ShardSample& s) { return s.net.queued_writes; });
  per_shard("xshard_posted_total", "counter", "Cross-shard messages sent by this shard.",
            [](const ShardSample& s) { return s.queues.posted; });
  per_shard("xshard_received_total", "counter", "Cross-shard messages run on this shard.",
            [](const ShardSample& s) { return s.queues.received; });
  per_shard("xshard_ring_full_total", "counter",
            "Cross-shard messages that found their ring full and waited in overflow.",
            [](const ShardSample& s) { return s.queues.ring_full; });
  per_shard("xshard_wakeups_total", "counter", "Wake-ups sent to other shards.",
            [](const ShardSample& s) { return s.queues.wakeups_sent; });
  per_shard("xshard_overflow", "gauge", "Cross-shard messages waiting for ring space now.",
            [](const ShardSample& s) { return s.queue_depth; });
  return out;
}

}  // namespace parley::server
