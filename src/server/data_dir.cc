#include "parley/server/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace parley::server {

DataDirLock::DataDirLock(DataDirLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

DataDirLock DataDirLock::acquire(const std::string& dir, std::string& error) {
  DataDirLock lock;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create data directory " + dir + ": " + ec.message();
    return lock;
  }
  std::string path = dir + "/parleyd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return lock;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {};
    ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    while (n > 0 && (pid[n - 1] == '\n' || pid[n - 1] == ' ')) pid[--n] = 0;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      error = "data directory " + dir + " is in use by another parleyd" +
              (n > 0 ? std::string(" (pid ") + pid + ")" : std::string());
    } else {
      error = "cannot lock " + path + ": " + std::strerror(err);
    }
    return lock;
  }
  std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The pid is only a courtesy for the error message above; the lock is what matters.
  }
  lock.fd_ = fd;
  return lock;
}

}  // namespace parley::server
