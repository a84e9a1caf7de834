#include "verifier.h"

#include <algorithm>

namespace parley::bench {

Anomaly StreamVerifier::on_message(uint64_t n) {
  ++received_;
  if (n == next_) {
    ++next_;
    return Anomaly::kNone;
  }
  if (n > next_) {
    uint64_t skipped = n - next_;
    if (skipped > kMaxListedGap || missing_.size() + skipped > kMaxListedGap) {
      unlisted_missing_ += skipped;
    } else {
      for (uint64_t k = next_; k < n; ++k) missing_.push_back(k);
    }
    next_ = n + 1;
    return Anomaly::kGap;
  }
  auto it = std::lower_bound(missing_.begin(), missing_.end(), n);
  if (it != missing_.end() && *it == n) {
    missing_.erase(it);
    ++reorders_;
    return Anomaly::kReorder;
  }
  ++duplicates_;
  return Anomaly::kDuplicate;
}

uint64_t StreamVerifier::lost(uint64_t confirmed) const {
  uint64_t missing = unlisted_missing_;
  for (uint64_t k : missing_) {
    if (k < confirmed) ++missing;
  }
  if (confirmed > next_) missing += confirmed - next_;
  return missing;
}

void VerifyTotals::merge(const VerifyTotals& o) {
  streams += o.streams;
  received += o.received;
  lost += o.lost;
  duplicates += o.duplicates;
  reorders += o.reorders;
  seq_regressions += o.seq_regressions;
  unexpected += o.unexpected;
}

}  // namespace parley::bench
