// Conversions between Endpoint (address + port) and the kernel's sockaddr_in / sockaddr_in6,
// including IPv4-mapped IPv6 addresses (::ffff:198.18.0.1, RFC 4291 §2.5.5.2), which a
// dual-stack IPv6 socket uses for IPv4 peers. uipsec keeps IPv4 as plain IPv4 everywhere else.
// Cheap and allocation-free: the send and receive paths call these per datagram.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>

#include "base/ip_address.hpp"
#include "packet/packet_meta.hpp"

namespace uipsec {

// True for ::ffff:a.b.c.d.
bool is_v4_mapped(const IpAddress& address);
// ::ffff:a.b.c.d -> a.b.c.d; any other address unchanged.
IpAddress unmap_v4(const IpAddress& address);
// a.b.c.d -> ::ffff:a.b.c.d; IPv6 unchanged.
IpAddress map_v4(const IpAddress& address);

// Writes `endpoint` as an address for a socket of `socket_family` (AF_INET or AF_INET6; IPv4 on
// an AF_INET6 socket becomes v4-mapped) and returns its length, or 0 when that socket cannot
// reach it (IPv6 on an AF_INET socket, or another family).
socklen_t to_sockaddr(const Endpoint& endpoint, int socket_family, sockaddr_storage& out);

// Reads an AF_INET or AF_INET6 address (v4-mapped becomes IPv4); nullopt for anything else or a
// short length.
std::optional<Endpoint> from_sockaddr(const sockaddr* address, socklen_t length);

}  // namespace uipsec
