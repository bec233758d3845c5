// DropCounters: one counter per DropReason, owned by one worker; the control path sums the
// workers' counters for `uipsec stats`.
#pragma once

#include <array>
#include <cstdint>

#include "base/counter.hpp"
#include "packet/drop_reason.hpp"

namespace uipsec {

class DropCounters {
 public:
  // Owner thread only.
  void count(DropReason reason, std::uint64_t n = 1) {
    counters_[static_cast<std::size_t>(reason)].add(n);
  }
  // Any thread.
  std::uint64_t get(DropReason reason) const {
    return counters_[static_cast<std::size_t>(reason)].get();
  }
  std::uint64_t total() const {
    std::uint64_t sum = 0;
    for (std::size_t i = 1; i < kDropReasonCount; ++i) sum += counters_[i].get();
    return sum;
  }

 private:
  std::array<OwnedCounter, kDropReasonCount> counters_;
};

}  // namespace uipsec
