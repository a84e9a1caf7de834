// Task: a move-only `void()` callable, the unit of work that crosses shards.
//
// Like std::function<void()> but move-only (captures may be unique_ptr, sockets, buffers) and
// with 48 bytes of inline storage, so the common lambda (a few ids, a pointer, a moved string)
// lives inside the Task itself: no allocation on the cross-shard path. A callable that is bigger,
// over-aligned, or not nothrow-move-constructible is kept on the heap instead.
//
// A Task is one cache line (64 bytes). It has no thread affinity of its own: whoever holds it
// last destroys it (and with it the captures), so a capture must be safe to destroy on the
// thread that runs or drops the task.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

namespace parley {

class Task {
 public:
  static constexpr size_t kInlineSize = 48;
  static constexpr size_t kInlineAlign = alignof(std::max_align_t);

  // True if a callable of type F is stored inline (no allocation).
  template <typename F>
  static constexpr bool stored_inline =
      sizeof(F) <= kInlineSize &&
      alignof(F) <= kInlineAlign&& std::is_nothrow_move_constructible_v<F>;

  Task() = default;

  // Wraps any callable invocable as f() (its result is discarded). Implicit, so a lambda can be
  // passed wherever a Task is expected. A null function pointer makes an empty Task.
  template <typename F>
  requires(!std::same_as<std::remove_cvref_t<F>, Task> && std::invocable<std::decay_t<F>&> &&
           std::constructible_from<std::decay_t<F>, F>)
      Task(F&& f) {  // NOLINT(google-explicit-constructor)
    using D = std::decay_t<F>;
    if constexpr (std::is_pointer_v<D>) {
      if (f == nullptr) return;
    }
    if constexpr (stored_inline<D>) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &kInlineOps<D>;
    } else {
      ::new (static_cast<void*>(buf_)) D*(new D(std::forward<F>(f)));
      ops_ = &kHeapOps<D>;
    }
  }

  Task(Task&& other) noexcept { take(other); }

  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }

  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  ~Task() { reset(); }

  // Runs the callable. Precondition: non-empty. May be called more than once.
  void operator()() { ops_->invoke(buf_); }

  explicit operator bool() const { return ops_ != nullptr; }

  // Destroys the callable (and its captures) now; the Task becomes empty.
  void reset() noexcept {
    if (ops_ != nullptr) {
      if (ops_->destroy != nullptr) ops_->destroy(buf_);
      ops_ = nullptr;
    }
  }

 private:
  struct Ops {
    void (*invoke)(void* self);
    void (*relocate)(void* dst, void* src) noexcept;  // move into dst, destroy src; null: memcpy
    void (*destroy)(void* self) noexcept;             // null: nothing to destroy
  };

  // Trivially copyable callables (lambdas capturing ids, pointers, references) move by memcpy
  // and need no destructor call: on the ring's hot path a Task then costs one indirect call.
  template <typename D>
  static constexpr Ops kInlineOps{
      [](void* self) { std::invoke(*std::launder(static_cast<D*>(self))); },
      std::is_trivially_copyable_v<D> ? nullptr
                                      : +[](void* dst, void* src) noexcept {
                                          D* s = std::launder(static_cast<D*>(src));
                                          ::new (dst) D(std::move(*s));
                                          s->~D();
                                        },
      std::is_trivially_destructible_v<D>
          ? nullptr
          : +[](void* self) noexcept { std::launder(static_cast<D*>(self))->~D(); },
  };

  template <typename D>
  static constexpr Ops kHeapOps{
      [](void* self) { std::invoke(**std::launder(static_cast<D**>(self))); },
      nullptr,  // the pointer moves, the object stays put
      [](void* self) noexcept { delete *std::launder(static_cast<D**>(self)); },
  };

  void take(Task& other) noexcept {
    if (other.ops_ == nullptr) return;
    if (other.ops_->relocate != nullptr) {
      other.ops_->relocate(buf_, other.buf_);
    } else {
      std::memcpy(buf_, other.buf_, kInlineSize);
    }
    ops_ = std::exchange(other.ops_, nullptr);
  }

  alignas(kInlineAlign) unsigned char buf_[kInlineSize];
  const Ops* ops_ = nullptr;  // nullptr: empty
};

static_assert(sizeof(Task) == 64, "a Task is one cache line");

}  // namespace parley
