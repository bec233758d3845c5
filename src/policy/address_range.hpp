// AddressRange: an inclusive range of IPv4 or IPv6 addresses, the other form RFC 4301 §4.4.1.1
// allows for a selector's source and destination besides a prefix ("198.18.0.1-198.18.0.9").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/ip_address.hpp"
#include "base/result.hpp"

namespace uipsec {

struct AddressRange {
  IpAddress first;
  IpAddress last;

  // Every address of `prefix`.
  static AddressRange of(const IpPrefix& prefix);
  // "198.18.0.1-198.18.0.9" or "2001:db8::1-2001:db8::9": both ends of one family, first <= last.
  static Result<AddressRange> parse(std::string_view text);

  IpFamily family() const { return first.family(); }
  // Precondition for the rest: validate() succeeds.
  bool contains(const IpAddress& a) const {
    return a.family() == family() && first <= a && a <= last;
  }
  // The longest prefix that contains the whole range.
  IpPrefix covering_prefix() const;
  // The prefix when the range is exactly one, else nothing.
  std::optional<IpPrefix> as_prefix() const;
  // Both ends of one family, first <= last.
  Result<void> validate() const;
  // "198.18.0.1-198.18.0.9"
  std::string to_string() const;

  friend bool operator==(const AddressRange&, const AddressRange&) = default;
};

}  // namespace uipsec
