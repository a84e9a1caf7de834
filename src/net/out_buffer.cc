#include "parley/net/out_buffer.h"

#include <cassert>
#include <cstring>
#include <utility>

namespace parley::net {

struct OutBuffer::Block {
  Block* next = nullptr;
  size_t used = 0;  // bytes written into data
  uint8_t data[kBlockSize];
};

OutBuffer::OutBuffer(OutBuffer&& o) noexcept
    : head_(std::exchange(o.head_, nullptr)),
      tail_(std::exchange(o.tail_, nullptr)),
      head_offset_(std::exchange(o.head_offset_, 0)),
      size_(std::exchange(o.size_, 0)) {}

OutBuffer& OutBuffer::operator=(OutBuffer&& o) noexcept {
  if (this != &o) {
    clear();
    head_ = std::exchange(o.head_, nullptr);
    tail_ = std::exchange(o.tail_, nullptr);
    head_offset_ = std::exchange(o.head_offset_, 0);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

OutBuffer::~OutBuffer() { clear(); }

void OutBuffer::clear() {
  while (head_ != nullptr) delete std::exchange(head_, head_->next);
  tail_ = nullptr;
  head_offset_ = 0;
  size_ = 0;
}

void OutBuffer::append(std::string_view bytes) {
  while (!bytes.empty()) {
    if (tail_ == nullptr || tail_->used == kBlockSize) {
      auto* b = new Block;
      (tail_ != nullptr ? tail_->next : head_) = b;
      tail_ = b;
    }
    size_t n = std::min(bytes.size(), kBlockSize - tail_->used);
    std::memcpy(tail_->data + tail_->used, bytes.data(), n);
    tail_->used += n;
    size_ += n;
    bytes.remove_prefix(n);
  }
}

std::span<uint8_t> OutBuffer::append_contiguous(size_t n) {
  assert(n <= kBlockSize);
  if (tail_ == nullptr || kBlockSize - tail_->used < n) {
    auto* b = new Block;
    (tail_ != nullptr ? tail_->next : head_) = b;
    tail_ = b;
  }
  uint8_t* p = tail_->data + tail_->used;
  tail_->used += n;
  size_ += n;
  return {p, n};
}

int OutBuffer::gather(struct iovec* iov, int max, size_t skip) const {
  int n = 0;
  size_t offset = head_offset_ + skip;
  for (Block* b = head_; b != nullptr && n < max; b = b->next) {
    if (offset >= b->used) {
      offset -= b->used;
      continue;
    }
    iov[n].iov_base = b->data + offset;
    iov[n].iov_len = b->used - offset;
    offset = 0;
    ++n;
  }
  return n;
}

void OutBuffer::consume(size_t n) {
  assert(n <= size_);
  size_ -= n;
  while (n > 0) {
    size_t avail = head_->used - head_offset_;
    if (n < avail) {
      head_offset_ += n;
      return;
    }
    n -= avail;
    delete std::exchange(head_, head_->next);
    head_offset_ = 0;
  }
  // Drop a fully drained head so an idle connection holds no memory.
  if (head_ != nullptr && head_offset_ == head_->used) {
    delete std::exchange(head_, head_->next);
    head_offset_ = 0;
  }
  if (head_ == nullptr) tail_ = nullptr;
}

}  // namespace parley::net
