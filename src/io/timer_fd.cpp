#include "io/timer_fd.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "base/system_error.hpp"

namespace uipsec {

namespace {

timespec to_timespec(std::chrono::nanoseconds t) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(t.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(t.count() % 1'000'000'000);
  return ts;
}

}  // namespace

Result<TimerFd> TimerFd::create() {
  UniqueFd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!fd) return system_error("cannot create a timerfd", errno);
  return TimerFd(std::move(fd));
}

Result<void> TimerFd::arm(std::chrono::nanoseconds first, std::chrono::nanoseconds interval) {
  itimerspec spec;
  spec.it_value = to_timespec(first);
  spec.it_interval = to_timespec(interval);
  if (::timerfd_settime(fd_.get(), 0, &spec, nullptr) != 0) {
    return system_error("cannot arm a timerfd", errno);
  }
  return {};
}

Result<void> TimerFd::arm_periodic(std::chrono::nanoseconds interval) {
  if (interval.count() <= 0) return Error("timer interval must be positive");
  return arm(interval, interval);
}

Result<void> TimerFd::arm_once(std::chrono::nanoseconds delay) {
  if (delay.count() <= 0) return Error("timer delay must be positive");
  return arm(delay, std::chrono::nanoseconds(0));
}

Result<void> TimerFd::disarm() {
  return arm(std::chrono::nanoseconds(0), std::chrono::nanoseconds(0));
}

std::uint64_t TimerFd::drain() {
  std::uint64_t expirations = 0;
  ssize_t n;
  do {
    n = ::read(fd_.get(), &expirations, sizeof(expirations));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(expirations)) ? expirations : 0;
}

}  // namespace uipsec
