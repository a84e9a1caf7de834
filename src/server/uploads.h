// File uploads in progress on one shard (POST /v1/files). The body goes to the store as it
// arrives, in writes of whole chunks on libuv's thread pool, one write at a time per upload (so
// chunks land in order under their 'U' marker). A client that sends faster than the store takes
// is held (Connection::hold_body) once kHoldBytes wait, so an upload costs at most about that
// much memory whatever max_file is. The number of uploads at once is bounded per shard.
// Owner-thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "parley/net/connection.h"
#include "parley/server/files.h"

namespace parley::http {
struct Request;
}
namespace parley::store {
class Store;
}

namespace parley::server {

class Uploads {
 public:
  static constexpr size_t kChunksPerWrite = 4;
  static constexpr size_t kHoldBytes = 2 * kChunksPerWrite * kFileChunkBytes;

  Uploads(store::Store& db, size_t max_at_once) : db_(db), max_(max_at_once) {}
  ~Uploads();

  // The headers of an upload by `owner` are in. Answers (and returns false) if the request is
  // refused: bad Content-Type or name, or too many uploads at once.
  bool begin(net::Connection& c, const http::Request& req, std::string owner);
  // More of the body is in req.body: takes it.
  void more(net::Connection& c, http::Request& req);
  // The whole body is in: answers 201 with the file once every byte is stored.
  void finish(net::Connection& c, http::Request& req);
  // The connection closed: what was written of its upload is discarded.
  void abort(const net::Connection& c);

  size_t active() const { return by_conn_.size(); }
  UploadStats stats() const {
    UploadStats s = stats_;
    s.active = by_conn_.size();
    return s;
  }

 private:
  struct Upload;
  static uint64_t key(net::ConnId id) { return uint64_t{id.slot} << 32 | id.gen; }
  void pump(const std::shared_ptr<Upload>& up);
  void write_part(const std::shared_ptr<Upload>& up);
  void write_end(const std::shared_ptr<Upload>& up);
  void discard(const std::shared_ptr<Upload>& up);
  void end(const std::shared_ptr<Upload>& up);

  store::Store& db_;
  size_t max_;
  std::unordered_map<uint64_t, std::shared_ptr<Upload>> by_conn_;
  UploadStats stats_;
};

}  // namespace parley::server
