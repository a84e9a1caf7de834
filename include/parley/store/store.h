// The process-wide RocksDB handle (Store) and the per-shard group commit (ShardBatch).
//
// One DB, default column family, WAL always on (key layout: store/keys.h). Every shard collects
// the writes of one loop tick in its ShardBatch and commits them with one Store::write at the
// end of the tick; the replies that waited on those writes go out after it (DESIGN.md,
// "Batching"). RocksDB itself merges concurrent writes from several shards into one WAL append.
//
// Durability by SyncPolicy:
//   kAlways  each write is fsynced before write() returns: an acked message survives power loss.
//   kBatch   write() returns once the WAL record is in the OS (survives kill -9); a background
//            thread fsyncs the WAL at most every sync_interval_ms while there were writes.
//   kNone    write() as kBatch, no fsync: flushing is left to the OS.
#pragma once

#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace rocksdb {
class DB;
struct Options;
}  // namespace rocksdb

namespace parley::store {

enum class SyncPolicy : uint8_t { kAlways, kBatch, kNone };

struct StoreOptions {
  std::string path = {};                 // the DB directory (its parent must exist)
  SyncPolicy sync = SyncPolicy::kBatch;  // see the top of this file
  uint64_t sync_interval_ms = 5;         // kBatch: WAL fsync at most this often (0 = asap)
  size_t block_cache_bytes = 64 << 20;   // LRU cache of data, index and filter blocks
  bool create_if_missing = true;         // false: a missing DB is an error
  bool blob_files = false;               // values >= 64 KiB (file chunks) go to blob files
  // Writes are refused ("disk full") while the file system holding `path` has less free than
  // this, so the write-ahead log never runs out of room mid-append (see Store::write). 0 = no
  // check.
  uint64_t min_free_bytes = 0;
  // Runs on the RocksDB options after Parley's tuning, before the DB opens: for tests (fault
  // injection through options.env) and experiments. Empty = nothing.
  std::function<void(rocksdb::Options&)> tune = nullptr;
};

// Counters since open. Any thread; each field is read on its own (not a consistent snapshot).
struct StoreStats {
  uint64_t commits = 0;         // successful write() calls
  uint64_t bytes = 0;           // WriteBatch bytes of those writes
  uint64_t errors = 0;          // failed writes, reads and WAL syncs
  uint64_t wal_syncs = 0;       // background WAL fsyncs (kBatch)
  uint64_t resumes = 0;         // times writing resumed after a failure (e.g. the disk was full)
  bool failing = false;         // writes fail now (the disk is full, or the last write failed)
  uint64_t last_commit_ns = 0;  // latency of the latest successful write()
};

class Store {
 public:
  // Opens (or, with create_if_missing, creates) the DB at options.path. On failure returns
  // nullptr and sets `error` to one line naming the path and the cause (missing, locked by
  // another process or Store, corrupt). Never starts empty over existing data: a directory
  // without a CURRENT file that holds anything but RocksDB's LOCK/LOG/IDENTITY files is refused,
  // and RocksDB's paranoid checks reject a CURRENT or MANIFEST it cannot read. May block (I/O,
  // WAL replay); call before shards start.
  static std::unique_ptr<Store> open(const StoreOptions& options, std::string& error);

  // Stops the WAL sync thread (after a last sync if writes are unsynced) and closes the DB.
  // Every ShardBatch and reader must be done with it.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Reads below are thread-safe (any thread) and block on disk I/O when the data is not cached.
  // They see committed writes only, never a ShardBatch's pending ones.

  // true and `value` when found. false when not found (`error` cleared) or on a read error
  // (`error` set, also logged).
  bool get(std::string_view key, std::string& value, std::string* error = nullptr) const;

  // Calls fn(key, value) for the keys starting with `prefix`, in key order, from the first key
  // >= max(prefix, start), until fn returns false or the keys run out. The views are valid
  // during the call only. Returns false on a read error (logged), true otherwise.
  bool scan(std::string_view prefix, std::string_view start,
            const std::function<bool(std::string_view, std::string_view)>& fn) const;

