#include "parley/store/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cassert>
#include <cstdarg>
#include <cstdio>
#include <chrono>
#include <filesystem>
#include <system_error>

#include "parley/server/log.h"
#include "parley/store/keys.h"

namespace parley::store {
namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view view(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

bool supported(rocksdb::CompressionType type) {
  auto all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), type) != all.end();
}

// The memtable insert hint prefixes: a message key's conversation ('c' + conv) and a dedupe
// key's user ('e' + uid). Appending to a conversation then starts the skiplist search where its
// previous append ended instead of at the top (-35% CPU per appended message in store_bench);
// a user's dedupe records (one per send, keyed by cids in no particular order) are searched for
// among that user's recent ones only (p2p: server CPU per message 28-32 -> 20 us, most of the
// difference being cache misses in a full-height search of a 64 MiB memtable). Other tables get
// no hint: they are written rarely, and each hinted prefix costs ~250 bytes of memtable.
class HintPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "parley.ConvPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key[0] == table::kMsg ? kMsgPrefixSize : kDedupePrefixSize);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return (key.size() >= kMsgPrefixSize && key[0] == table::kMsg) ||
           (key.size() >= kDedupePrefixSize && key[0] == table::kDedupe);
  }
};

// Options for Parley's workload: small values (messages of a few hundred bytes, cursors,
// dedupe entries) appended in key order per conversation, read back by short prefix scans from
// a cursor and by point lookups that often miss (dedupe checks of new client ids).
//  - Level compaction (the default) with dynamic level sizes: little space amplification for a
//    log that only grows and is trimmed by retention.
//  - Bloom filters, 10 bits/key (~1% false positives), on whole keys: a dedupe miss costs no
//    data block read. Scans need no prefix extractor; they seek once and walk forward.
//  - Index and filter blocks live in the block cache (bounded memory; an open does not load
//    every table's index, which keeps a restart over millions of messages fast), partitioned
//    so that what a lookup needs is small enough to stay there; the top levels and L0's
//    partitions are pinned since every read checks them.
//  - LZ4 on the upper levels, ZSTD on the bottommost (where old, cold messages settle).
//  - Memtable insert hints (HintPrefix): per conversation for appends (the hot write), per
//    user for dedupe records; a whole-key Bloom filter per memtable, so a dedupe miss skips
//    the skip list too.
//  - Two background jobs (flush + compaction) to leave the cores to the shards.
//  - At most 512 table files open at once, so a big store cannot eat the descriptors that
//    connections need.
//  - WAL always on, fsynced per SyncPolicy; no manual WAL flush, so a write() is in the OS and
//    survives kill -9 of the process by the time it returns.
//  - Blob files (off by default): large values out of the LSM tree, if messages grow.
// RocksDB's own log goes to parleyd's log (warnings and errors only), not to a LOG file in the
// store: one place to read, and a full disk cannot fail the logging itself (Debian's RocksDB
// is built with assertions, and its file logger asserts on a write after a failed one).
class StoreLogger final : public rocksdb::Logger {
 public:
  StoreLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      log::error("rocksdb: %s", line);
    } else {
      log::warn("rocksdb: %s", line);
    }
  }
};

rocksdb::Options make_options(const StoreOptions& so) {
  rocksdb::Options o;
  o.info_log = std::make_shared<StoreLogger>();
  o.create_if_missing = so.create_if_missing;
  o.paranoid_checks = true;
  o.max_background_jobs = 2;
  o.compaction_style = rocksdb::kCompactionStyleLevel;
  o.level_compaction_dynamic_level_bytes = true;
  o.bytes_per_sync = 1 << 20;
  o.keep_log_file_num = 5;
  // Table files kept open (RocksDB's default is all of them): descriptors are for connections.
  o.max_open_files = 512;
  o.manual_wal_flush = false;
  // After a crash, the replayed WAL stays in the memtable instead of being written to a table
  // file before the open returns: serving sooner; the WAL is kept until a normal flush.
  o.avoid_flush_during_recovery = true;
  o.memtable_insert_with_hint_prefix_extractor = std::make_shared<HintPrefix>();
  // A whole-key Bloom filter on each memtable (2 % of its size): most point lookups are dedupe
  // checks of new cids, which miss, and a miss then skips the skip-list search.
  o.memtable_prefix_bloom_size_ratio = 0.02;
  o.memtable_whole_key_filtering = true;
  if (supported(rocksdb::kLZ4Compression)) o.compression = rocksdb::kLZ4Compression;
  if (supported(rocksdb::kZSTD)) o.bottommost_compression = rocksdb::kZSTD;

  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(so.block_cache_bytes);
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.whole_key_filtering = true;
  // Partitioned filters and a two-level index: a lookup loads one small (4 KiB) filter and
  // index partition into the cache, not a table's whole filter. A whole filter is 10 bits per
  // key (a 64 MiB table's is hundreds of KiB), larger than one shard of the block cache, so it
  // never stayed cached: with millions of messages every dedupe check re-read and checksummed
  // it from disk (p2p filling a store fell from 40,000 to 4,500 messages/s by 1.6 M messages).
  t.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  t.partition_filters = true;
  t.metadata_block_size = 4096;
  t.cache_index_and_filter_blocks = true;
  t.cache_index_and_filter_blocks_with_high_priority = true;
  t.pin_top_level_index_and_filter = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));

  if (so.blob_files) {
    o.enable_blob_files = true;
    o.min_blob_size = 64 << 10;  // file chunks (256 KiB); messages (under max_frame) stay inline
    o.enable_blob_garbage_collection = true;
  }
  if (so.tune) so.tune(o);
  return o;
}

