// Time as the packet path and the control path see it: a monotonic timestamp that callers pass
// in, so that every lifetime and rate limit can be tested without sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace uipsec {

// Nanoseconds on a monotonic clock (CLOCK_MONOTONIC in production, any origin in tests).
class Timestamp {
 public:
  constexpr Timestamp() = default;
  static constexpr Timestamp from_nanoseconds(std::int64_t ns) { return Timestamp(ns); }
  static constexpr Timestamp from_seconds(std::int64_t s) { return Timestamp(s * 1'000'000'000); }
  constexpr std::int64_t nanoseconds() const { return ns_; }
  constexpr std::int64_t seconds() const { return ns_ / 1'000'000'000; }
  constexpr Timestamp plus_seconds(std::int64_t s) const {
    return Timestamp(ns_ + s * 1'000'000'000);
  }
  friend constexpr auto operator<=>(Timestamp, Timestamp) = default;

 private:
  constexpr explicit Timestamp(std::int64_t ns) : ns_(ns) {}
  std::int64_t ns_ = 0;
};

// Source of `now` for code that asks for the time itself (daemons). Cores take a Timestamp
// argument instead.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class MonotonicClock final : public Clock {
 public:
  Timestamp now() const override {
    auto since = std::chrono::steady_clock::now().time_since_epoch();
    return Timestamp::from_nanoseconds(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since).count());
  }
};

// A clock that moves only when a test moves it.
class FakeClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  void set(Timestamp t) { now_ = t; }
  void advance_seconds(std::int64_t s) { now_ = now_.plus_seconds(s); }

 private:
  Timestamp now_ = Timestamp::from_seconds(1000);
};

}  // namespace uipsec
