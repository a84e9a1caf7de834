#include "parley/store/store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "parley/shard/shard.h"
#include "parley/store/keys.h"

namespace parley::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/parley-store-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

std::unique_ptr<Store> open_ok(StoreOptions o) {
  std::string error;
  auto store = Store::open(o, error);
  EXPECT_NE(store, nullptr) << error;
  return store;
}

std::string open_error(const StoreOptions& o) {
  std::string error;
  auto store = Store::open(o, error);
  EXPECT_EQ(store, nullptr);
  EXPECT_FALSE(error.empty());
  return error;
}

bool put_now(Store& s, std::string_view key, std::string_view value) {
  rocksdb::WriteBatch b;
  b.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
  std::string error;
  return s.write(b, error);
}

using Rows = std::vector<std::pair<std::string, std::string>>;

Rows scan_all(const Store& s, std::string_view prefix, std::string_view start = {},
              size_t limit = 1000) {
  Rows rows;
  EXPECT_TRUE(s.scan(prefix, start, [&](std::string_view k, std::string_view v) {
    rows.emplace_back(k, v);
    return rows.size() < limit;
  }));
  return rows;
}

template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// ---- Store

TEST(StoreTest, PutGetAndNotFound) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db")});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(put_now(*s, "ualice", "record"));
  std::string v, error = "stale";
  ASSERT_TRUE(s->get("ualice", v, &error));
  EXPECT_EQ(v, "record");
  EXPECT_TRUE(error.empty());
  error = "stale";
  EXPECT_FALSE(s->get("ubob", v, &error));
  EXPECT_TRUE(error.empty());  // not found is not an error
  EXPECT_EQ(s->stats().commits, 1u);
  EXPECT_GT(s->stats().bytes, 0u);
  EXPECT_EQ(s->stats().errors, 0u);
}

TEST(StoreTest, ScanWalksOnePrefixInOrderFromStart) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db")});
  ASSERT_NE(s, nullptr);
  ConvId c = ConvId::pair(1, 2), other = ConvId::pair(1, 3);
  for (uint64_t seq : {256, 1, 255, 2, 1000}) ASSERT_TRUE(put_now(*s, msg_key(c, seq), "m"));
  ASSERT_TRUE(put_now(*s, msg_key(other, 0), "x"));
  ASSERT_TRUE(put_now(*s, "b", "before"));

  Rows rows = scan_all(*s, msg_prefix(c));
  std::vector<uint64_t> seqs;
  for (auto& [k, v] : rows) {
    ConvId conv;
    uint64_t seq;
    ASSERT_TRUE(parse_msg_key(k, conv, seq));
    EXPECT_EQ(conv, c);
    seqs.push_back(seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 255, 256, 1000}));

  EXPECT_EQ(scan_all(*s, msg_prefix(c), msg_key(c, 255)).size(), 3u);   // from 255
  EXPECT_EQ(scan_all(*s, msg_prefix(c), msg_key(c, 3)).size(), 3u);     // first >= 3
  EXPECT_EQ(scan_all(*s, msg_prefix(c), msg_key(c, 1001)).size(), 0u);  // past the end
  EXPECT_EQ(scan_all(*s, msg_prefix(c), "a").size(), 5u);    // start below prefix = prefix
  EXPECT_EQ(scan_all(*s, msg_prefix(c), {}, 2).size(), 2u);  // fn stops it
  EXPECT_EQ(scan_all(*s, msg_prefix(ConvId::group(9))).size(), 0u);
}

