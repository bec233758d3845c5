// Error-queue reading and parsing (see socket_errors.hpp). The cmsgs are walked by hand rather
// than with CMSG_NXTHDR so that the parser needs no msghdr and never trusts a length field.
#include "io/socket_errors.hpp"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "io/socket_address.hpp"

namespace uipsec {

namespace {

// The cmsg header size and alignment of this ABI (CMSG_ALIGN(sizeof(cmsghdr))).
constexpr std::size_t kCmsgHeader = CMSG_LEN(0);
constexpr std::size_t cmsg_align(std::size_t n) {
  return (n + sizeof(std::size_t) - 1) & ~(sizeof(std::size_t) - 1);
}

std::optional<IpAddress> address_of(const std::uint8_t* bytes, std::size_t length) {
  if (length == 0) return std::nullopt;
  // Copy into aligned storage: the bytes may sit anywhere.
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof(storage));
  std::memcpy(&storage, bytes, std::min(length, sizeof(storage)));
  const auto endpoint = from_sockaddr(reinterpret_cast<const sockaddr*>(&storage),
                                      static_cast<socklen_t>(std::min(length, sizeof(storage))));
  if (!endpoint) return std::nullopt;
  return unmap_v4(endpoint->address);
}

SocketError::Origin origin_of(std::uint8_t origin) {
  switch (origin) {
    case SO_EE_ORIGIN_NONE:
      return SocketError::Origin::kNone;
    case SO_EE_ORIGIN_LOCAL:
      return SocketError::Origin::kLocal;
    case SO_EE_ORIGIN_ICMP:
      return SocketError::Origin::kIcmp;
    case SO_EE_ORIGIN_ICMP6:
      return SocketError::Origin::kIcmp6;
    default:
      return SocketError::Origin::kOther;
  }
}

}  // namespace

std::optional<SocketError> parse_socket_error(ByteSpan name, ByteSpan control) {
  std::size_t offset = 0;
  while (control.size() - offset >= kCmsgHeader) {
    cmsghdr header;
    std::memcpy(&header, control.data() + offset, sizeof(header));
    const std::size_t length = header.cmsg_len;
    if (length < kCmsgHeader || length > control.size() - offset) return std::nullopt;
    const bool recverr = (header.cmsg_level == SOL_IP && header.cmsg_type == IP_RECVERR) ||
                         (header.cmsg_level == SOL_IPV6 && header.cmsg_type == IPV6_RECVERR);
    if (recverr) {
      const std::uint8_t* data = control.data() + offset + kCmsgHeader;
      const std::size_t data_length = length - kCmsgHeader;
      if (data_length < sizeof(sock_extended_err)) return std::nullopt;
      sock_extended_err ee;
      std::memcpy(&ee, data, sizeof(ee));
      SocketError out;
      out.origin = origin_of(ee.ee_origin);
      out.error = static_cast<int>(ee.ee_errno);
      out.type = ee.ee_type;
      out.code = ee.ee_code;
      out.info = ee.ee_info;
      // SO_EE_OFFENDER: a sockaddr right behind the structure (AF_UNSPEC when unknown).
      out.offender = address_of(data + sizeof(ee), data_length - sizeof(ee));
      out.destination = address_of(name.data(), name.size());
      return out;
    }
    const std::size_t step = cmsg_align(length);
    if (step > control.size() - offset) break;
    offset += step;
  }
  return std::nullopt;
}

std::optional<PathMtuReport> path_mtu_report(const SocketError& e) {
  if (!e.destination) return std::nullopt;
  bool too_big = false;
  switch (e.origin) {
    case SocketError::Origin::kIcmp:
      too_big = e.type == 3 && e.code == 4;  // destination unreachable, fragmentation needed
      break;
    case SocketError::Origin::kIcmp6:
      too_big = e.type == 2;  // packet too big
      break;
    case SocketError::Origin::kLocal:
      too_big = e.error == EMSGSIZE;  // larger than the local path MTU (ee_info)
      break;
    default:
      break;
  }
  if (!too_big || e.info == 0) return std::nullopt;
  return PathMtuReport{*e.destination, e.info};
}

ErrorQueueRead read_socket_errors(int fd, std::span<SocketError> out) {
  ErrorQueueRead result;
  // The payload (the start of the datagram that failed) is not needed: MSG_TRUNC is fine.
  std::uint8_t payload[64];
  alignas(cmsghdr) std::uint8_t control[512];
  while (result.parsed < out.size()) {
    sockaddr_storage name;
    iovec iov{payload, sizeof(payload)};
    msghdr h;
    std::memset(&h, 0, sizeof(h));
    h.msg_name = &name;
    h.msg_namelen = sizeof(name);
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof(control);
    ssize_t n;
    do {
      n = ::recvmsg(fd, &h, MSG_ERRQUEUE | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) break;  // EAGAIN: empty
    ++result.read;
    const auto error =
        parse_socket_error(ByteSpan(reinterpret_cast<const std::uint8_t*>(&name), h.msg_namelen),
                           ByteSpan(control, h.msg_controllen));
    if (error) out[result.parsed++] = *error;
  }
  return result;
}

}  // namespace uipsec
