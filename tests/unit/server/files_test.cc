#include "parley/server/files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>

#include "parley/store/store.h"

namespace parley::server {
namespace {

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
  char tmpl[] = "/tmp/parley-files-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  {
    store::StoreOptions so;
    so.path = dir + "/db";
    so.blob_files = true;
    std::string error;
    auto db = store::Store::open(so, error);
    ASSERT_TRUE(db) << error;
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
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace parley::server
