// RingQueue: a FIFO with random access (push at the back, pop at the front) in one growable
// circular buffer. Unlike libstdc++'s std::deque, an empty RingQueue owns no memory: a deque
// allocates its map and a 512-byte node on construction, which is ~600 bytes for every user,
// conversation and connection whose queue stays empty (most of them).
#pragma once

#include <cassert>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace parley::util {

template <typename T>
class RingQueue {
 public:
  RingQueue() = default;
  RingQueue(RingQueue&& other) noexcept { swap(other); }
  RingQueue& operator=(RingQueue&& other) noexcept {
    RingQueue(std::move(other)).swap(*this);
    return *this;
  }
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;
  ~RingQueue() { clear(); }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }
  T& operator[](size_t i) {
    assert(i < size_);
    return slots_[(head_ + i) & (capacity_ - 1)].value;
  }
  const T& operator[](size_t i) const {
    assert(i < size_);
    return slots_[(head_ + i) & (capacity_ - 1)].value;
  }

  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) grow();
    Slot& s = slots_[(head_ + size_) & (capacity_ - 1)];
    new (&s.value) T(std::forward<Args>(args)...);
    ++size_;
    return s.value;
  }
  void push_back(T value) { emplace_back(std::move(value)); }

  void pop_front() {
    assert(size_ > 0);
    slots_[head_].value.~T();
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
  }

  // Destroys every element; the buffer is kept for reuse (release() frees it).
  void clear() {
    while (size_ > 0) pop_front();
    head_ = 0;
  }
  void release() {
    clear();
    slots_.reset();
    capacity_ = 0;
  }

  void swap(RingQueue& other) noexcept {
    std::swap(slots_, other.slots_);
    std::swap(capacity_, other.capacity_);
    std::swap(head_, other.head_);
    std::swap(size_, other.size_);
  }

 private:
  // Raw storage for one element: constructed only while it is in the queue.
  union Slot {
    Slot() {}
    ~Slot() {}
    T value;
  };

  void grow() {
    size_t bigger = capacity_ == 0 ? 4 : capacity_ * 2;  // a power of two: index by mask
    std::unique_ptr<Slot[]> fresh(new Slot[bigger]);
    for (size_t i = 0; i < size_; ++i) {
      T& old = (*this)[i];
      new (&fresh[i].value) T(std::move(old));
      old.~T();
    }
    slots_ = std::move(fresh);
    capacity_ = bigger;
    head_ = 0;
  }

  std::unique_ptr<Slot[]> slots_;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace parley::util
