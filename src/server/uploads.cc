#include "uploads.h"

#include <ctime>
#include <optional>

#include "parley/http/request.h"
#include "parley/http/url.h"
#include "parley/net/net_shard.h"
#include "parley/net/utf8.h"
#include "parley/proto/json_writer.h"
#include "parley/server/dispatcher.h"
#include "parley/shard/shard.h"
#include "parley/util/offload.h"

namespace parley::server {

using proto::ErrorCode;

struct Uploads::Upload {
  Answer answer;           // keep_alive false until the whole body is in (see begin)
  std::string id;
  FileMeta meta;
  std::string pending;     // received, not yet handed to a write
  std::string writing;     // the bytes of the write on the pool
  bool busy = false;       // a write is on the pool
  uint32_t next_chunk = 0; // chunk number of pending's first byte
  bool wrote = false;      // a part (and the marker) may be in the store
  bool complete = false;   // the whole body is in
  bool over = false;       // answered or abandoned: a write in flight only cleans up after it
};

Uploads::~Uploads() {
  for (auto& [k, up] : by_conn_) up->over = true;
}

bool Uploads::begin(net::Connection& c, const http::Request& req, std::string owner) {
  // Until the body is complete an answer cannot leave the connection usable: the rest of the
  // body would be read as the next request. Early answers close.
  Answer early{c.id(), false};
  if (by_conn_.size() >= max_) {
    ++stats_.refused;
    early.error(ErrorCode::kUnavailable, "too many uploads at once; try again shortly");
    return false;
  }
  FileMeta meta;
  const std::string* type = req.header("content-type");
  meta.type = type == nullptr || type->empty() ? "application/octet-stream" : *type;
  if (!valid_file_type(meta.type)) {
    early.error(ErrorCode::kBadRequest, "bad Content-Type");
    return false;
  }
  if (std::optional<std::string> name = http::query_param(req.query, "name")) {
    if (name->size() > kMaxFileNameBytes || !net::utf8_valid(*name)) {
      early.error(ErrorCode::kBadRequest, "name must be UTF-8 of at most 255 bytes");
      return false;
    }
    meta.name = std::move(*name);
  }
  auto up = std::make_shared<Upload>();
  up->answer = early;
  up->id = new_file_id();
  if (up->id.empty()) {
    early.error(ErrorCode::kInternal, "no random bytes for a file id");
    return false;
  }
  meta.owner = std::move(owner);
  meta.created_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;
  up->meta = std::move(meta);
  by_conn_[key(c.id())] = std::move(up);
  ++stats_.started;
  return true;
}

void Uploads::more(net::Connection& c, http::Request& req) {
  auto it = by_conn_.find(key(c.id()));
  if (it == by_conn_.end()) return;
  const std::shared_ptr<Upload>& up = it->second;
  stats_.bytes += req.body.size();
  up->meta.size += req.body.size();
  up->pending.append(req.body);
  req.body.clear();
  if (up->pending.size() >= kHoldBytes) c.hold_body(true);
  pump(up);
}

void Uploads::finish(net::Connection& c, http::Request& req) {
  auto it = by_conn_.find(key(c.id()));
  if (it == by_conn_.end()) {
    Answer{c.id(), req.keep_alive}.error(ErrorCode::kInternal, "upload not started");
    return;
  }
  std::shared_ptr<Upload> up = it->second;
  more(c, req);
  up->complete = true;
  up->answer.keep_alive = req.keep_alive;
  pump(up);
}

void Uploads::abort(const net::Connection& c) {
  auto it = by_conn_.find(key(c.id()));
  if (it == by_conn_.end()) return;
  std::shared_ptr<Upload> up = std::move(it->second);
  by_conn_.erase(it);
  ++stats_.aborted;
  up->over = true;
  if (!up->busy) discard(up);  // else the write's completion discards
}

// Starts the next write if none is on the pool: whole chunks while the body arrives, the rest
// and the record once it is complete.
void Uploads::pump(const std::shared_ptr<Upload>& up) {
  if (up->busy || up->over) return;
  if (up->complete) {
    if (up->meta.size == 0) {
      up->answer.error(ErrorCode::kBadRequest, "the file is empty");
      return end(up);
    }
    return write_end(up);
  }
  if (up->pending.size() >= kFileChunkBytes) write_part(up);
}

void Uploads::write_part(const std::shared_ptr<Upload>& up) {
  const size_t chunks = std::min(up->pending.size() / kFileChunkBytes, kChunksPerWrite);
  const size_t n = chunks * kFileChunkBytes;
  up->writing.assign(up->pending, 0, n);
  up->pending.erase(0, n);
  const uint32_t first = up->next_chunk;
  up->next_chunk += static_cast<uint32_t>(chunks);
  up->wrote = true;
  up->busy = true;
  auto ok = std::make_shared<bool>(false);
  store::Store* db = &db_;
  offload(
      shard::Shard::current()->loop(),
      [up, db, first, ok] {
        std::string error;
        *ok = store_file_part(*db, up->id, first, up->writing, error);
      },
      [this, up, ok] {
        up->writing.clear();
        up->busy = false;
        if (up->over) return discard(up);  // the connection went away meanwhile
        if (!*ok) {
          ++stats_.failed;
          up->answer.error(ErrorCode::kUnavailable, "the file could not be stored");
          return end(up);
        }
        ++stats_.parts;
        const net::ConnId conn = up->answer.conn;
        pump(up);
        // Last: releasing the body may feed more() (and pump) at once.
        if (up->pending.size() < kHoldBytes && !up->complete) {
          if (net::Connection* c = net::NetShard::current()->find(conn)) c->hold_body(false);
        }
      });
}

void Uploads::write_end(const std::shared_ptr<Upload>& up) {
  up->writing = std::move(up->pending);
  up->pending.clear();
  up->busy = true;
  auto ok = std::make_shared<bool>(false);
  store::Store* db = &db_;
  offload(
      shard::Shard::current()->loop(),
      [up, db, ok] {
        std::string error;
        *ok = store_file_end(*db, up->id, up->next_chunk, up->writing, up->meta, error);
      },
      [this, up, ok] {
        up->writing.clear();
        up->busy = false;
        if (up->over) return discard(up);
        if (!*ok) {
          ++stats_.failed;
          up->answer.error(ErrorCode::kUnavailable, "the file could not be stored");
          return end(up);
        }
        ++stats_.stored;
        up->wrote = false;  // it is a file now: nothing to discard
        const FileMeta& m = up->meta;
        std::string body = "{" + json_field("file", up->id) + "," +
                           json_field("url", "/v1/files/" + up->id) +
                           ",\"size\":" + std::to_string(m.size) + "," +
                           json_field("type", m.type) + "," + json_field("name", m.name) + "}";
        up->answer.json(201, body);
        end(up);
      });
}

void Uploads::discard(const std::shared_ptr<Upload>& up) {
  if (!up->wrote) return;
  up->wrote = false;
  store::Store* db = &db_;
  offload(
      shard::Shard::current()->loop(),
      [up, db] {
        std::string error;
        discard_upload(*db, up->id, error);  // a failure leaves the marker for the next sweep
      },
      [] {});
}

// The upload is answered (or failed): forget it; what it wrote and did not finish goes.
void Uploads::end(const std::shared_ptr<Upload>& up) {
  up->over = true;
  auto it = by_conn_.find(key(up->answer.conn));
  if (it != by_conn_.end() && it->second == up) by_conn_.erase(it);
  discard(up);
}

}  // namespace parley::server
