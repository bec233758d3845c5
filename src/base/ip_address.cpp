#include "base/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace uipsec {

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress a;
  a.v6_ = false;
  store_be32(a.bytes_.data(), host_order);
  return a;
}

Result<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a terminated string; addresses are short, so a stack copy is enough.
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buffer)) {
    return Error("expected an IPv4 or IPv6 address, got '" + std::string(text) + "'");
  }
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress a;
  if (inet_pton(AF_INET, buffer, a.bytes_.data()) == 1) {
    a.v6_ = false;
    return a;
  }
  if (inet_pton(AF_INET6, buffer, a.bytes_.data()) == 1) {
    a.v6_ = true;
    return a;
  }
  return Error("expected an IPv4 or IPv6 address, got '" + std::string(text) + "'");
}

bool IpAddress::is_unspecified() const {
  return std::all_of(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(size()),
                     [](std::uint8_t b) { return b == 0; });
}

std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buffer, sizeof(buffer));
  return buffer;
}

namespace {

// Clears every bit of `bytes` after the first `length` bits.
void clear_host_bits(std::uint8_t* bytes, std::size_t size, unsigned length) {
  for (std::size_t i = 0; i < size; ++i) {
    const unsigned first_bit = static_cast<unsigned>(i) * 8;
    if (first_bit >= length) {
      bytes[i] = 0;
    } else if (first_bit + 8 > length) {
      bytes[i] &= static_cast<std::uint8_t>(0xff << (8 - (length - first_bit)));
    }
  }
}

bool prefix_matches(const std::uint8_t* prefix, const std::uint8_t* address, unsigned length) {
  const unsigned whole = length / 8;
  if (std::memcmp(prefix, address, whole) != 0) return false;
  const unsigned rest = length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (prefix[whole] & mask) == (address[whole] & mask);
}

}  // namespace

IpPrefix::IpPrefix(IpAddress address, std::uint8_t length) : address_(address), length_(length) {
  std::uint8_t bytes[16];
  std::memcpy(bytes, address.data(), address.size());
  clear_host_bits(bytes, address.size(), length);
  address_ = IpAddress::from_bytes(address.family(), bytes);
}

IpPrefix IpPrefix::any(IpFamily family) {
  const std::uint8_t zero[16] = {};
  return IpPrefix(IpAddress::from_bytes(family, zero), 0);
}

IpPrefix IpPrefix::host(const IpAddress& address) {
  return IpPrefix(address, static_cast<std::uint8_t>(address.size() * 8));
}

Result<IpPrefix> IpPrefix::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return address.error();
  if (slash == std::string_view::npos) return host(*address);
  const std::string_view length_text = text.substr(slash + 1);
  unsigned length = 0;
  const auto [end, ec] =
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  const unsigned max_length = static_cast<unsigned>(address->size() * 8);
  if (ec != std::errc() || end != length_text.data() + length_text.size() || length_text.empty() ||
      length > max_length) {
    return Error("expected a prefix length 0.." + std::to_string(max_length) + " after '/', got '" +
                 std::string(length_text) + "'");
  }
  return IpPrefix(*address, static_cast<std::uint8_t>(length));
}

bool IpPrefix::contains(const IpAddress& a) const {
  return a.family() == family() && prefix_matches(address_.data(), a.data(), length_);
}

bool IpPrefix::contains(const IpPrefix& other) const {
  return other.family() == family() && other.length_ >= length_ && contains(other.address_);
}

std::string IpPrefix::to_string() const {
  return address_.to_string() + "/" + std::to_string(length_);
}

}  // namespace uipsec

std::size_t std::hash<uipsec::IpAddress>::operator()(const uipsec::IpAddress& a) const noexcept {
  // FNV-1a over the meaningful bytes; addresses are keys of control-path maps only.
  std::uint64_t h = 1469598103934665603ull ^ static_cast<std::uint64_t>(a.family());
  for (std::uint8_t b : a.bytes()) h = (h ^ b) * 1099511628211ull;
  return static_cast<std::size_t>(h);
}
