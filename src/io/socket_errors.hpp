// Socket error queue (IP_RECVERR / IPV6_RECVERR, Linux ip(7), ipv6(7)): what the kernel reports
// about datagrams a socket sent — ICMP errors that came back for them (with the offending
// router's address) and local errors — read with MSG_ERRQUEUE while the socket polls EPOLLERR.
// The path MTU reports among them (ICMP "fragmentation needed" RFC 1191, ICMPv6 "packet too
// big" RFC 4443 §3.2, a local EMSGSIZE) feed the data plane's PathMtuTable.
//
// parse_socket_error reads bytes the kernel wrote, but about packets others sent to us (the ICMP
// message), so it is written as a parser of untrusted bytes: bounds-checked, fuzzed
// (socket_errors_fuzz.cpp). Usable by any datagram socket (UDP, raw ESP).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/bytes.hpp"
#include "base/ip_address.hpp"

namespace uipsec {

// One message of the error queue: the sock_extended_err and the addresses around it.
struct SocketError {
  enum class Origin : std::uint8_t { kNone, kLocal, kIcmp, kIcmp6, kOther };
  Origin origin = Origin::kNone;
  int error = 0;          // ee_errno (EMSGSIZE, EHOSTUNREACH, ECONNREFUSED...)
  std::uint8_t type = 0;  // ICMP type / code (ICMP origins)
  std::uint8_t code = 0;
  std::uint32_t info = 0;  // ee_info: the MTU for "too big" reports
  // The destination of the datagram the error is about (msg_name; v4-mapped made IPv4).
  std::optional<IpAddress> destination;
  // Who sent the ICMP error (SO_EE_OFFENDER); nullopt when the kernel does not know (local).
  std::optional<IpAddress> offender;
  friend bool operator==(const SocketError&, const SocketError&) = default;
};

// Parses one error-queue message: `name` is the msg_name the kernel filled in (msg_namelen
// bytes), `control` the cmsgs (msg_controllen bytes). Takes the first IP_RECVERR or
// IPV6_RECVERR cmsg. nullopt when there is none or it is short.
std::optional<SocketError> parse_socket_error(ByteSpan name, ByteSpan control);

// "Destination X has path MTU M": from an ICMP type 3 code 4, an ICMPv6 type 2, or a local
// EMSGSIZE, with a destination. nullopt for every other error.
struct PathMtuReport {
  IpAddress destination;
  std::uint32_t mtu = 0;
  friend bool operator==(const PathMtuReport&, const PathMtuReport&) = default;
};
std::optional<PathMtuReport> path_mtu_report(const SocketError& error);

// Reads the error queue of socket `fd` without blocking until it is empty or `out` is full.
// Each message that parses goes into `out`; `read` counts every message taken off the queue.
// Draining the queue also clears the socket's pending error, so a level-triggered EPOLLERR
// stops. No allocation. Any thread that may read the socket.
struct ErrorQueueRead {
  std::size_t read = 0;    // messages taken off the queue
  std::size_t parsed = 0;  // of them, put into out[0..parsed)
};
ErrorQueueRead read_socket_errors(int fd, std::span<SocketError> out);

}  // namespace uipsec
