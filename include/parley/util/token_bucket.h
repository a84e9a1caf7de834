// A token bucket: `rate` tokens per second up to `burst`, starting full. Pure arithmetic over
// the caller's clock; one owner, not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>

namespace parley {

class TokenBucket {
 public:
  // Takes one token at `now_ms` if there is one. rate <= 0 means no limit.
  bool take(uint64_t now_ms, double rate, double burst) {
    if (rate <= 0) return true;
    refill(now_ms, rate, burst);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }
  double tokens(uint64_t now_ms, double rate, double burst) {
    refill(now_ms, rate, burst);
    return tokens_;
  }

 private:
  void refill(uint64_t now_ms, double rate, double burst) {
    if (!started_) {
      started_ = true;
      tokens_ = burst;
    } else if (now_ms > last_ms_) {
      tokens_ = std::min(burst, tokens_ + static_cast<double>(now_ms - last_ms_) * rate / 1000.0);
    }
    last_ms_ = std::max(last_ms_, now_ms);
  }

  double tokens_ = 0;
  uint64_t last_ms_ = 0;
  bool started_ = false;
};

}  // namespace parley