  // The last key starting with `prefix` (e.g. a conversation's head message). false when there
  // is none (`error` cleared) or on a read error (`error` set, also logged).
  bool last(std::string_view prefix, std::string& key, std::string& value,
            std::string* error = nullptr) const;

  // For what this class does not wrap (e.g. a snapshot). The Store owns it.
  rocksdb::DB* db() { return db_.get(); }
  const StoreOptions& options() const { return options_; }

  // Writes `batch` atomically, with the durability of options().sync (see top). Thread-safe;
  // blocks for the write (and with kAlways for the fsync). false and `error` (also logged) when
  // RocksDB refused or failed the write: nothing of the batch may be reported as stored. After
  // an I/O error RocksDB refuses every write until it is resumed: the next write() tries that
  // first, at most once a second, so writing comes back by itself when the cause is gone. With
  // min_free_bytes, a nearly full disk is refused here before RocksDB sees it, and writing
  // comes back as soon as there is room again.
  bool write(rocksdb::WriteBatch& batch, std::string& error);

  StoreStats stats() const;

 private:
  explicit Store(const StoreOptions& options);
  void sync_loop();
  void note_write();
  void report(const char* what, const std::string& status) const;
  void resume();
  bool room_for(size_t bytes, std::string& error);

  const StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;

  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> bytes_{0};
  mutable std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> wal_syncs_{0};
  std::atomic<uint64_t> last_commit_ns_{0};
  mutable std::atomic<int64_t> last_report_ns_{0};  // error log rate limit
  mutable std::atomic<uint64_t> unreported_{0};     // errors not logged since then
  std::atomic<bool> failing_{false};                // a write failed, not resumed since
  std::atomic<int64_t> last_resume_ns_{0};          // resume attempts: one a second at most
  std::atomic<uint64_t> resumes_{0};
  // The free-space guard: statvfs() after every kSpaceCheckBytes written (or kSpaceCheckNs).
  std::atomic<uint64_t> unchecked_bytes_{0};
  std::atomic<int64_t> last_space_check_ns_{0};
  std::atomic<bool> disk_full_{false};

  // kBatch WAL sync thread. dirty_ goes false -> true (under sync_mu_ for the wake-up) on a
  // write, true -> false when the thread starts a sync.
  std::atomic<bool> dirty_{false};
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool stopping_ = false;  // guarded by sync_mu_
  std::thread sync_thread_;
};

// One shard's group commit. Owner thread only (the shard that created it, or whichever thread
// uses it first); not thread-safe. The shard registers commit() as a tick hook:
//   shard.add_tick_hook([&batch] { batch.commit(); });
// Reads that must see this shard's own not-yet-committed writes are not supported: callers
// keep that state in memory until the commit.
class ShardBatch {
 public:
  explicit ShardBatch(Store& store);
  // Writes what is still pending; waiters are destroyed unrun (nobody is left to answer).
  ~ShardBatch();
  ShardBatch(const ShardBatch&) = delete;
  ShardBatch& operator=(const ShardBatch&) = delete;

  // Adds to the batch of this tick. The bytes are copied.
  void put(std::string_view key, std::string_view value);
  void del(std::string_view key);

  // cb(ok) runs on this thread once the batch holding everything put so far has been written
  // (at the next commit(), even if nothing is pending). ok = false when that write failed
  // (the error is logged): none of those writes may be reported as stored.
  void after_commit(std::function<void(bool ok)> cb);

  // Writes the pending batch, if any, with one Store::write, then runs the waiters in the order
  // added. Work the waiters add is committed in further rounds, up to kMaxRounds per call;
  // anything left after that waits for the next commit(). Blocks for the write. Not from a
  // waiter.
  void commit();

  bool pending() const { return batch_.Count() > 0 || !waiters_.empty(); }

  static constexpr int kMaxRounds = 8;

 private:
  void check_owner();

  Store& store_;
  rocksdb::WriteBatch batch_;
  std::vector<std::function<void(bool)>> waiters_;
  std::vector<std::function<void(bool)>> running_;  // waiters_ of the round being run
  std::thread::id owner_;
  bool committing_ = false;  // inside commit() (asserts that waiters do not re-enter it)
  std::string error_;
};

}  // namespace parley::store
