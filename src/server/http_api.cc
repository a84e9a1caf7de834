// The HTTP API (PROTOCOL.md "HTTP API", "Files and images") and the bundled web client. Each
// request is served by the shard that accepted it; operations on users, conversations and groups
// go to their owner shards through the chat core's API calls, which answer with the same frames
// a client connection would get. Those frames become HTTP bodies without `op` and `id`.
#include <rocksdb/utilities/checkpoint.h>

#include <cctype>
#include <charconv>
#include <ctime>
#include <filesystem>
#include <memory>

#include "parley/auth/jwt.h"
#include "parley/http/request.h"
#include "parley/http/response.h"
#include "parley/http/url.h"
#include "parley/net/connection.h"
#include "parley/net/net_shard.h"
#include "parley/net/utf8.h"
#include "parley/proto/json_writer.h"
#include "parley/server/dispatcher.h"
#include "parley/server/files.h"
#include "parley/server/web_assets.h"
#include "parley/shard/shard.h"
#include "parley/store/store.h"
#include "parley/util/offload.h"
#include "uploads.h"

namespace parley::server {

using proto::ErrorCode;
using proto::Op;

namespace {
constexpr std::string_view kJson = "application/json";
}  // namespace

void Answer::send(std::string response) const {
  net::Connection* c = net::NetShard::current()->find(conn);
  if (c != nullptr) c->respond(std::move(response), !keep_alive);
}

void Answer::json(int status, std::string_view body) const {
  send(http::http_response(status, kJson, body, keep_alive));
}

void Answer::error(ErrorCode code, std::string_view message) const {
  send(http::http_json_error(proto::http_status(code), proto::to_string(code), message,
                             keep_alive));
}

void Answer::method_not_allowed() const {
  send(http::http_json_error(405, "bad_request", "method not allowed", keep_alive));
}

namespace {

bool error_code_named(std::string_view name, ErrorCode& out) {
  for (ErrorCode c : {ErrorCode::kBadRequest, ErrorCode::kUnauthorized, ErrorCode::kForbidden,
                      ErrorCode::kNotFound, ErrorCode::kConflict, ErrorCode::kTooLarge,
                      ErrorCode::kRateLimited, ErrorCode::kUnavailable, ErrorCode::kInternal}) {
    if (proto::to_string(c) == name) {
      out = c;
      return true;
    }
  }
  return false;
}

}  // namespace

// {"op":"ok",...} -> `ok_status` with {...}; {"op":"error","code":C,"message":M} -> C's status
// with {"error":C,"message":M}. The frames are the chat core's own (reply_ok / reply_error
// without an id), so their layout is known.
std::string frame_to_http(std::string_view frame, int ok_status, bool keep_alive) {
  constexpr std::string_view kOk = R"({"op":"ok")";
  constexpr std::string_view kError = R"({"op":"error","code":")";
  if (frame.starts_with(kOk)) {
    std::string_view rest = frame.substr(kOk.size());  // "}" or ",...}"
    std::string body = "{";
    body += rest.starts_with(',') ? rest.substr(1) : rest;
    return http::http_response(ok_status, kJson, body, keep_alive);
  }
  if (frame.starts_with(kError)) {
    std::string_view rest = frame.substr(kError.size());
    std::string_view code = rest.substr(0, rest.find('"'));
    ErrorCode c;
    if (error_code_named(code, c)) {
      std::string body = R"({"error":")";
      body += rest;
      return http::http_response(proto::http_status(c), kJson, body, keep_alive);
    }
  }
  return http::http_json_error(500, "internal", "unexpected reply", keep_alive);
}

// The JSON body of an API call as a client frame: `fields` (e.g. "op":"send") are added last, so
// they win over the same keys in the body; the caller checks the decoded op.
std::string body_as_frame(std::string_view body, std::string_view fields) {
  auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
  while (!body.empty() && space(body.front())) body.remove_prefix(1);
  while (!body.empty() && space(body.back())) body.remove_suffix(1);
  if (body.empty()) return "{" + std::string(fields) + "}";
  if (body.size() < 2 || body.front() != '{' || body.back() != '}') return std::string(body);
  std::string_view inner = body.substr(1, body.size() - 2);
  while (!inner.empty() && space(inner.front())) inner.remove_prefix(1);
  std::string frame(body.substr(0, body.size() - 1));
  if (!inner.empty()) frame += ',';
  frame += fields;
  frame += '}';
  return frame;
}