TEST(StoreTest, ScanAndLastHandleFFBytePrefixes) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db")});
  ASSERT_NE(s, nullptr);
  for (const char* k : {"a\xff", "a\xff\x01", "a\xff\xff", "b", "\xff", "\xff\xff\x02"}) {
    ASSERT_TRUE(put_now(*s, k, k));
  }
  EXPECT_EQ(scan_all(*s, "a\xff").size(), 3u);
  EXPECT_EQ(scan_all(*s, "\xff").size(), 2u);
  EXPECT_EQ(scan_all(*s, "").size(), 6u);
  std::string k, v;
  ASSERT_TRUE(s->last("a\xff", k, v));
  EXPECT_EQ(k, "a\xff\xff");
  ASSERT_TRUE(s->last("\xff", k, v));
  EXPECT_EQ(k, "\xff\xff\x02");
  ASSERT_TRUE(s->last("", k, v));
  EXPECT_EQ(k, "\xff\xff\x02");
}

TEST(StoreTest, LastFindsAConversationHead) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db")});
  ASSERT_NE(s, nullptr);
  ConvId c = ConvId::pair(1, 2);
  std::string k, v;
  EXPECT_FALSE(s->last(msg_prefix(c), k, v));
  for (uint64_t seq = 1; seq <= 300; ++seq) {
    ASSERT_TRUE(put_now(*s, msg_key(c, seq), "v" + std::to_string(seq)));
  }
  ASSERT_TRUE(put_now(*s, msg_key(ConvId::pair(1, 3), 7), "next conversation"));
  ASSERT_TRUE(put_now(*s, msg_key(ConvId::pair(1, 1), 9), "previous conversation"));
  ASSERT_TRUE(s->last(msg_prefix(c), k, v));
  ConvId conv;
  uint64_t seq = 0;
  ASSERT_TRUE(parse_msg_key(k, conv, seq));
  EXPECT_EQ(conv, c);
  EXPECT_EQ(seq, 300u);
  EXPECT_EQ(v, "v300");

  // A key equal to the prefix's successor is outside the prefix.
  ASSERT_TRUE(put_now(*s, "k1a", "1"));
  ASSERT_TRUE(put_now(*s, "k1b", "2"));
  ASSERT_TRUE(put_now(*s, "k2", "3"));
  ASSERT_TRUE(s->last("k1", k, v));
  EXPECT_EQ(k, "k1b");
  EXPECT_FALSE(s->last("k0", k, v));
}

TEST(StoreTest, ReopenKeepsDataUnderEveryPolicy) {
  for (SyncPolicy policy : {SyncPolicy::kAlways, SyncPolicy::kBatch, SyncPolicy::kNone}) {
    TempDir dir;
    StoreOptions o{.path = dir.sub("db"), .sync = policy};
    {
      auto s = open_ok(o);
      ASSERT_NE(s, nullptr);
      ShardBatch batch(*s);
      for (uint64_t seq = 1; seq <= 100; ++seq) batch.put(msg_key(ConvId::group(1), seq), "m");
      batch.put(meta_key("schema"), "1");
      batch.commit();
    }
    auto s = open_ok(o);
    ASSERT_NE(s, nullptr);
    std::string v;
    ASSERT_TRUE(s->get(meta_key("schema"), v));
    EXPECT_EQ(v, "1");
    EXPECT_EQ(scan_all(*s, msg_prefix(ConvId::group(1))).size(), 100u);
  }
}

TEST(StoreTest, BatchPolicySyncsTheWalInTheBackground) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db"), .sync = SyncPolicy::kBatch, .sync_interval_ms = 1});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->stats().wal_syncs, 0u);
  ASSERT_TRUE(put_now(*s, "k", "v"));
  EXPECT_TRUE(wait_until([&] { return s->stats().wal_syncs >= 1; }));
  // Idle: no more syncs without writes.
  uint64_t syncs = s->stats().wal_syncs;
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(s->stats().wal_syncs, syncs);
}

TEST(StoreTest, OtherPoliciesDoNotRunTheSyncThread) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db"), .sync = SyncPolicy::kNone, .sync_interval_ms = 1});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(put_now(*s, "k", "v"));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(s->stats().wal_syncs, 0u);
}

// ---- open errors

