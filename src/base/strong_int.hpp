// StrongInt<Tag, T>: an integer that does not silently mix with other integers, for values that
// are easy to swap by mistake (an SPI for a reqid, a sequence number for a length).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace uipsec {

template <class Tag, class T>
class StrongInt {
 public:
  using value_type = T;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(T value) : value_(value) {}
  constexpr T value() const { return value_; }
  friend constexpr auto operator<=>(StrongInt, StrongInt) = default;

 private:
  T value_{};
};

// Security Parameter Index (RFC 4303 §2.1), host order. 0..255 are reserved.
using Spi = StrongInt<struct SpiTag, std::uint32_t>;
// Ties SAs to the policies that use them (strongSwan's and Linux's reqid).
using Reqid = StrongInt<struct ReqidTag, std::uint32_t>;
// Identifies a policy inside one PolicyDatabase.
using PolicyIndex = StrongInt<struct PolicyIndexTag, std::uint32_t>;

}  // namespace uipsec

template <class Tag, class T>
struct std::hash<uipsec::StrongInt<Tag, T>> {
  std::size_t operator()(uipsec::StrongInt<Tag, T> v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