namespace {

std::string_view bearer(const http::Request& req) {
  const std::string* auth = req.header("authorization");
  if (auth == nullptr) return {};
  std::string_view v = *auth;
  if (v.size() < 7 || (v.substr(0, 7) != "Bearer " && v.substr(0, 7) != "bearer ")) return {};
  return v.substr(7);
}

// The path split at '/': "/v1/groups/team/members" -> {"v1","groups","team","members"}.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// A query parameter that must be a non-negative integer when present; appends `,"key":N` to
// `fields`. false (and the answer sent) when it is malformed.
bool number_param(const http::Request& req, std::string_view key, std::string& fields,
                  const Answer& a) {
  std::optional<std::string> v = http::query_param(req.query, key);
  if (!v || v->empty()) return true;
  uint64_t n;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || ptr != v->data() + v->size()) {
    a.error(ErrorCode::kBadRequest, std::string(key) + " must be a non-negative integer");
    return false;
  }
  fields += ",\"" + std::string(key) + "\":" + *v;
  return true;
}

std::string utc_stamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

std::string json_field(std::string_view key, std::string_view value) {
  std::string s = "\"" + std::string(key) + "\":";
  proto::append_json_string(s, value);
  return s;
}

bool Dispatcher::is_api_key(const http::Request& req) const {
  std::string_view token = bearer(req);
  return !token.empty() && !config_.api_key.empty() &&
         auth::equal_constant_time(token, config_.api_key);
}

Dispatcher::Caller Dispatcher::caller(const http::Request& req) const {
  Caller who;
  std::string_view token = bearer(req);
  if (token.empty()) return who;
  who.presented = true;
  if (is_api_key(req)) {
    who.api_key = true;
  } else if (!chat_->verify_token(token, who.user)) {
    who.user.clear();
  }
  return who;
}

bool Dispatcher::decode_call(std::string_view body, std::string_view fields, Op op,
                             proto::Request& out, const Answer& a) {
  std::string frame = body_as_frame(body, fields);
  if (!decoder_.decode(frame, out, decode_error_, limits_)) {
    a.error(decode_error_.code, decode_error_.message);
    return false;
  }
  if (out.env.op != op) {
    a.error(ErrorCode::kBadRequest, "unexpected field op");
    return false;
  }
  return true;
}