// Files RocksDB may leave in a directory before it has written CURRENT (or that hold no data).
bool harmless_without_current(const std::string& name) {
  return name == "LOCK" || name == "LOG" || name.starts_with("LOG.old.") || name == "IDENTITY" ||
         name == "lost+found";
}

// Refuses a directory that holds something but has no CURRENT: RocksDB would create a new,
// empty DB over it (and later delete the old tables as obsolete).
bool check_dir(const std::string& path, std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || st.type() == fs::file_type::not_found) return true;  // RocksDB reports it
  if (st.type() != fs::file_type::directory) {
    error = "store " + path + " is not a directory";
    return false;
  }
  if (fs::exists(fs::path(path) / "CURRENT", ec)) return true;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    std::string name = entry.path().filename().string();
    if (!harmless_without_current(name)) {
      error = "store " + path + " has no CURRENT file but is not empty (holds '" + name +
              "'): a damaged database or not a database; refusing to create a new one over it";
      return false;
    }
  }
  if (ec) {
    error = "store " + path + ": cannot list directory: " + ec.message();
    return false;
  }
  return true;
}

// The first key after every key that starts with `prefix`; empty when there is none (the
// prefix is empty or all 0xff).
std::string successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    if (static_cast<uint8_t>(s.back()) != 0xff) {
      s.back() = static_cast<char>(static_cast<uint8_t>(s.back()) + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

}  // namespace

// ---- Store

Store::Store(const StoreOptions& options) : options_(options) {}

std::unique_ptr<Store> Store::open(const StoreOptions& options, std::string& error) {
  if (options.path.empty()) {
    error = "store path is empty";
    return nullptr;
  }
  if (!check_dir(options.path, error)) return nullptr;
  if (options.create_if_missing) {  // else RocksDB logs a missing directory as an error
    std::error_code ec;
    std::filesystem::create_directory(options.path, ec);
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(make_options(options), options.path, &raw);
  if (!s.ok()) {
    error = "cannot open store " + options.path + ": " + s.ToString();
    return nullptr;
  }
  std::unique_ptr<Store> store(new Store(options));
  store->db_.reset(raw);
  if (options.sync == SyncPolicy::kBatch) {
    store->sync_thread_ = std::thread([st = store.get()] { st->sync_loop(); });
  }
  return store;
}

Store::~Store() {
  if (sync_thread_.joinable()) {
    {
      std::lock_guard lock(sync_mu_);
      stopping_ = true;
    }
    sync_cv_.notify_one();
    sync_thread_.join();
  }
  if (db_) {
    // Memtables to table files before closing, so the next start has no WAL to replay (a full
    // 64 MiB memtable took ~2 s to replay and flush at open). A failed flush loses nothing: the
    // WAL is still there.
    rocksdb::Status f = db_->Flush(rocksdb::FlushOptions());
    if (!f.ok()) log::warn("store %s: flush at close: %s", options_.path.c_str(), f.ToString().c_str());
    rocksdb::Status s = db_->Close();
    if (!s.ok()) log::warn("store %s: close: %s", options_.path.c_str(), s.ToString().c_str());
  }
}

// Logs a failure, at most once a second (a failed DB fails every write of every shard); the
// other failures of that second are counted into the next line.
void Store::report(const char* what, const std::string& status) const {
  errors_.fetch_add(1, std::memory_order_relaxed);
  int64_t now = now_ns();
  int64_t last = last_report_ns_.load(std::memory_order_relaxed);
  if (last != 0 && now - last < 1'000'000'000) {
    unreported_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!last_report_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    unreported_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uint64_t more = unreported_.exchange(0, std::memory_order_relaxed);
  if (more == 0) {
    log::error("store %s: %s failed: %s", options_.path.c_str(), what, status.c_str());
  } else {
    log::error("store %s: %s failed: %s (and %llu more failures)", options_.path.c_str(), what,
               status.c_str(), static_cast<unsigned long long>(more));
  }
}

bool Store::get(std::string_view key, std::string& value, std::string* error) const {
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), slice(key), &value);
  if (s.ok()) {
    if (error) error->clear();
    return true;
  }
  if (s.IsNotFound()) {
    if (error) error->clear();
    return false;
  }
  report("get", s.ToString());
  if (error) *error = s.ToString();
  return false;
}

bool Store::scan(std::string_view prefix, std::string_view start,
                 const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::string upper = successor(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  it->Seek(slice(std::max(prefix, start)));
  for (; it->Valid(); it->Next()) {
    std::string_view key = view(it->key());
    if (!key.starts_with(prefix)) break;
    if (!fn(key, view(it->value()))) return true;
  }
  if (!it->status().ok()) {
    report("scan", it->status().ToString());
    return false;
  }
  return true;
}

bool Store::last(std::string_view prefix, std::string& key, std::string& value,
                 std::string* error) const {
  if (error != nullptr) error->clear();
  std::string upper = successor(prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  if (upper.empty()) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(upper);  // the last key <= upper; upper itself is outside the prefix
    if (it->Valid() && view(it->key()) == upper) it->Prev();
  }
  if (!it->status().ok()) {
    report("last", it->status().ToString());
    if (error != nullptr) *error = it->status().ToString();
    return false;
  }
  if (!it->Valid() || !view(it->key()).starts_with(prefix)) return false;
  key.assign(it->key().data(), it->key().size());
  value.assign(it->value().data(), it->value().size());
  return true;
}

bool Store::write(rocksdb::WriteBatch& batch, std::string& error) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync == SyncPolicy::kAlways;
  if (!room_for(batch.GetDataSize(), error)) return false;
  if (failing_.load(std::memory_order_relaxed)) resume();
  int64_t start = now_ns();
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) {
    failing_.store(true, std::memory_order_relaxed);
    error = s.ToString();
    report("write", error);
    return false;
  }
  last_commit_ns_.store(static_cast<uint64_t>(now_ns() - start), std::memory_order_relaxed);
  commits_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(batch.GetDataSize(), std::memory_order_relaxed);
  if (options_.sync == SyncPolicy::kBatch) note_write();
  return true;
}

