#include "parley/server/files.h"

#include <openssl/rand.h>
#include <rocksdb/write_batch.h>

#include <vector>

#include "parley/auth/base64.h"
#include "parley/store/keys.h"
#include "parley/store/store.h"

namespace parley::server {
namespace {

bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$&^_.+-").find(c) != std::string_view::npos;
}

}  // namespace

std::string new_file_id() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return {};
  return auth::base64url_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
}

bool valid_file_id(std::string_view id) {
  if (id.size() != 22) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool valid_file_type(std::string_view type) {
  if (type.empty() || type.size() > kMaxFileTypeBytes) return false;
  for (char c : type) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  size_t end = type.find(';');
  std::string_view essence = type.substr(0, end);
  while (!essence.empty() && essence.back() == ' ') essence.remove_suffix(1);
  size_t slash = essence.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == essence.size()) return false;
  for (size_t i = 0; i < essence.size(); ++i) {
    if (i != slash && !token_char(essence[i])) return false;
  }
  return true;
}

bool inline_image_type(std::string_view type) {
  // Not SVG: it can carry script.
  for (std::string_view t : {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
                             "image/bmp"}) {
    if (type.substr(0, type.find(';')) == t) return true;
  }
  return false;
}

std::string encode_file_meta(const FileMeta& m) {
  store::Writer w;
  w.put_str(m.owner);
  w.put_u64(m.size);
  w.put_str(m.type);
  w.put_str(m.name);
  w.put_i64(m.created_ms);
  return w.take();
}

bool decode_file_meta(std::string_view v, FileMeta& m) {
  store::Reader in(v);
  std::string_view owner, type, name;
  if (!in.str(owner) || !in.u64(m.size) || !in.str(type) || !in.str(name) ||
      !in.i64(m.created_ms)) {
    return false;
  }
  m.owner.assign(owner);
  m.type.assign(type);
  m.name.assign(name);
  return true;
}

namespace {

void put_chunks(rocksdb::WriteBatch& batch, const std::string& id, uint32_t chunk,
                std::string_view bytes) {
  for (size_t off = 0; off < bytes.size(); off += kFileChunkBytes, ++chunk) {
    std::string_view part = bytes.substr(off, kFileChunkBytes);
    batch.Put(store::file_chunk_key(id, chunk), rocksdb::Slice(part.data(), part.size()));
  }
}

std::string chunk_prefix(std::string_view id) {
  std::string first = store::file_chunk_key(id, 0);
  return first.substr(0, first.size() - 4);
}

}  // namespace

bool store_file(store::Store& db, const std::string& id, const FileMeta& meta,
                std::string_view bytes, std::string& error) {
  return store_file_end(db, id, 0, bytes, meta, error);
}

bool store_file_part(store::Store& db, const std::string& id, uint32_t first_chunk,
                     std::string_view bytes, std::string& error) {
  rocksdb::WriteBatch batch;
  if (first_chunk == 0) batch.Put(store::upload_key(id), "");
  put_chunks(batch, id, first_chunk, bytes);
  return db.write(batch, error);
}

bool store_file_end(store::Store& db, const std::string& id, uint32_t first_chunk,
                    std::string_view bytes, const FileMeta& meta, std::string& error) {
  rocksdb::WriteBatch batch;
  put_chunks(batch, id, first_chunk, bytes);
  batch.Put(store::file_key(id), encode_file_meta(meta));
  if (first_chunk > 0) batch.Delete(store::upload_key(id));
  return db.write(batch, error);
}

bool discard_upload(store::Store& db, std::string_view id, std::string& error) {
  rocksdb::WriteBatch batch;
  const std::string begin = chunk_prefix(id);
  const std::string end = begin + std::string(5, '\xff');  // past every 4-byte chunk number
  batch.DeleteRange(begin, end);
  batch.Delete(store::upload_key(id));
  return db.write(batch, error);
}

int sweep_uploads(store::Store& db, std::string& error) {
  std::vector<std::string> ids;
  const std::string marker = store::upload_key("");
  if (!db.scan(marker, marker, [&](std::string_view key, std::string_view) {
        ids.emplace_back(key.substr(marker.size()));
        return true;
      })) {
    error = "cannot read the upload markers";
    return -1;
  }
  for (const std::string& id : ids) {
    if (!discard_upload(db, id, error)) return -1;
  }
  return static_cast<int>(ids.size());
}

FileLoad load_file(const store::Store& db, std::string_view id, FileMeta& meta,
                   std::string& bytes) {
  std::string v, error;
  if (!db.get(store::file_key(id), v, &error)) {
    return error.empty() ? FileLoad::kNotFound : FileLoad::kError;
  }
  if (!decode_file_meta(v, meta)) return FileLoad::kError;
  bytes.clear();
  bytes.reserve(meta.size);
  std::string prefix = chunk_prefix(id);
  bool ok = db.scan(prefix, prefix, [&](std::string_view, std::string_view value) {
    bytes.append(value);
    return bytes.size() < meta.size;
  });
  if (!ok || bytes.size() != meta.size) return FileLoad::kError;
  return FileLoad::kOk;
}

}  // namespace parley::server