void Dispatcher::serve_api(net::Connection& c, http::Request& req) {
  Answer a{c.id(), req.keep_alive};
  std::vector<std::string_view> seg = segments(req.path);
  const std::string& m = req.method;
  auto method_not_allowed = [&a] { a.method_not_allowed(); };
  Caller who = caller(req);
  // Every call but registration and tokens needs credentials: a user's token or the api key.
  auto need_user_or_key = [&] {
    if (who.user.empty() && !who.api_key) {
      a.error(ErrorCode::kUnauthorized,
              who.presented ? "invalid or expired token" : "missing Authorization: Bearer");
      return false;
    }
    return true;
  };
  auto need_key = [&] {
    if (config_.api_key.empty()) {
      a.error(ErrorCode::kForbidden, "the back-end API is off (no api_key set)");
      return false;
    }
    if (!who.api_key) {
      a.error(ErrorCode::kUnauthorized, "this call needs the api key");
      return false;
    }
    return true;
  };
  auto need_user = [&] {
    if (who.user.empty()) {
      a.error(ErrorCode::kUnauthorized,
              who.presented ? "this call needs a user's token" : "missing Authorization: Bearer");
      return false;
    }
    return true;
  };
  auto answer_with = [a](int ok_status) {
    return [a, ok_status](std::string frame) {
      a.send(frame_to_http(frame, ok_status, a.keep_alive));
    };
  };
  proto::Request call;
  size_t n = seg.size();
  std::string_view what = n >= 2 ? seg[1] : std::string_view();

  if (what == "users" && n == 2) {  // POST /v1/users
    if (m != "POST") return method_not_allowed();
    if (!decode_call(req.body, R"("op":"register")", Op::kRegister, call, a)) return;
    return chat_->api_register(std::get<proto::RegisterReq>(std::move(call.body)), who.api_key,
                               answer_with(201));
  }
  if (what == "tokens" && n == 2) {  // POST /v1/tokens
    if (m != "POST") return method_not_allowed();
    if (!decode_call(req.body, R"("op":"register")", Op::kRegister, call, a)) return;
    auto& r = std::get<proto::RegisterReq>(call.body);
    return chat_->api_token(std::move(r.user), std::move(r.password), answer_with(200));
  }
  if (what == "messages" && n == 2) {  // POST /v1/messages
    if (m != "POST") return method_not_allowed();
    if (!need_key() || !decode_call(req.body, R"("op":"send")", Op::kSend, call, a)) return;
    auto& s = std::get<proto::SendReq>(call.body);
    if (s.from.empty()) return a.error(ErrorCode::kBadRequest, "from must be a user name");
    std::string from = s.from;
    return chat_->api_as(std::move(from), std::move(call), answer_with(200));
  }
  if (what == "broadcast" && n == 2) {  // POST /v1/broadcast
    if (m != "POST") return method_not_allowed();
    if (!need_key()) return;
    return serve_broadcast(c, req);
  }
  if (what == "online" && n == 2) {  // GET /v1/online?after=&limit=
    if (m != "GET") return method_not_allowed();
    if (!need_key()) return;
    std::string fields = R"("op":"online")";
    if (auto after = http::query_param(req.query, "after"); after && !after->empty()) {
      fields += "," + json_field("after", *after);
    }
    if (!number_param(req, "limit", fields, a)) return;
    if (!decode_call("", fields, Op::kOnline, call, a)) return;
    return chat_->api_online(std::get<proto::OnlineReq>(std::move(call.body)), answer_with(200));
  }
  if (what == "users" && n == 4 && seg[3] == "presence") {  // GET /v1/users/{name}/presence
    if (m != "GET") return method_not_allowed();
    if (!need_user_or_key()) return;
    if (!proto::valid_name(seg[2])) return a.error(ErrorCode::kBadRequest, "bad user name");
    return chat_->api_presence(std::string(seg[2]), answer_with(200));
  }
  if ((what == "conversations" || what == "groups") && n == 4 && seg[3] == "messages") {
    // GET /v1/conversations/{peer}/messages, GET /v1/groups/{g}/messages: history.
    if (m != "GET") return method_not_allowed();
    if (!need_user()) return;
    std::string fields = R"("op":"history",)" +
                         json_field(what == "groups" ? "group" : "peer", seg[2]);
    if (!number_param(req, "before", fields, a) || !number_param(req, "limit", fields, a)) return;
    if (!decode_call("", fields, Op::kHistory, call, a)) return;
    return chat_->api_as(who.user, std::move(call), answer_with(200));
  }
  if (what == "groups" && n == 2) {  // GET /v1/groups (mine), POST /v1/groups (create)
    if (m == "GET") {
      if (!need_user() || !decode_call("", R"("op":"groups")", Op::kGroups, call, a)) return;
      return chat_->api_as(who.user, std::move(call), answer_with(200));
    }
    if (m != "POST") return method_not_allowed();
    if (!need_user_or_key()) return;
    if (!decode_call(req.body, R"("op":"group_create")", Op::kGroupCreate, call, a)) return;
    std::string owner = who.api_key ? std::get<proto::GroupReq>(call.body).owner : who.user;
    if (owner.empty()) {
      return a.error(ErrorCode::kBadRequest, "owner must be a user name (api key calls)");
    }
    return chat_->api_as(std::move(owner), std::move(call), answer_with(201));
  }
  if (what == "groups" && (n == 4 || n == 5) && seg[3] == "members") {
    // GET/POST /v1/groups/{g}/members, DELETE /v1/groups/{g}/members[/{name}]
    Op op = m == "GET" ? Op::kGroupMembers : m == "POST" ? Op::kGroupAdd
          : m == "DELETE" ? Op::kGroupRemove : Op::kUnknown;
    if (op == Op::kUnknown || (n == 5 && op != Op::kGroupRemove)) return method_not_allowed();
    if (!need_user_or_key()) return;
    std::string fields = "\"op\":\"" + std::string(proto::op_name(op)) + "\"," +
                         json_field("group", seg[2]);
    std::string_view body = req.body;
    std::string one;
    if (n == 5) {  // the member in the path
      one = R"({"members":[)";
      proto::append_json_string(one, seg[4]);
      one += "]}";
      body = one;
    }
    if (op == Op::kGroupMembers) body = {};
    if (!decode_call(body, fields, op, call, a)) return;
    auto& g = std::get<proto::GroupReq>(call.body);
    if (who.api_key) return chat_->api_group_admin(op, std::move(g), answer_with(200));
    if (op == Op::kGroupRemove && g.members.size() == 1 && g.members[0] == who.user) {
      // Removing oneself is leaving.
      call.env.op = Op::kGroupLeave;
      g.members.clear();
    }
    return chat_->api_as(who.user, std::move(call), answer_with(200));
  }
  if (what == "files" && n == 2) {
    if (m != "POST") return method_not_allowed();
    if (!need_user_or_key()) return;
    return uploads_->finish(c, req);  // begun by on_http_headers, streamed by on_http_body
  }
  if (what == "files" && n == 3) {
    if (m != "GET" && m != "HEAD") return method_not_allowed();
    if (!need_user_or_key()) return;
    return serve_download(c, req, seg[2]);
  }
  if (what == "admin" && n == 3 && seg[2] == "checkpoint") {
    if (m != "POST") return method_not_allowed();
    if (!need_key()) return;
    return serve_checkpoint(c, req);
  }
  a.error(ErrorCode::kNotFound, "no such path");
}

