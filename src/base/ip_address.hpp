// IpAddress and IpPrefix: IPv4 or IPv6 addresses as plain values (network byte order inside),
// cheap to copy, compare and hash, for SAs, selectors and endpoints.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace uipsec {

enum class IpFamily : std::uint8_t { kV4 = 4, kV6 = 6 };

class IpAddress {
 public:
  // The IPv4 address 0.0.0.0.
  constexpr IpAddress() = default;

  static IpAddress v4(std::uint32_t host_order);
  // Precondition: `bytes` holds 4 bytes (IPv4) or 16 bytes (IPv6) in network order.
  static IpAddress from_bytes(IpFamily family, const std::uint8_t* bytes) {
    IpAddress a;
    a.assign(family, bytes);
    return a;
  }
  // from_bytes into this address, in place: what the packet parsers use, so that no half-written
  // temporary is copied right after its narrow stores (a store-forwarding stall per copy).
  void assign(IpFamily family, const std::uint8_t* bytes) {
    v6_ = family == IpFamily::kV6;
    bytes_ = {};
    std::memcpy(bytes_.data(), bytes, family == IpFamily::kV4 ? 4 : 16);
  }
  // Parses "198.18.0.1" or "2001:db8::1".
  static Result<IpAddress> parse(std::string_view text);

  IpFamily family() const { return v6_ ? IpFamily::kV6 : IpFamily::kV4; }
  bool is_v4() const { return !v6_; }
  bool is_v6() const { return v6_; }
  // 4 or 16.
  std::size_t size() const { return is_v4() ? 4 : 16; }
  // Network-order bytes; size() of them are meaningful, the rest are zero.
  const std::uint8_t* data() const { return bytes_.data(); }
  ByteSpan bytes() const { return ByteSpan(bytes_.data(), size()); }
  // Precondition: is_v4().
  std::uint32_t v4_host_order() const { return load_be32(bytes_.data()); }
  bool is_unspecified() const;

  std::string to_string() const;

  // IPv4 before IPv6, then by bytes.
  friend std::strong_ordering operator<=>(const IpAddress& a, const IpAddress& b) {
    if (const auto c = a.v6_ <=> b.v6_; c != 0) return c;
    return a.bytes_ <=> b.bytes_;
  }
  // Two 8-byte words and the family, inline: the defaulted form called memcmp for the array,
  // ~1.5 % of a tunnel's CPU in the packet paths' endpoint and selector comparisons.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    std::uint64_t a_words[2];
    std::uint64_t b_words[2];
    std::memcpy(a_words, a.bytes_.data(), sizeof(a_words));
    std::memcpy(b_words, b.bytes_.data(), sizeof(b_words));
    return ((a_words[0] ^ b_words[0]) | (a_words[1] ^ b_words[1])) == 0 && a.v6_ == b.v6_;
  }

 private:
  // The default address, 0.0.0.0, is all zero bytes (the family too): headers and metadata that
  // hold addresses are reset with plain zero stores, and copying one right after its reset does
  // not stall on a narrow store in the middle of a vector load.
  std::array<std::uint8_t, 16> bytes_{};
  bool v6_ = false;
};

// An address with a prefix length: "198.18.0.0/15", "2001:db8::/32".
class IpPrefix {
 public:
  IpPrefix() = default;
  // Host bits of `address` beyond `length` are cleared. Precondition: length <= 32 or 128.
  IpPrefix(IpAddress address, std::uint8_t length);
  // A whole-family wildcard: 0.0.0.0/0 or ::/0.
  static IpPrefix any(IpFamily family);
  // A single host: /32 or /128.
  static IpPrefix host(const IpAddress& address);
  // "198.18.0.0/15"; a bare address means a single host.
  static Result<IpPrefix> parse(std::string_view text);

  const IpAddress& address() const { return address_; }
  std::uint8_t length() const { return length_; }
  IpFamily family() const { return address_.family(); }
  bool contains(const IpAddress& a) const;
  // True when every address in `other` is in this prefix.
  bool contains(const IpPrefix& other) const;
  std::string to_string() const;

  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;

 private:
  IpAddress address_;
  std::uint8_t length_ = 0;
};

}  // namespace uipsec

template <>
struct std::hash<uipsec::IpAddress> {
  std::size_t operator()(const uipsec::IpAddress& a) const noexcept;
};
