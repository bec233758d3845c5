#include "io/socket_address.hpp"

#include <cstring>

namespace uipsec {

namespace {
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

bool is_v4_mapped(const IpAddress& address) {
  return address.is_v6() && std::memcmp(address.data(), kMappedPrefix, 12) == 0;
}

IpAddress unmap_v4(const IpAddress& address) {
  if (!is_v4_mapped(address)) return address;
  return IpAddress::from_bytes(IpFamily::kV4, address.data() + 12);
}

IpAddress map_v4(const IpAddress& address) {
  if (!address.is_v4()) return address;
  std::uint8_t bytes[16];
  std::memcpy(bytes, kMappedPrefix, 12);
  std::memcpy(bytes + 12, address.data(), 4);
  return IpAddress::from_bytes(IpFamily::kV6, bytes);
}

socklen_t to_sockaddr(const Endpoint& endpoint, int socket_family, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(sockaddr_in6));
  if (socket_family == AF_INET) {
    if (!endpoint.address.is_v4()) return 0;
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(endpoint.port);
    std::memcpy(&sin->sin_addr, endpoint.address.data(), 4);
    return sizeof(sockaddr_in);
  }
  if (socket_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(endpoint.port);
    if (endpoint.address.is_v4()) {
      std::memcpy(&sin6->sin6_addr, kMappedPrefix, 12);
      std::memcpy(reinterpret_cast<std::uint8_t*>(&sin6->sin6_addr) + 12, endpoint.address.data(),
                  4);
    } else {
      std::memcpy(&sin6->sin6_addr, endpoint.address.data(), 16);
    }
    return sizeof(sockaddr_in6);
  }
  return 0;
}

std::optional<Endpoint> from_sockaddr(const sockaddr* address, socklen_t length) {
  if (address == nullptr || length < static_cast<socklen_t>(sizeof(sa_family_t))) {
    return std::nullopt;
  }
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in sin;
    std::memcpy(&sin, address, sizeof(sin));
    return Endpoint{
        IpAddress::from_bytes(IpFamily::kV4, reinterpret_cast<const std::uint8_t*>(&sin.sin_addr)),
        ntohs(sin.sin_port)};
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, address, sizeof(sin6));
    const IpAddress a = IpAddress::from_bytes(
        IpFamily::kV6, reinterpret_cast<const std::uint8_t*>(&sin6.sin6_addr));
    return Endpoint{unmap_v4(a), ntohs(sin6.sin6_port)};
  }
  return std::nullopt;
}

}  // namespace uipsec
