#include "parley/client/cursors.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "e2e/support/process.h"

namespace parley::client {
namespace {

TEST(CursorStoreTest, AcceptsEachSeqOnce) {
  CursorStore s("");
  EXPECT_TRUE(s.accept("bob", 1));
  EXPECT_TRUE(s.accept("bob", 2));
  EXPECT_FALSE(s.accept("bob", 2));
  EXPECT_FALSE(s.accept("bob", 1));
  EXPECT_TRUE(s.accept("#team", 1));  // conversations are independent
  EXPECT_EQ(s.seen("bob"), 2u);
  EXPECT_EQ(s.seen("carol"), 0u);
}

TEST(CursorStoreTest, OwnSendsAreSkippedAndNeverShownAsIncoming) {
  CursorStore s("");
  EXPECT_TRUE(s.accept("bob", 1));
  s.own_sent("bob", 2);  // contiguous: the cursor moves at once
  EXPECT_EQ(s.seen("bob"), 2u);
  s.own_sent("bob", 4);  // seq 3 (bob's) has not arrived yet
  EXPECT_EQ(s.seen("bob"), 2u);
  EXPECT_TRUE(s.accept("bob", 3));
  EXPECT_EQ(s.seen("bob"), 4u);  // and skips over our 4
  EXPECT_FALSE(s.accept("bob", 4));
}

TEST(CursorStoreTest, OwnMessageStreamedBackIsNotNew) {
  CursorStore s("");
  s.accept("bob", 1);
  s.own_sent("bob", 3);
  EXPECT_TRUE(s.accept("bob", 2));
  EXPECT_EQ(s.seen("bob"), 3u);
  s.own_sent("bob", 5);
  EXPECT_FALSE(s.accept("bob", 5));  // ours, resynced ahead of bob's 4 (a gap we accept)
  EXPECT_EQ(s.seen("bob"), 5u);
}

TEST(CursorStoreTest, ReceiptsMoveForwardOnly) {
  CursorStore s("");
  EXPECT_TRUE(s.advance_peer_recv("bob", 3));
  EXPECT_FALSE(s.advance_peer_recv("bob", 3));
  EXPECT_FALSE(s.advance_peer_recv("bob", 2));
  EXPECT_TRUE(s.advance_peer_read("bob", 4));  // read implies delivered
  EXPECT_FALSE(s.advance_peer_recv("bob", 4));
}

TEST(CursorStoreTest, SavesAndLoadsAtomically) {
  test::TempDir dir;
  std::string path = dir.path() + "/cursors.console";
  {
    CursorStore s(path);
    ASSERT_TRUE(s.load());  // missing file: empty
    s.accept("bob", 7);
    s.accept("#team", 40);
    s.advance_peer_read("bob", 5);
    ASSERT_TRUE(s.dirty());
    ASSERT_TRUE(s.save());
    EXPECT_FALSE(s.dirty());
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  CursorStore t(path);
  ASSERT_TRUE(t.load());
  EXPECT_EQ(t.seen("bob"), 7u);
  EXPECT_EQ(t.seen("#team"), 40u);
  EXPECT_EQ(t.all().at("bob").peer_read, 5u);
  EXPECT_FALSE(t.accept("bob", 7));
  EXPECT_TRUE(t.accept("bob", 8));
}

TEST(CursorStoreTest, MalformedFileIsReported) {
  test::TempDir dir;
  std::string path = dir.path() + "/cursors";
  std::ofstream(path) << "bob 1 0 0\nnot a number here\n";
  CursorStore s(path);
  std::string err;
  EXPECT_FALSE(s.load(&err));
  EXPECT_NE(err.find(":2:"), std::string::npos) << err;
  EXPECT_EQ(s.seen("bob"), 1u);  // what came before the bad line is kept
  std::ofstream(path) << "bad/name 1 0 0\n";
  CursorStore t(path);
  EXPECT_FALSE(t.load());
}

TEST(NamesTest, ValidNames) {
  EXPECT_TRUE(valid_name("alice"));
  EXPECT_TRUE(valid_name("A.b-c_9"));
  EXPECT_TRUE(valid_name(std::string(32, 'x')));
  EXPECT_FALSE(valid_name(std::string(33, 'x')));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name("no space"));
  EXPECT_FALSE(valid_name("é"));
  EXPECT_FALSE(valid_name("#team"));
}

}  // namespace
}  // namespace parley::client