// A failed WAL append leaves RocksDB refusing writes (a "background error") until Resume(),
// which flushes the memtables to tables and starts a new WAL, so the torn end of the old one is
// never needed again. One writer tries it, at most once a second; while the disk is still full
// it fails quickly and the writes keep failing with it.
void Store::resume() {
  int64_t now = now_ns();
  int64_t last = last_resume_ns_.load(std::memory_order_relaxed);
  if (now - last < 1'000'000'000 ||
      !last_resume_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    return;
  }
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) {
    report("resume", s.ToString());
    return;
  }
  if (failing_.exchange(false, std::memory_order_relaxed)) {
    resumes_.fetch_add(1, std::memory_order_relaxed);
    log::info("store %s: writing again", options_.path.c_str());
  }
}

// The free-space guard. A WAL append that fails half-way leaves RocksDB needing a Resume(), and
// Debian's assert-enabled RocksDB aborts if that WAL is then fsynced; so the store stops writing
// while the disk has less than min_free_bytes free, with a clear error, and goes on when it has
// room. Checked with statvfs() after every 256 KiB written, every 100 ms while full, and at
// least once a second otherwise: a write burst can overshoot by 256 KiB per writer at most.
bool Store::room_for(size_t bytes, std::string& error) {
  if (options_.min_free_bytes == 0) return true;
  constexpr uint64_t kSpaceCheckBytes = 256 << 10;
  bool full = disk_full_.load(std::memory_order_relaxed);
  int64_t now = now_ns();
  int64_t last = last_space_check_ns_.load(std::memory_order_relaxed);
  uint64_t unchecked = unchecked_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  bool due = full ? now - last >= 100'000'000
                  : unchecked >= kSpaceCheckBytes || now - last >= 1'000'000'000;
  if (due && last_space_check_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    unchecked_bytes_.store(0, std::memory_order_relaxed);
    struct statvfs fs{};
    if (statvfs(options_.path.c_str(), &fs) == 0) {
      uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
      bool now_full = free < options_.min_free_bytes;
      if (now_full != full) {
        disk_full_.store(now_full, std::memory_order_relaxed);
        if (now_full) {
          log::error("store %s: %llu bytes free, under min_free_space: writes refused until "
                     "there is room",
                     options_.path.c_str(), static_cast<unsigned long long>(free));
        } else {
          log::info("store %s: %llu bytes free again: writing", options_.path.c_str(),
                    static_cast<unsigned long long>(free));
        }
        full = now_full;
      }
    }
  }
  if (!full) return true;
  error = "disk full: less than min_free_space free under " + options_.path;
  errors_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

// Marks the WAL dirty; the first write after a sync wakes the sync thread. Taking the mutex
// for the notify means the thread cannot miss it between checking dirty_ and waiting.
void Store::note_write() {
  if (dirty_.load(std::memory_order_relaxed) || dirty_.exchange(true)) return;
  { std::lock_guard lock(sync_mu_); }
  sync_cv_.notify_one();
}

// kBatch: waits for a write, then for the rest of sync_interval_ms since the previous sync
// (writes that arrive meanwhile share the next fsync), then fsyncs the WAL. On stop, syncs
// what is still dirty and returns.
void Store::sync_loop() {
  log::set_thread_tag("store-sync");
  const auto interval = std::chrono::milliseconds(options_.sync_interval_ms);
  auto last_sync = Clock::now() - interval;
  std::unique_lock lock(sync_mu_);
  for (;;) {
    sync_cv_.wait(lock, [&] { return stopping_ || dirty_.load(); });
    if (!stopping_) sync_cv_.wait_until(lock, last_sync + interval, [&] { return stopping_; });
    // No fsync of a WAL whose last append failed: the write is already reported as failed,
    // and Debian's RocksDB asserts on it; the next sync after a resume covers what is new.
    if (dirty_.exchange(false) && !failing_.load(std::memory_order_relaxed)) {
      lock.unlock();
      rocksdb::Status s = db_->SyncWAL();
      if (s.ok()) {
        wal_syncs_.fetch_add(1, std::memory_order_relaxed);
      } else {
        report("WAL sync", s.ToString());
      }
      last_sync = Clock::now();
      lock.lock();
    }
    if (stopping_) return;
  }
}

StoreStats Store::stats() const {
  StoreStats s;
  s.commits = commits_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.wal_syncs = wal_syncs_.load(std::memory_order_relaxed);
  s.resumes = resumes_.load(std::memory_order_relaxed);
  s.failing = failing_.load(std::memory_order_relaxed) || disk_full_.load(std::memory_order_relaxed);
  s.last_commit_ns = last_commit_ns_.load(std::memory_order_relaxed);
  return s;
}

// ---- ShardBatch

ShardBatch::ShardBatch(Store& store) : store_(store) {}

ShardBatch::~ShardBatch() {
  if (batch_.Count() > 0) store_.write(batch_, error_);
}

void ShardBatch::check_owner() {
  if (owner_ == std::thread::id()) owner_ = std::this_thread::get_id();
  assert(owner_ == std::this_thread::get_id() && "ShardBatch used off its owner thread");
}

void ShardBatch::put(std::string_view key, std::string_view value) {
  check_owner();
  batch_.Put(slice(key), slice(value));
}

void ShardBatch::del(std::string_view key) {
  check_owner();
  batch_.Delete(slice(key));
}

void ShardBatch::after_commit(std::function<void(bool ok)> cb) {
  check_owner();
  waiters_.push_back(std::move(cb));
}

void ShardBatch::commit() {
  check_owner();
  assert(!committing_ && "ShardBatch::commit() called from a waiter");
  committing_ = true;
  for (int round = 0; round < kMaxRounds && pending(); ++round) {
    bool ok = true;
    if (batch_.Count() > 0) {
      ok = store_.write(batch_, error_);  // Store::write logs a failure
      batch_.Clear();
    }
    running_.swap(waiters_);
    for (auto& cb : running_) cb(ok);
    running_.clear();
  }
  committing_ = false;
}

}  // namespace parley::store
