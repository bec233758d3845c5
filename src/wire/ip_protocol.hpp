// IP protocol numbers, which IPv6 calls "next header" values (IANA "Assigned Internet Protocol
// Numbers"; RFC 8200 §4 for the IPv6 extension headers).
#pragma once

#include <cstdint>

namespace uipsec::ip_protocol {

inline constexpr std::uint8_t kIpv6HopByHop = 0;
inline constexpr std::uint8_t kIcmp = 1;
inline constexpr std::uint8_t kIpv4 =
    4;  // IPv4 in IP: the next header of a tunnel-mode inner packet
inline constexpr std::uint8_t kTcp = 6;
inline constexpr std::uint8_t kUdp = 17;
inline constexpr std::uint8_t kIpv6 = 41;
inline constexpr std::uint8_t kIpv6Route = 43;
inline constexpr std::uint8_t kIpv6Fragment = 44;
inline constexpr std::uint8_t kEsp = 50;
inline constexpr std::uint8_t kAh = 51;
inline constexpr std::uint8_t kIcmpv6 = 58;
inline constexpr std::uint8_t kNoNextHeader = 59;
inline constexpr std::uint8_t kIpv6DestOpts = 60;
inline constexpr std::uint8_t kSctp = 132;
inline constexpr std::uint8_t kMobilityHeader = 135;
inline constexpr std::uint8_t kUdpLite = 136;

}  // namespace uipsec::ip_protocol
