// What the UDP and raw ESP sockets share: socket options set on the control path (buffers, path
// MTU discovery with the error queue) and, on the packet path, the cmsgs of a send (source
// address, TOS / Traffic Class), the recvmmsg set-up, SO_RXQ_OVFL counting and the mapping of a
// failed send to its counter. Linux ip(7), ipv6(7), socket(7), cmsg(3).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "io/io_counters.hpp"

namespace uipsec {

// Room for the cmsgs of one received datagram or one send. UDP's is the larger: IPV6_PKTINFO,
// IP_PKTINFO, SO_RXQ_OVFL, UDP_GRO and the TOS / Traffic Class when receiving; the source, the
// TOS and UDP_SEGMENT when sending.
constexpr std::size_t kControlBytes = 192;
static_assert(kControlBytes >= CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo)) +
                                   CMSG_SPACE(sizeof(std::uint32_t)) + 3 * CMSG_SPACE(sizeof(int)));

struct alignas(cmsghdr) ControlBuffer {
  std::uint8_t bytes[kControlBytes];
};

// setsockopt of an int; the error says "<doing>: cannot set <what>: <errno text>".
Result<void> set_int_option(int fd, int level, int name, int value, const std::string& doing,
                            const char* what);

// SO_RCVBUF / SO_SNDBUF (`name`): tries the *FORCE option (`force_name`, allowed past the sysctl
// limit with CAP_NET_ADMIN), then the plain one, which the kernel caps but never refuses.
// Returns the size the kernel granted.
int set_socket_buffer(int fd, int force_name, int name, int bytes);

// Path MTU discovery that never refuses a send (IP_PMTUDISC_WANT, not DO: DO fails what exceeds
// the known path MTU with EMSGSIZE, WANT fragments it) and IP_RECVERR / IPV6_RECVERR, so ICMP
// "fragmentation needed" / "packet too big" about what the socket sent lands in its error queue
// (io/socket_errors.hpp). `family` AF_INET or AF_INET6; a dual-stack AF_INET6 socket takes the
// IPv4 options too (IPv4 peers' errors go by them).
Result<void> enable_path_mtu_reports(int fd, int family, bool dual_stack, const std::string& doing);

}  // namespace uipsec