// GET /v1/files/{id}: the bytes with their type. Only images a browser shows safely are inline;
// everything else is an attachment, and nothing may be sniffed or run as a page of this origin.
void Dispatcher::serve_download(net::Connection& c, const http::Request& req,
                                std::string_view id) {
  Answer a{c.id(), req.keep_alive};
  if (!valid_file_id(id)) return a.error(ErrorCode::kNotFound, "no such file");
  struct Job {
    std::string id, bytes;
    FileMeta meta;
    FileLoad result = FileLoad::kError;
  };
  auto job = std::make_shared<Job>();
  job->id = std::string(id);
  bool head = req.method == "HEAD";
  const store::Store* db = chat_->services().store;
  offload(
      shard::Shard::current()->loop(),
      [job, db] { job->result = load_file(*db, job->id, job->meta, job->bytes); },
      [job, a, head] {
        if (job->result == FileLoad::kNotFound) return a.error(ErrorCode::kNotFound, "no such file");
        if (job->result != FileLoad::kOk) {
          return a.error(ErrorCode::kUnavailable, "the file could not be read");
        }
        std::string headers =
            "X-Content-Type-Options: nosniff\r\n"
            "Content-Security-Policy: default-src 'none'; sandbox\r\n"
            "Cache-Control: private, max-age=31536000, immutable\r\n";
        if (!inline_image_type(job->meta.type)) {
          // RFC 6266 / 8187: the name percent-encoded as UTF-8.
          headers += "Content-Disposition: attachment; filename*=UTF-8''";
          static constexpr char kHex[] = "0123456789ABCDEF";
          for (unsigned char ch : job->meta.name.empty() ? job->id : job->meta.name) {
            if (std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_') {
              headers += static_cast<char>(ch);
            } else {
              headers += '%';
              headers += kHex[ch >> 4];
              headers += kHex[ch & 15];
            }
          }
          headers += "\r\n";
        }
        std::string response =
            http::http_response(200, job->meta.type, job->bytes, a.keep_alive, headers);
        if (head) response.resize(response.size() - job->bytes.size());
        a.send(std::move(response));
      });
}

// POST /v1/admin/checkpoint: a consistent copy of the store (hard links where it can) under
// data_dir/checkpoints/, made on the thread pool. Answers {"path":DIR}.
void Dispatcher::serve_checkpoint(net::Connection& c, const http::Request& req) {
  Answer a{c.id(), req.keep_alive};
  store::Store* db = chat_->services().store;
  struct Job {
    std::string dir, error;
  };
  auto job = std::make_shared<Job>();
  std::filesystem::path root = std::filesystem::path(config_.data_dir) / "checkpoints";
  job->dir = (root / utc_stamp()).string();
  offload(
      shard::Shard::current()->loop(),
      [job, db, root] {
        std::error_code ec;
        std::filesystem::create_directories(root, ec);
        if (ec) {
          job->error = ec.message();
          return;
        }
        if (std::filesystem::exists(job->dir)) {
          job->error = "a checkpoint of this second exists";
          return;
        }
        rocksdb::Checkpoint* raw = nullptr;
        rocksdb::Status s = rocksdb::Checkpoint::Create(db->db(), &raw);
        std::unique_ptr<rocksdb::Checkpoint> cp(raw);
        if (s.ok()) s = cp->CreateCheckpoint(job->dir);
        if (!s.ok()) job->error = s.ToString();
      },
      [job, a] {
        if (!job->error.empty()) {
          return a.error(ErrorCode::kUnavailable, "checkpoint failed: " + job->error);
        }
        a.json(200, "{" + json_field("path", job->dir) + "}");
      });
}

// GET / and the other files of the web client.
bool Dispatcher::serve_web(net::Connection& c, const http::Request& req) {
  const WebAsset* asset = find_web_asset(req.path);
  if (asset == nullptr) return false;
  if (req.method != "GET" && req.method != "HEAD") {
    Answer{c.id(), req.keep_alive}.method_not_allowed();
    return true;
  }
  std::string headers =
      "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n"
      "Content-Security-Policy: default-src 'self'; img-src 'self' blob: data:; "
      "connect-src 'self' ws: wss:; frame-ancestors 'none'\r\n";
  std::string response = http::http_response(200, asset->type, asset->body, req.keep_alive, headers);
  if (req.method == "HEAD") response.resize(response.size() - asset->body.size());
  c.respond(std::move(response));
  return true;
}

}  // namespace parley::server
