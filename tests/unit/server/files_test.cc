#include "parley/server/files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "parley/store/keys.h"
#include "parley/store/store.h"

namespace parley::server {
namespace {

// A store with blob files in a fresh temporary directory, removed at the end.
class TempStore {
 public:
  TempStore() {
    char tmpl[] = "/tmp/parley-files-test-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
    store::StoreOptions so;
    so.path = dir_ + "/db";
    so.blob_files = true;
    db_ = store::Store::open(so, error_);
  }
  ~TempStore() {
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  store::Store* get() { return db_.get(); }
  const std::string& error() const { return error_; }

 private:
  std::string dir_, error_;
  std::unique_ptr<store::Store> db_;
};

TEST(Files, IdsAreRandomAndChecked) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_file_id();
    EXPECT_TRUE(valid_file_id(id)) << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
  EXPECT_FALSE(valid_file_id(""));
  EXPECT_FALSE(valid_file_id(std::string(21, 'a')));
  EXPECT_FALSE(valid_file_id(std::string(23, 'a')));
  EXPECT_FALSE(valid_file_id("aaaaaaaaaaaaaaaaaaaa/."));
  EXPECT_TRUE(valid_file_id("AZaz09-_AZaz09-_AZaz09"));
}

TEST(Files, Types) {
  for (const char* t : {"image/png", "application/octet-stream", "text/plain; charset=utf-8",
                        "application/vnd.ms-excel", "image/svg+xml"}) {
    EXPECT_TRUE(valid_file_type(t)) << t;
  }
  for (const char* t : {"", "png", "/png", "image/", "image /png", "a/b\x01", "te(xt)/plain"}) {
    EXPECT_FALSE(valid_file_type(t)) << t;
  }
  EXPECT_FALSE(valid_file_type("a/" + std::string(kMaxFileTypeBytes, 'b')));
  EXPECT_TRUE(inline_image_type("image/png"));
  EXPECT_TRUE(inline_image_type("image/jpeg;q=1"));
  EXPECT_FALSE(inline_image_type("image/svg+xml"));
  EXPECT_FALSE(inline_image_type("text/html"));
}

TEST(Files, MetaRoundTrips) {
  FileMeta m{"alice", 12345, "image/png", "cat.png", 1700000000000};
  FileMeta out;
  ASSERT_TRUE(decode_file_meta(encode_file_meta(m), out));
  EXPECT_EQ(out.owner, "alice");
  EXPECT_EQ(out.size, 12345u);
  EXPECT_EQ(out.type, "image/png");
  EXPECT_EQ(out.name, "cat.png");
  EXPECT_EQ(out.created_ms, 1700000000000);
  std::string enc = encode_file_meta(m);
  EXPECT_FALSE(decode_file_meta(enc.substr(0, enc.size() - 1), out));
}

TEST(Files, StoreAndLoadManyChunks) {
  TempStore tmp;
  store::Store* db = tmp.get();
  ASSERT_NE(db, nullptr) << tmp.error();
  std::string error;
  {
    // Three and a half chunks, and a neighbour file that must not bleed into it.
    std::string bytes(kFileChunkBytes * 3 + kFileChunkBytes / 2, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 31) % 256);
    std::string id = new_file_id(), other = new_file_id();
    FileMeta meta{"alice", bytes.size(), "application/octet-stream", "big.bin", 1};
    ASSERT_TRUE(store_file(*db, id, meta, bytes, error)) << error;
    FileMeta m2{"bob", 3, "text/plain", "", 2};
    ASSERT_TRUE(store_file(*db, other, m2, "abc", error)) << error;
    FileMeta got;
    std::string back;
    ASSERT_EQ(load_file(*db, id, got, back), FileLoad::kOk);
    EXPECT_EQ(back, bytes);
    EXPECT_EQ(got.name, "big.bin");
    ASSERT_EQ(load_file(*db, other, got, back), FileLoad::kOk);
    EXPECT_EQ(back, "abc");
    EXPECT_EQ(load_file(*db, new_file_id(), got, back), FileLoad::kNotFound);
  }
}

// An upload written in parts: invisible until its end, and a crash before the end leaves only
// marked chunks that the sweep removes.
TEST(Files, UploadsInPartsAndSweepsUnfinishedOnes) {
  TempStore tmp;
  store::Store* db = tmp.get();
  ASSERT_NE(db, nullptr) << tmp.error();
  std::string error;
  {
    std::string bytes(kFileChunkBytes * 5 + 100, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7) % 253);
    const std::string_view all = bytes;
    const std::string done = new_file_id(), cut = new_file_id();
    FileMeta meta{"alice", bytes.size(), "application/octet-stream", "", 1};
    FileMeta got;
    std::string back;

    // Two parts of two chunks, then the tail with the record.
    ASSERT_TRUE(store_file_part(*db, done, 0, all.substr(0, 2 * kFileChunkBytes), error));
    ASSERT_TRUE(store_file_part(*db, done, 2, all.substr(2 * kFileChunkBytes, 2 * kFileChunkBytes),
                                error));
    EXPECT_EQ(load_file(*db, done, got, back), FileLoad::kNotFound);  // not a file yet
    ASSERT_TRUE(store_file_end(*db, done, 4, all.substr(4 * kFileChunkBytes), meta, error));
    ASSERT_EQ(load_file(*db, done, got, back), FileLoad::kOk);
    EXPECT_EQ(back, bytes);

    // Whole chunks only, and an empty tail: still one file of exactly these bytes.
    const std::string even = new_file_id();
    FileMeta meta2 = meta;
    meta2.size = 2 * kFileChunkBytes;
    ASSERT_TRUE(store_file_part(*db, even, 0, all.substr(0, 2 * kFileChunkBytes), error));
    ASSERT_TRUE(store_file_end(*db, even, 2, {}, meta2, error));
    ASSERT_EQ(load_file(*db, even, got, back), FileLoad::kOk);
    EXPECT_EQ(back, all.substr(0, 2 * kFileChunkBytes));

    // A crash after one part: the marker and chunks stay until the sweep.
    ASSERT_TRUE(store_file_part(*db, cut, 0, all.substr(0, 3 * kFileChunkBytes), error));
    std::string v;
    EXPECT_TRUE(db->get(store::upload_key(cut), v));
    EXPECT_TRUE(db->get(store::file_chunk_key(cut, 2), v));
    EXPECT_EQ(sweep_uploads(*db, error), 1) << error;
    EXPECT_FALSE(db->get(store::upload_key(cut), v));
    for (uint32_t k = 0; k < 3; ++k) EXPECT_FALSE(db->get(store::file_chunk_key(cut, k), v)) << k;
    EXPECT_FALSE(db->get(store::upload_key(done), v));  // finished uploads leave no marker
    EXPECT_EQ(sweep_uploads(*db, error), 0);
    ASSERT_EQ(load_file(*db, done, got, back), FileLoad::kOk);  // and are not swept
    EXPECT_EQ(back, bytes);
  }
}

}  // namespace
}  // namespace parley::server