TEST(StoreTest, SecondOpenOfTheSameDbIsRefused) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db")});
  ASSERT_NE(s, nullptr);
  std::string error = open_error({.path = dir.sub("db")});
  EXPECT_NE(error.find("lock"), std::string::npos) << error;
  EXPECT_NE(error.find(dir.sub("db")), std::string::npos) << error;
}

TEST(StoreTest, MissingDbWithoutCreateIsAnError) {
  TempDir dir;
  std::string error = open_error({.path = dir.sub("db"), .create_if_missing = false});
  EXPECT_NE(error.find(dir.sub("db")), std::string::npos) << error;
  open_error({.path = dir.sub("no/such/parent/db")});
  open_error({.path = ""});
}

TEST(StoreTest, AFileIsNotAStore) {
  TempDir dir;
  write_file(dir.sub("file"), "x");
  std::string error = open_error({.path = dir.sub("file")});
  EXPECT_NE(error.find("not a directory"), std::string::npos) << error;
}

// Writes a DB with some data, closes it, returns its path.
std::string make_db(const TempDir& dir) {
  std::string path = dir.sub("db");
  auto s = open_ok({.path = path});
  EXPECT_TRUE(put_now(*s, "ukeep", "me"));
  EXPECT_EQ(s->db()->Flush(rocksdb::FlushOptions()).ok(), true);  // an .sst as well as the WAL
  EXPECT_TRUE(put_now(*s, "uin", "wal"));
  return path;
}

TEST(StoreTest, GarbageCurrentIsAnErrorNotAnEmptyDb) {
  TempDir dir;
  std::string path = make_db(dir);
  write_file(path + "/CURRENT", "garbage without newline");
  open_error({.path = path});
  write_file(path + "/CURRENT", "\x01\x02\xff\n");
  open_error({.path = path});
  write_file(path + "/CURRENT", "MANIFEST-999999\n");  // names a missing manifest
  open_error({.path = path});
  write_file(path + "/CURRENT", "");
  open_error({.path = path});
}

TEST(StoreTest, MissingCurrentWithDataIsAnError) {
  TempDir dir;
  std::string path = make_db(dir);
  fs::remove(path + "/CURRENT");
  std::string error = open_error({.path = path});
  EXPECT_NE(error.find("CURRENT"), std::string::npos) << error;
  // Nothing was created over it.
  EXPECT_FALSE(fs::exists(path + "/CURRENT"));
}

TEST(StoreTest, NonEmptyDirectoryWithoutCurrentIsRefused) {
  TempDir dir;
  fs::create_directory(dir.sub("db"));
  write_file(dir.sub("db/000007.sst"), "not really a table");
  open_error({.path = dir.sub("db")});

  fs::create_directory(dir.sub("db2"));
  write_file(dir.sub("db2/notes.txt"), "someone else's file");
  open_error({.path = dir.sub("db2")});

  // What RocksDB leaves before CURRENT exists is fine.
  fs::create_directory(dir.sub("db3"));
  write_file(dir.sub("db3/LOG"), "");
  write_file(dir.sub("db3/LOCK"), "");
  auto s = open_ok({.path = dir.sub("db3")});
  EXPECT_NE(s, nullptr);
}

TEST(StoreTest, EmptyExistingDirectoryIsCreated) {
  TempDir dir;
  auto s = open_ok({.path = dir.path()});
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(put_now(*s, "k", "v"));
}

// ---- ShardBatch

