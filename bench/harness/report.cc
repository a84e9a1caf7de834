// The two outputs of a run: a human-readable summary and one JSON object (--json).
#include <cstdio>
#include <string>

#include "parley/proto/json_writer.h"
#include "run.h"

namespace parley::bench {
namespace {

constexpr double kPercentiles[] = {50, 90, 99, 99.9};
constexpr const char* kPercentileNames[] = {"p50", "p90", "p99", "p99_9"};

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

void appendf(std::string& out, const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  out += buf;
}

double per_second(uint64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0; }

double per_unit_us(double seconds, uint64_t units) {
  return units > 0 ? seconds * 1e6 / static_cast<double>(units) : 0;
}

void text_latency(std::string& out, const char* name, const Histogram& h) {
  if (h.count() == 0) return;
  out += "  ";
  out += name;
  out += " (µs):";
  for (size_t i = 0; i < 4; ++i) {
    out += std::string(" ") + kPercentileNames[i] + " ";
    appendf(out, "%.1f", us(h.percentile(kPercentiles[i])));
  }
  out += " max ";
  appendf(out, "%.1f", us(h.max()));
  out += "  (n=" + std::to_string(h.count()) + ")\n";
}

void json_number(std::string& out, const char* key, double v, bool& first) {
  out += first ? "" : ",";
  first = false;
  out += '"';
  out += key;
  out += "\":";
  bool integral = v < 1e15 && v > -1e15 && v == static_cast<double>(static_cast<int64_t>(v));
  appendf(out, integral ? "%.0f" : "%.3f", v);
}

void json_latency(std::string& out, const char* key, const Histogram& h, bool& first) {
  out += first ? "" : ",";
  first = false;
  out += '"';
  out += key;
  out += "\":{";
  bool f = true;
  json_number(out, "count", static_cast<double>(h.count()), f);
  for (size_t i = 0; i < 4; ++i) json_number(out, kPercentileNames[i], us(h.percentile(kPercentiles[i])), f);
  json_number(out, "max", us(h.max()), f);
  json_number(out, "mean", h.mean() / 1000.0, f);
  out += '}';
}

}  // namespace

std::string format_text(const Report& r) {
  std::string out;
  out += "parley-bench " + r.scenario + (r.target == "parley" ? "" : " on " + r.target) +
         " over " + r.transport + ", " +
         std::to_string(r.connections) + " connections: " + (r.ok() ? "OK" : "FAILED") + "\n";
  out += "  setup: ";
  appendf(out, "%.2f s", r.setup_seconds);
  out += " (";
  appendf(out, "%.0f", per_second(r.connections, r.setup_seconds));
  out += " connections/s, login included)\n";
  if (r.scenario == "idle") {
    if (r.have_server) {
      double per = r.connections ? (static_cast<double>(r.server_rss_after) -
                                    static_cast<double>(r.server_rss_before)) / r.connections
                                 : 0;
      out += "  server RSS: ";
      appendf(out, "%.1f MB", static_cast<double>(r.server_rss_before) / 1e6);
      out += " -> ";
      appendf(out, "%.1f MB", static_cast<double>(r.server_rss_after) / 1e6);
      out += ", ";
      appendf(out, "%.0f", per);
      out += " bytes per connection\n";
    }
  } else {
    out += "  measured ";
    appendf(out, "%.2f s", r.measured_seconds);
    out += ": sent " + std::to_string(r.sent) + ", replies " + std::to_string(r.replied) +
           ", deliveries " + std::to_string(r.delivered) + "\n  throughput: ";
    appendf(out, "%.0f", per_second(r.replied, r.measured_seconds));
    out += " replies/s";
    if (r.delivered > 0) {
      out += ", ";
      appendf(out, "%.0f", per_second(r.delivered, r.measured_seconds));
      out += " deliveries/s";
    }
    out += "\n";
    text_latency(out, r.scenario == "echo" || r.scenario == "ping" ? "round trip" : "send->ok",
                 r.reply_latency);
    text_latency(out, "send->deliver", r.deliver_latency);
    out += "  client CPU: ";
    appendf(out, "%.2f", per_unit_us(r.client_cpu_seconds, r.units()));
    out += std::string(" µs per ") + r.unit_name();
    if (r.have_server) {
      out += ", server CPU: ";
      appendf(out, "%.2f", per_unit_us(r.server_cpu_seconds, r.units()));
      out += std::string(" µs per ") + r.unit_name();
    }
    out += "\n";
  }
  for (const auto& [name, value] : r.figures) {
    out += "  " + name + " ";
    appendf(out, "%.3f", value);
    out += "\n";
  }
  if (r.verified) {
    const VerifyTotals& v = r.verify;
    out += "  verified " + std::to_string(v.streams) + " streams, " + std::to_string(v.received) +
           " messages: lost " + std::to_string(v.lost) + ", duplicated " +
           std::to_string(v.duplicates) + ", reordered " + std::to_string(v.reorders) +
           ", seq regressions " + std::to_string(v.seq_regressions) + ", unexpected " +
           std::to_string(v.unexpected) + (v.ok() ? " (ok)" : " (FAILED)") + "\n";
  }
  if (r.errors > 0 || r.failed_connections > 0) {
    out += "  errors " + std::to_string(r.errors) + " (rate_limited " +
           std::to_string(r.rate_limited) + "), connections lost " +
           std::to_string(r.failed_connections) + "\n";
  }
  if (!r.error.empty()) out += "  first error: " + r.error + "\n";
  return out;
}

std::string format_json(const Report& r) {
  std::string out = "{\"scenario\":";
  proto::append_json_string(out, r.scenario);
  out += ",\"target\":";
  proto::append_json_string(out, r.target);
  out += ",\"transport\":";
  proto::append_json_string(out, r.transport);
  out += std::string(",\"ok\":") + (r.ok() ? "true" : "false");
  out += std::string(",\"completed\":") + (r.completed ? "true" : "false");
  out += ",\"unit\":";
  proto::append_json_string(out, r.unit_name());
  out += ',';
  bool first = true;
  json_number(out, "connections", r.connections, first);
  json_number(out, "setup_s", r.setup_seconds, first);
  json_number(out, "connections_per_s", per_second(r.connections, r.setup_seconds), first);
  json_number(out, "measured_s", r.measured_seconds, first);
  json_number(out, "sent", static_cast<double>(r.sent), first);
  json_number(out, "replies", static_cast<double>(r.replied), first);
  json_number(out, "deliveries", static_cast<double>(r.delivered), first);
  json_number(out, "replies_per_s", per_second(r.replied, r.measured_seconds), first);
  json_number(out, "deliveries_per_s", per_second(r.delivered, r.measured_seconds), first);
  json_number(out, "errors", static_cast<double>(r.errors), first);
  json_number(out, "rate_limited", static_cast<double>(r.rate_limited), first);
  json_number(out, "connections_lost", static_cast<double>(r.failed_connections), first);
  json_latency(out, "reply_latency_us", r.reply_latency, first);
  json_latency(out, "deliver_latency_us", r.deliver_latency, first);
  json_number(out, "client_cpu_us_per_unit", per_unit_us(r.client_cpu_seconds, r.units()), first);
  if (r.have_server) {
    json_number(out, "server_cpu_us_per_unit", per_unit_us(r.server_cpu_seconds, r.units()), first);
    json_number(out, "server_rss_before", static_cast<double>(r.server_rss_before), first);
    json_number(out, "server_rss_after", static_cast<double>(r.server_rss_after), first);
    if (r.connections > 0) {
      json_number(out, "server_bytes_per_connection",
                  (static_cast<double>(r.server_rss_after) -
                   static_cast<double>(r.server_rss_before)) / r.connections, first);
    }
  }
  for (const auto& [name, value] : r.figures) json_number(out, name.c_str(), value, first);
  if (r.verified) {
    const VerifyTotals& v = r.verify;
    out += ",\"verify\":{";
    bool f = true;
    json_number(out, "streams", static_cast<double>(v.streams), f);
    json_number(out, "received", static_cast<double>(v.received), f);
    json_number(out, "lost", static_cast<double>(v.lost), f);
    json_number(out, "duplicates", static_cast<double>(v.duplicates), f);
    json_number(out, "reorders", static_cast<double>(v.reorders), f);
    json_number(out, "seq_regressions", static_cast<double>(v.seq_regressions), f);
    json_number(out, "unexpected", static_cast<double>(v.unexpected), f);
    out += std::string(",\"ok\":") + (v.ok() ? "true" : "false") + "}";
  }
  out += ",\"error\":";
  proto::append_json_string(out, r.error);
  out += "}\n";
  return out;
}

std::string format_interval(const IntervalLine& l, bool json) {
  std::string out;
  if (json) {
    out = "{\"interval\":true,";
    bool first = true;
    json_number(out, "t_s", l.t, first);
    json_number(out, "messages_per_s", l.messages_per_s, first);
    json_number(out, "deliveries_per_s", l.deliveries_per_s, first);
    json_number(out, "requests_per_s", l.requests_per_s, first);
    json_number(out, "deliver_p99_us", l.deliver_p99_us, first);
    json_number(out, "deliveries", static_cast<double>(l.deliveries), first);
    json_number(out, "connections", static_cast<double>(l.connections), first);
    json_number(out, "reconnects", static_cast<double>(l.reconnects), first);
    json_number(out, "errors", static_cast<double>(l.errors), first);
    return out + "}\n";
  }
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "[%7.1f s] %.0f messages/s, %.0f deliveries/s, %.0f requests/s, deliver p99 "
                "%.0f µs, %llu connections, %llu reconnects, %llu errors\n",
                l.t, l.messages_per_s, l.deliveries_per_s, l.requests_per_s, l.deliver_p99_us,
                static_cast<unsigned long long>(l.connections),
                static_cast<unsigned long long>(l.reconnects),
                static_cast<unsigned long long>(l.errors));
  return buf;
}

}  // namespace parley::bench
