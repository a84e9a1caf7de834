// Time as the server sees it. Everything that expires (timeouts, rate limits, dedupe windows)
// reads time through a Clock so tests can drive it by hand instead of sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace parley {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic milliseconds (arbitrary origin); never goes backwards. Any thread.
  virtual uint64_t now_ms() const = 0;
  // Wall-clock milliseconds since the Unix epoch (message timestamps). Any thread.
  virtual uint64_t wall_ms() const = 0;
};

class SteadyClock final : public Clock {
 public:
  uint64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
  uint64_t wall_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

// A clock that moves only when told to. Single-threaded tests only.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint64_t start_ms = 1'000'000) : now_(start_ms) {}
  uint64_t now_ms() const override { return now_; }
  uint64_t wall_ms() const override { return 1'700'000'000'000ull + now_; }
  void advance(uint64_t ms) { now_ += ms; }

 private:
  uint64_t now_;
};

}  // namespace parley
