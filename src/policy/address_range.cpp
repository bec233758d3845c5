#include "policy/address_range.hpp"

#include <cstring>

namespace uipsec {

namespace {

// The last address of `prefix`: its host bits set.
IpAddress last_of(const IpPrefix& prefix) {
  std::uint8_t bytes[16] = {};
  const IpAddress& a = prefix.address();
  std::memcpy(bytes, a.data(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::size_t first_bit = i * 8;
    if (first_bit >= prefix.length()) {
      bytes[i] = 0xff;
    } else if (first_bit + 8 > prefix.length()) {
      bytes[i] |= static_cast<std::uint8_t>(0xff >> (prefix.length() - first_bit));
    }
  }
  return IpAddress::from_bytes(a.family(), bytes);
}

// Number of leading bits `a` and `b` share (both of one family).
unsigned common_bits(const IpAddress& a, const IpAddress& b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned>(a.data()[i] ^ b.data()[i]);
    if (x != 0) return static_cast<unsigned>(i * 8) + static_cast<unsigned>(__builtin_clz(x)) - 24;
  }
  return static_cast<unsigned>(a.size() * 8);
}

}  // namespace

AddressRange AddressRange::of(const IpPrefix& prefix) {
  return AddressRange{prefix.address(), last_of(prefix)};
}

Result<AddressRange> AddressRange::parse(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    return Error("expected an address range FIRST-LAST, got '" + std::string(text) + "'");
  }
  auto first = IpAddress::parse(text.substr(0, dash));
  if (!first) return first.error();
  auto last = IpAddress::parse(text.substr(dash + 1));
  if (!last) return last.error();
  AddressRange range{*first, *last};
  UIPSEC_TRY(range.validate());
  return range;
}

IpPrefix AddressRange::covering_prefix() const {
  return IpPrefix(first, static_cast<std::uint8_t>(common_bits(first, last)));
}

std::optional<IpPrefix> AddressRange::as_prefix() const {
  const IpPrefix covering = covering_prefix();
  if (covering.address() == first && last_of(covering) == last) return covering;
  return std::nullopt;
}

Result<void> AddressRange::validate() const {
  if (first.family() != last.family()) {
    return Error("address range " + to_string() + " mixes IPv4 and IPv6");
  }
  if (last < first) return Error("address range " + to_string() + " is empty (first > last)");
  return {};
}

std::string AddressRange::to_string() const { return first.to_string() + "-" + last.to_string(); }

}  // namespace uipsec
