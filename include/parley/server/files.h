// Uploaded files and images (POST/GET /v1/files): the bytes in 256 KiB chunks in RocksDB, where
// blob files keep them out of the LSM tree, and one record per file. IDs are 128 random bits.
// Storing and loading block on disk I/O: callers run them on libuv's thread pool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::store {
class Store;
}

namespace parley::server {

inline constexpr size_t kFileChunkBytes = 256 << 10;
inline constexpr size_t kMaxFileNameBytes = 255;
inline constexpr size_t kMaxFileTypeBytes = 127;

struct FileMeta {
  std::string owner;  // who uploaded it (user name, or "" for the back-end)
  uint64_t size = 0;
  std::string type;   // MIME type as uploaded (checked by valid_file_type)
  std::string name;   // as uploaded, may be empty
  int64_t created_ms = 0;
};

// 22 characters of base64url over 16 bytes from OpenSSL's RAND_bytes.
std::string new_file_id();
bool valid_file_id(std::string_view id);
// A MIME type we store and send back: type/subtype with token characters and optional
// parameters, printable ASCII only, at most kMaxFileTypeBytes.
bool valid_file_type(std::string_view type);
// Image types a browser may show inline; every other type is sent as an attachment.
bool inline_image_type(std::string_view type);

std::string encode_file_meta(const FileMeta& m);
bool decode_file_meta(std::string_view v, FileMeta& m);

// Writes the record and every chunk in one atomic batch. false and `error` on a store failure.
bool store_file(store::Store& db, const std::string& id, const FileMeta& meta,
                std::string_view bytes, std::string& error);

// An upload that arrives in pieces is written piece by piece: whole chunks from `first_chunk`
// on, the first piece together with an 'U' marker; the last piece writes the rest, the record
// and drops the marker in one batch. Until then the file does not exist for readers, and a crash
// leaves only marked chunks, which sweep_uploads() removes at the next start.
bool store_file_part(store::Store& db, const std::string& id, uint32_t first_chunk,
                     std::string_view bytes, std::string& error);
bool store_file_end(store::Store& db, const std::string& id, uint32_t first_chunk,
                    std::string_view bytes, const FileMeta& meta, std::string& error);
// Deletes an unfinished upload's chunks and marker.
bool discard_upload(store::Store& db, std::string_view id, std::string& error);
// Discards every unfinished upload (at startup, before serving). Returns how many, or -1.
int sweep_uploads(store::Store& db, std::string& error);

// Uploads on one shard (metrics).
struct UploadStats {
  uint64_t active = 0;    // in progress now
  uint64_t started = 0, stored = 0, failed = 0, aborted = 0;
  uint64_t refused = 0;   // turned away at max_uploads
  uint64_t parts = 0;     // part writes that reached the store
  uint64_t bytes = 0;     // body bytes received by uploads
};

enum class FileLoad : uint8_t { kOk, kNotFound, kError };
FileLoad load_file(const store::Store& db, std::string_view id, FileMeta& meta,
                   std::string& bytes);

}  // namespace parley::server
