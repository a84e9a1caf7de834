#include "parley/util/task.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace parley {
namespace {

// Counts live instances, so every test can check "no leaks, no double destroys".
struct Counted {
  static inline int live = 0;
  static inline int destroyed = 0;
  Counted() { ++live; }
  Counted(const Counted&) { ++live; }
  Counted(Counted&&) noexcept { ++live; }
  ~Counted() {
    --live;
    ++destroyed;
  }
};

class TaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Counted::live = 0;
    Counted::destroyed = 0;
  }
  void TearDown() override { EXPECT_EQ(Counted::live, 0); }
};

TEST_F(TaskTest, EmptyByDefault) {
  Task t;
  EXPECT_FALSE(t);
  Task moved(std::move(t));
  EXPECT_FALSE(moved);
  EXPECT_FALSE(t);  // NOLINT(bugprone-use-after-move)
}

TEST_F(TaskTest, IsOneCacheLine) { EXPECT_EQ(sizeof(Task), 64u); }

TEST_F(TaskTest, SmallCaptureIsInlineAndRuns) {
  int calls = 0;
  auto fn = [&calls, a = 1, b = 2] { calls += a + b; };
  static_assert(Task::stored_inline<decltype(fn)>);
  Task t(fn);
  ASSERT_TRUE(t);
  t();
  t();
  EXPECT_EQ(calls, 6);
}

TEST_F(TaskTest, LargeCaptureGoesToHeapAndRuns) {
  std::array<uint64_t, 16> big{};
  for (size_t i = 0; i < big.size(); ++i) big[i] = i;
  uint64_t sum = 0;
  auto fn = [big, &sum] {
    for (uint64_t v : big) sum += v;
  };
  static_assert(!Task::stored_inline<decltype(fn)>);
  Task t(std::move(fn));
  Task moved(std::move(t));
  EXPECT_FALSE(t);  // NOLINT(bugprone-use-after-move)
  moved();
  EXPECT_EQ(sum, 120u);
}

TEST_F(TaskTest, ExactlyInlineSizeStaysInline) {
  struct Exact {
    std::array<char, Task::kInlineSize> bytes;
    void operator()() {}
  };
  static_assert(Task::stored_inline<Exact>);
  struct TooBig {
    std::array<char, Task::kInlineSize + 1> bytes;
    void operator()() {}
  };
  static_assert(!Task::stored_inline<TooBig>);
}

TEST_F(TaskTest, ThrowingMoveGoesToHeap) {
  struct ThrowingMove {
    ThrowingMove() = default;
    ThrowingMove(ThrowingMove&&) noexcept(false) {}
    void operator()() {}
  };
  static_assert(!Task::stored_inline<ThrowingMove>);
  Task t{ThrowingMove{}};
  Task u(std::move(t));
  u();
}

TEST_F(TaskTest, MoveOnlyCapture) {
  auto p = std::make_unique<int>(41);
  int seen = 0;
  Task t([p = std::move(p), &seen]() mutable {
    ++*p;
    seen = *p;
  });
  Task u(std::move(t));
  u();
  EXPECT_EQ(seen, 42);
}

TEST_F(TaskTest, MutableStatePersistsAcrossCalls) {
  int out = 0;
  Task t([n = 0, &out]() mutable { out = ++n; });
  t();
  t();
  t();
  EXPECT_EQ(out, 3);
}

TEST_F(TaskTest, DestroysSmallCaptureExactlyOnce) {
  {
    Task t([c = Counted()] {});
    EXPECT_EQ(Counted::live, 1);
    Task u(std::move(t));
    Task w(std::move(u));
    EXPECT_EQ(Counted::live, 1);
    w();
  }
  EXPECT_EQ(Counted::live, 0);
}

TEST_F(TaskTest, DestroysLargeCaptureExactlyOnce) {
  {
    std::array<char, 100> pad{};
    Task t([c = Counted(), pad] { (void)pad; });
    EXPECT_EQ(Counted::live, 1);
    Task u(std::move(t));
    EXPECT_EQ(Counted::live, 1);
    int before = Counted::destroyed;
    Task w(std::move(u));  // heap: the pointer moves, the object does not
    EXPECT_EQ(Counted::destroyed, before);
  }
  EXPECT_EQ(Counted::live, 0);
}

TEST_F(TaskTest, MoveAssignmentDestroysOldTarget) {
  Task a([c = Counted()] {});
  Task b([c = Counted(), d = Counted()] {});
  EXPECT_EQ(Counted::live, 3);
  a = std::move(b);
  EXPECT_EQ(Counted::live, 2);
  EXPECT_TRUE(a);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
  a = Task();
  EXPECT_EQ(Counted::live, 0);
  EXPECT_FALSE(a);
}

TEST_F(TaskTest, MoveAssignmentBetweenInlineAndHeap) {
  std::array<char, 100> pad{};
  int which = 0;
  Task small([&which, c = Counted()] { which = 1; });
  Task large([&which, c = Counted(), pad] { which = 2 + pad[0]; });
  small = std::move(large);
  EXPECT_EQ(Counted::live, 1);
  small();
  EXPECT_EQ(which, 2);
  large = [&which] { which = 3; };
  large();
  EXPECT_EQ(which, 3);
}

TEST_F(TaskTest, SelfMoveAssignmentKeepsTask) {
  int calls = 0;
  Task t([&calls, c = Counted()] { ++calls; });
  Task& alias = t;
  t = std::move(alias);
  ASSERT_TRUE(t);
  t();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Counted::live, 1);
}

TEST_F(TaskTest, ResetDestroysNow) {
  Task t([c = Counted()] {});
  t.reset();
  EXPECT_FALSE(t);
  EXPECT_EQ(Counted::live, 0);
}

void free_function_target(int* p) { ++*p; }
int g_calls = 0;
void free_function() { ++g_calls; }

TEST_F(TaskTest, FunctionPointers) {
  g_calls = 0;
  Task t(&free_function);
  t();
  EXPECT_EQ(g_calls, 1);
  void (*null_fn)() = nullptr;
  Task empty(null_fn);
  EXPECT_FALSE(empty);
  int x = 0;
  Task bound([&x] { free_function_target(&x); });
  bound();
  EXPECT_EQ(x, 1);
}

TEST_F(TaskTest, ResultIsDiscarded) {
  int calls = 0;
  Task t([&calls] { return ++calls; });
  t();
  EXPECT_EQ(calls, 1);
}

TEST_F(TaskTest, ManyTasksInAVector) {
  std::vector<Task> tasks;
  int sum = 0;
  for (int i = 0; i < 1000; ++i) {
    if (i % 2 == 0) {
      tasks.emplace_back([&sum, i, c = Counted()] { sum += i; });
    } else {
      std::string s(200, 'x');
      tasks.emplace_back(
          [&sum, i, s, c = Counted()] { sum += i + static_cast<int>(s.size()) - 200; });
    }
  }
  EXPECT_EQ(Counted::live, 1000);
  for (Task& t : tasks) t();
  EXPECT_EQ(sum, 999 * 1000 / 2);
  tasks.clear();
  EXPECT_EQ(Counted::live, 0);
}

TEST_F(TaskTest, NotConstructibleFromNonInvocables) {
  static_assert(!std::is_constructible_v<Task, int>);
  static_assert(!std::is_constructible_v<Task, std::string>);
  static_assert(!std::is_copy_constructible_v<Task>);
  static_assert(std::is_nothrow_move_constructible_v<Task>);
  static_assert(std::is_nothrow_move_assignable_v<Task>);
}

}  // namespace
}  // namespace parley
