#include "parley/server/metrics.h"

#include <cstdint>
#include <cstdio>
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
  // A histogram in seconds: cumulative buckets, _sum and _count, for one shard.
  void histogram(int shard, const LatencyHistogram& h) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= LatencyHistogram::kBoundsNs.size(); ++i) {
      cumulative += h.bucket(i);
      std::string le = i < LatencyHistogram::kBoundsNs.size()
                           ? seconds(LatencyHistogram::kBoundsNs[i])
                           : std::string("+Inf");
      line("_bucket", shard, "le=\"" + le + "\"", std::to_string(cumulative));
    }
    line("_sum", shard, {}, seconds(h.sum_ns()));
    line("_count", shard, {}, std::to_string(h.count()));
  }
  // One sample without a shard label (process-wide values).
  void global(uint64_t v) {
    out_ += "parley_";
    out_ += name_;
    out_ += ' ';
    out_ += std::to_string(v);
    out_ += '\n';
  }
  void sample(int shard, std::string_view extra_label, int64_t v) {
    line({}, shard, extra_label, std::to_string(v));
  }

 private:
  static std::string seconds(uint64_t ns) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(ns) / 1e9);
    return buf;
  }
  void line(std::string_view suffix, int shard, std::string_view extra_label,
            const std::string& value) {
    out_ += "parley_";
    out_ += name_;
    out_ += suffix;
    out_ += "{shard=\"";
    out_ += std::to_string(shard);
    out_ += '"';
    if (!extra_label.empty()) {
      out_ += ',';
      out_ += extra_label;
    }
    out_ += "} ";
    out_ += value;
    out_ += '\n';
  }

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
  if (chat::ChatShard* chat = chat::ChatShard::current()) {
    s.chat = chat->stats();
    if (chat->services().store != nullptr) s.store = chat->services().store->stats();
  }
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
  per_shard("connections_rejected_total", "counter", "Connections refused at max_connections.",
            [](const ShardSample& s) { return s.net.rejected; });
  per_shard("connections_rejected_per_address_total", "counter",
            "Connections refused at max_connections_per_ip.",
            [](const ShardSample& s) { return s.net.rejected_per_address; });
  per_shard("rate_limited_total", "counter",
            "Requests refused with rate_limited (over the per-connection rate).",
            [](const ShardSample& s) { return s.net.rate_limited; });
  per_shard("rate_limit_closes_total", "counter",
            "Connections closed for staying over the rate limit.",
            [](const ShardSample& s) { return s.net.rate_limit_closes; });
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

  // The chat core, per shard (users and sessions on the shard that owns them).
  per_shard("users", "gauge", "Users owned by this shard.",
            [](const ShardSample& s) { return s.chat.users; });
  per_shard("sessions", "gauge", "Logged-in connections on this shard.",
            [](const ShardSample& s) { return s.chat.sessions; });
  per_shard("logins_total", "counter", "Successful logins.",
            [](const ShardSample& s) { return s.chat.logins; });
  per_shard("login_failures_total", "counter", "Refused logins (bad credentials or token).",
            [](const ShardSample& s) { return s.chat.login_failures; });
  per_shard("user_rate_limited_total", "counter",
            "Requests refused with rate_limited: over the rate of all of a user's devices.",
            [](const ShardSample& s) { return s.chat.user_rate_limited; });
  per_shard("login_throttled_total", "counter",
            "Password logins refused unchecked: too many failures for the user or address.",
            [](const ShardSample& s) { return s.chat.login_throttled; });
  per_shard("registrations_total", "counter", "Users registered.",
            [](const ShardSample& s) { return s.chat.registrations; });
  per_shard("messages_stored_total", "counter", "Messages appended to conversation logs.",
            [](const ShardSample& s) { return s.chat.messages_stored; });
  per_shard("messages_delivered_total", "counter", "Messages pushed to client connections.",
            [](const ShardSample& s) { return s.chat.messages_delivered; });
  per_shard("receipts_total", "counter", "Delivered/read receipts pushed.",
            [](const ShardSample& s) { return s.chat.receipts; });
  per_shard("dedupe_hits_total", "counter", "Sends answered from the dedupe table (cid reused).",
            [](const ShardSample& s) { return s.chat.dedupe_hits; });
  per_shard("kicked_total", "counter", "Sessions replaced by a new login of the same device.",
            [](const ShardSample& s) { return s.chat.kicked; });
  per_shard("chat_store_errors_total", "counter", "Store failures the chat core answered.",
            [](const ShardSample& s) { return s.chat.store_errors; });
  per_shard("commits_total", "counter", "Group commits (one store write per busy loop tick).",
            [](const ShardSample& s) { return s.chat.commits; });
  per_shard("uploads_active", "gauge", "File uploads in progress.",
            [](const ShardSample& s) { return s.uploads.active; });
  w.family("uploads_total", "counter", "File uploads by outcome.");
  for (const auto& s : shards) {
    const UploadStats& u = s.uploads;
    w.sample(s.shard, "result=\"stored\"", static_cast<int64_t>(u.stored));
    w.sample(s.shard, "result=\"failed\"", static_cast<int64_t>(u.failed));
    w.sample(s.shard, "result=\"aborted\"", static_cast<int64_t>(u.aborted));
    w.sample(s.shard, "result=\"refused\"", static_cast<int64_t>(u.refused));
  }
  per_shard("upload_parts_total", "counter", "Parts of uploads written while their body arrived.",
            [](const ShardSample& s) { return s.uploads.parts; });
  per_shard("upload_bytes_total", "counter", "Body bytes received by file uploads.",
            [](const ShardSample& s) { return s.uploads.bytes; });
  w.family("commit_seconds", "histogram", "Duration of a shard's group commit.");
  for (const auto& s : shards) w.histogram(s.shard, s.chat.commit_latency);
  w.family("send_ok_seconds", "histogram",
           "From a send's arrival to its ok (durable), on the sender's shard.");
  for (const auto& s : shards) w.histogram(s.shard, s.chat.send_latency);

  // The store, process-wide.
  if (!shards.empty()) {
    const store::StoreStats& st = shards.front().store;
    w.family("store_writes_total", "counter", "Successful store writes (all shards).");
    w.global(st.commits);
    w.family("store_write_bytes_total", "counter", "Bytes of those writes.");
    w.global(st.bytes);
    w.family("store_errors_total", "counter", "Failed store writes, reads and WAL syncs.");
    w.global(st.errors);
    w.family("store_wal_syncs_total", "counter", "Background WAL fsyncs (sync = batch).");
    w.global(st.wal_syncs);
    w.family("store_resumes_total", "counter",
             "Times writing resumed after failing (e.g. once a full disk had room again).");
    w.global(st.resumes);
    w.family("store_failing", "gauge", "1 while store writes fail (disk full, I/O error).");
    w.global(st.failing ? 1 : 0);
  }
  return out;
}

}  // namespace parley::server
