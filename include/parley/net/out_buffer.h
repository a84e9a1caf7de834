// A connection's unsent output: a list of fixed-size blocks, so appending never moves bytes
// already queued and a partial write releases whole blocks as they drain. An idle connection
// holds no block at all. The owner (Connection) enforces the size limit; see SendStatus.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace parley::net {

class OutBuffer {
 public:
  static constexpr size_t kBlockSize = 16 * 1024;

  OutBuffer() = default;
  OutBuffer(OutBuffer&&) noexcept;
  OutBuffer& operator=(OutBuffer&&) noexcept;
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;
  ~OutBuffer();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void append(std::string_view bytes);
  // Returns `n` contiguous writable bytes at the end (n <= kBlockSize); they count as queued.
  std::span<uint8_t> append_contiguous(size_t n);

  // Fills up to `max` iovecs with the queued bytes, starting `skip` bytes in (bytes already
  // handed to an in-flight write). Returns the number of iovecs filled.
  int gather(struct iovec* iov, int max, size_t skip = 0) const;
  // Drops `n` bytes from the front (they were written), freeing drained blocks.
  void consume(size_t n);
  void clear();

 private:
  struct Block;
  Block* head_ = nullptr;
  Block* tail_ = nullptr;
  size_t head_offset_ = 0;  // bytes of head_ already consumed
  size_t size_ = 0;         // queued bytes in all blocks
};

}  // namespace parley::net
