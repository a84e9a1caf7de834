// The data directory and its lock: one parleyd per data directory, enforced with flock(2) on
// DATA_DIR/parleyd.lock (released by the kernel however the process ends, kill -9 included).
#pragma once

#include <string>

namespace parley::server {

class DataDirLock {
 public:
  DataDirLock() = default;
  DataDirLock(DataDirLock&& o) noexcept;
  DataDirLock& operator=(DataDirLock&& o) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

  // Creates `dir` (and parents) if needed and takes its lock. On failure returns a lock for
  // which held() is false and sets `error` to a message naming the directory (and the pid
  // of the instance that holds it, when known).
  static DataDirLock acquire(const std::string& dir, std::string& error);
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace parley::server
