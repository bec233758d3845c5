// Statistics counters that the packet path bumps and the control path reads without locks.
#pragma once

#include <atomic>
#include <cstdint>

namespace uipsec {

// A counter written by exactly one thread (its owner) and read by any. Increments are a plain
// load and store, so they cost no locked instruction; readers see a value that may lag but is
// never torn. Precondition: only the owner thread calls add().
class OwnedCounter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }
  void reset() { value_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A counter that several threads may bump (an SA served by several workers).
class SharedCounter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

}  // namespace uipsec