TEST(StoreTest, ShardBatchWritesOnceAndThenRunsWaiters) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db"), .sync = SyncPolicy::kNone});
  ASSERT_NE(s, nullptr);
  ShardBatch batch(*s);
  EXPECT_FALSE(batch.pending());
  std::vector<std::string> events;
  batch.put("k1", "v1");
  batch.put("k2", "v2");
  batch.after_commit([&](bool ok) {
    EXPECT_TRUE(ok);
    std::string v;
    EXPECT_TRUE(s->get("k1", v));  // visible when the waiter runs
    EXPECT_TRUE(s->get("k3", v));  // including what was put after the waiter was added
    events.push_back("first");
  });
  batch.put("k3", "v3");
  batch.del("k2");
  batch.after_commit([&](bool ok) {
    EXPECT_TRUE(ok);
    events.push_back("second");
  });
  EXPECT_TRUE(batch.pending());
  std::string v;
  EXPECT_FALSE(s->get("k1", v));  // nothing written before the commit
  EXPECT_TRUE(events.empty());

  batch.commit();
  EXPECT_EQ(events, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(s->stats().commits, 1u);  // four operations, one write
  EXPECT_FALSE(s->get("k2", v));
  EXPECT_FALSE(batch.pending());

  batch.commit();  // nothing pending: no write
  EXPECT_EQ(s->stats().commits, 1u);
}

TEST(StoreTest, ShardBatchWaiterWithNothingPendingRunsAtNextCommit) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db"), .sync = SyncPolicy::kNone});
  ASSERT_NE(s, nullptr);
  ShardBatch batch(*s);
  int runs = 0;
  batch.after_commit([&](bool ok) {
    EXPECT_TRUE(ok);
    ++runs;
  });
  EXPECT_TRUE(batch.pending());
  EXPECT_EQ(runs, 0);
  batch.commit();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(s->stats().commits, 0u);
}

TEST(StoreTest, ShardBatchCommitsWorkAddedByWaiters) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db"), .sync = SyncPolicy::kNone});
  ASSERT_NE(s, nullptr);
  ShardBatch batch(*s);
  bool second_ran = false;
  batch.put("a", "1");
  batch.after_commit([&](bool ok) {
    ASSERT_TRUE(ok);
    batch.put("b", "2");
    batch.after_commit([&](bool ok2) {
      EXPECT_TRUE(ok2);
      std::string v;
      EXPECT_TRUE(s->get("b", v));
      second_ran = true;
    });
  });
  batch.commit();
  EXPECT_TRUE(second_ran);
  EXPECT_EQ(s->stats().commits, 2u);
  EXPECT_FALSE(batch.pending());
}

TEST(StoreTest, ShardBatchLeavesEndlessWorkForTheNextCommit) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db"), .sync = SyncPolicy::kNone});
  ASSERT_NE(s, nullptr);
  ShardBatch batch(*s);
  int rounds = 0;
  std::function<void(bool)> again = [&](bool) {
    ++rounds;
    batch.after_commit(again);
  };
  batch.after_commit(again);
  batch.commit();
  EXPECT_EQ(rounds, ShardBatch::kMaxRounds);
  EXPECT_TRUE(batch.pending());
}

TEST(StoreTest, ShardBatchDestructorWritesPendingPuts) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db")});
  ASSERT_NE(s, nullptr);
  bool ran = false;
  {
    ShardBatch batch(*s);
    batch.put("late", "write");
    batch.after_commit([&](bool) { ran = true; });
  }
  EXPECT_FALSE(ran);
  std::string v;
  EXPECT_TRUE(s->get("late", v));
}

