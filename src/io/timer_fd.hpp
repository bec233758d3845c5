// TimerFd: a Linux timerfd on CLOCK_MONOTONIC, for periodic control-path work (lifetime checks,
// statistics) inside an EventLoop. Non-blocking, close-on-exec.
#pragma once

#include <chrono>
#include <cstdint>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace uipsec {

// Owner: one thread (the one whose EventLoop polls it).
class TimerFd {
 public:
  static Result<TimerFd> create();

  // Readable when the timer has expired at least once since the last drain().
  int fd() const { return fd_.get(); }
  // Expires every `interval` (> 0), first after one interval. Replaces any earlier setting.
  Result<void> arm_periodic(std::chrono::nanoseconds interval);
  // Expires once after `delay` (> 0).
  Result<void> arm_once(std::chrono::nanoseconds delay);
  Result<void> disarm();
  // Returns how many expirations happened since the last drain (0 when none) and clears them.
  std::uint64_t drain();

 private:
  explicit TimerFd(UniqueFd fd) : fd_(std::move(fd)) {}
  Result<void> arm(std::chrono::nanoseconds first, std::chrono::nanoseconds interval);
  UniqueFd fd_;
};

}  // namespace uipsec