// The pattern the server uses: the batch is a tick hook of its shard; work posted to the shard
// puts and waits, and its reply goes out after the tick's one write.
TEST(StoreTest, ShardBatchAsATickHookGroupsOneTicksWrites) {
  TempDir dir;
  auto s = open_ok({.path = dir.sub("db"), .sync = SyncPolicy::kBatch});
  ASSERT_NE(s, nullptr);
  std::unique_ptr<ShardBatch> batch;
  shard::ShardSet set({.shards = 2});
  std::atomic<bool> ready{false};
  set.start([&](shard::Shard& sh) {
    if (sh.id() != 1) return;
    batch = std::make_unique<ShardBatch>(*s);
    sh.add_tick_hook([&] { batch->commit(); });
    sh.add_exit_hook([&] { batch.reset(); });
    ready = true;
  });
  ASSERT_TRUE(wait_until([&] { return ready.load(); }));

  constexpr int kMessages = 64;
  std::atomic<int> acked{0}, failed{0};
  // One task on shard 1 stores 64 messages; they all share that tick's commit.
  set.broadcast_control([&](shard::Shard& sh) {
    if (sh.id() != 1) return;
    for (int i = 0; i < kMessages; ++i) {
      batch->put(msg_key(ConvId::pair(1, 2), i), "body");
      batch->after_commit([&](bool ok) { ++(ok ? acked : failed); });
    }
  });
  ASSERT_TRUE(wait_until([&] { return acked + failed == kMessages; }));
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(s->stats().commits, 1u);
  set.stop();
  set.join();
  EXPECT_EQ(scan_all(*s, msg_prefix(ConvId::pair(1, 2))).size(), size_t{kMessages});
}

// ---- write failures, by fault injection: a file system whose WAL appends fail on demand.

class FailingWal : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FailingWal(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>& fail)
      : FSWritableFileOwnerWrapper(std::move(file)), fail_(fail) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (fail_) return rocksdb::IOStatus::IOError("injected WAL append failure");
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (fail_) return rocksdb::IOStatus::IOError("injected WAL append failure");
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }

 private:
  const std::atomic<bool>& fail_;
};

class FailingFs : public rocksdb::FileSystemWrapper {
 public:
  explicit FailingFs(std::shared_ptr<rocksdb::FileSystem> base)
      : FileSystemWrapper(std::move(base)) {}
  const char* Name() const override { return "FailingFs"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, file, dbg);
    if (s.ok() && name.ends_with(".log")) {
      *file = std::make_unique<FailingWal>(std::move(*file), fail);
      ++wal_files;
    }
    return s;
  }

  std::atomic<bool> fail{false};
  std::atomic<int> wal_files{0};
};

TEST(StoreTest, FailedWriteIsReportedToWaitersAsNotOk) {
  TempDir dir;
  auto fs = std::make_shared<FailingFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  {
    auto s = open_ok({.path = dir.sub("db"),
                      .sync = SyncPolicy::kNone,
                      .tune = [&](rocksdb::Options& o) { o.env = env.get(); }});
    ASSERT_NE(s, nullptr);
    ASSERT_GE(fs->wal_files.load(), 1);  // the injection is wired to the live WAL
    ShardBatch batch(*s);
    std::vector<bool> results;
    batch.put("good", "1");
    batch.after_commit([&](bool ok) { results.push_back(ok); });
    batch.commit();

    fs->fail = true;
    batch.put("bad", "2");
    batch.after_commit([&](bool ok) { results.push_back(ok); });
    batch.after_commit([&](bool ok) { results.push_back(ok); });
    batch.commit();
    EXPECT_EQ(results, (std::vector<bool>{true, false, false}));
    EXPECT_FALSE(batch.pending());  // the failed batch is dropped, not retried into later ticks
    EXPECT_EQ(s->stats().commits, 1u);
    EXPECT_GE(s->stats().errors, 1u);

    // RocksDB stays read-only after a WAL I/O error: later writes fail as well, never "ok".
    fs->fail = false;
    batch.put("after", "3");
    batch.after_commit([&](bool ok) { results.push_back(ok); });
    batch.commit();
    ASSERT_EQ(results.size(), 4u);
    EXPECT_FALSE(results[3]);
    std::string v;
    EXPECT_TRUE(s->get("good", v));  // reads still work
  }
  // A restart recovers what was acknowledged, and nothing that was reported as failed.
  auto s = open_ok({.path = dir.sub("db")});
  ASSERT_NE(s, nullptr);
  std::string v;
  EXPECT_TRUE(s->get("good", v));
  EXPECT_FALSE(s->get("bad", v));
}

}  // namespace
}  // namespace parley::store
