// The error-queue parser on hand-built cmsgs (each origin, dual-stack, malformed lengths), and
// the real kernel's error queue: an ICMP port unreachable from the loopback device.
#include "io/socket_errors.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/unique_fd.hpp"
#include "io/socket_address.hpp"
#include "io/udp_socket.hpp"

namespace uipsec {
namespace {

IpAddress addr(const char* text) { return *IpAddress::parse(text); }

std::vector<std::uint8_t> sockaddr_v4(const char* text, std::uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_port = htons(port);
  inet_pton(AF_INET, text, &s.sin_addr);
  const auto* b = reinterpret_cast<const std::uint8_t*>(&s);
  return {b, b + sizeof(s)};
}

std::vector<std::uint8_t> sockaddr_v6(const char* text, std::uint16_t port) {
  sockaddr_in6 s{};
  s.sin6_family = AF_INET6;
  s.sin6_port = htons(port);
  inet_pton(AF_INET6, text, &s.sin6_addr);
  const auto* b = reinterpret_cast<const std::uint8_t*>(&s);
  return {b, b + sizeof(s)};
}

// One cmsg (level, type) carrying a sock_extended_err and an offender address, after an
// unrelated cmsg first, laid out as the kernel does.
std::vector<std::uint8_t> control(int level, int type, std::uint8_t origin, int error,
                                  std::uint8_t icmp_type, std::uint8_t icmp_code,
                                  std::uint32_t info, const std::vector<std::uint8_t>& offender) {
  std::vector<std::uint8_t> out(CMSG_SPACE(sizeof(int)), 0);
  cmsghdr first{};
  first.cmsg_len = CMSG_LEN(sizeof(int));
  first.cmsg_level = SOL_SOCKET;
  first.cmsg_type = SO_RXQ_OVFL;
  std::memcpy(out.data(), &first, sizeof(first));
  sock_extended_err ee{};
  ee.ee_errno = static_cast<std::uint32_t>(error);
  ee.ee_origin = origin;
  ee.ee_type = icmp_type;
  ee.ee_code = icmp_code;
  ee.ee_info = info;
  const std::size_t data = sizeof(ee) + offender.size();
  std::vector<std::uint8_t> second(CMSG_SPACE(data), 0);
  cmsghdr h{};
  h.cmsg_len = CMSG_LEN(data);
  h.cmsg_level = level;
  h.cmsg_type = type;
  std::memcpy(second.data(), &h, sizeof(h));
  std::memcpy(second.data() + CMSG_LEN(0), &ee, sizeof(ee));
  if (!offender.empty()) {
    std::memcpy(second.data() + CMSG_LEN(0) + sizeof(ee), offender.data(), offender.size());
  }
  out.insert(out.end(), second.begin(), second.end());
  return out;
}

ByteSpan span(const std::vector<std::uint8_t>& v) { return ByteSpan(v.data(), v.size()); }

// Parses an error-queue message that must parse (a default SocketError, and a failed test,
// when it does not).
SocketError parsed(const std::vector<std::uint8_t>& name, const std::vector<std::uint8_t>& c) {
  const auto e = parse_socket_error(span(name), span(c));
  EXPECT_TRUE(e.has_value());
  return e.value_or(SocketError{});
}

// A UDP port on the loopback address of `family` that nobody listens on (bound, then closed:
// nobody else takes it this quickly). A datagram to it comes back as ICMP port unreachable.
Endpoint closed_loopback_port(bool v4) {
  UniqueFd closed(::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(closed.valid());
  const Endpoint loopback{*IpAddress::parse(v4 ? "127.0.0.1" : "::1"), 0};
  sockaddr_storage where{};
  socklen_t length = to_sockaddr(loopback, v4 ? AF_INET : AF_INET6, where);
  EXPECT_EQ(::bind(closed.get(), reinterpret_cast<sockaddr*>(&where), length), 0);
  EXPECT_EQ(::getsockname(closed.get(), reinterpret_cast<sockaddr*>(&where), &length), 0);
  const auto bound = from_sockaddr(reinterpret_cast<const sockaddr*>(&where), length);
  return bound ? *bound : loopback;
}

TEST(SocketErrors, Ipv4FragmentationNeededIsAPathMtuReport) {
  const auto name = sockaddr_v4("198.18.0.2", 4500);
  const auto c = control(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, EMSGSIZE, 3, 4, 1380,
                         sockaddr_v4("198.18.1.1", 0));
  const SocketError e = parsed(name, c);
  EXPECT_EQ(e.origin, SocketError::Origin::kIcmp);
  EXPECT_EQ(e.error, EMSGSIZE);
  EXPECT_EQ(e.destination, addr("198.18.0.2"));
  EXPECT_EQ(e.offender, addr("198.18.1.1"));
  EXPECT_EQ(path_mtu_report(e), (PathMtuReport{addr("198.18.0.2"), 1380}));
}

TEST(SocketErrors, RawEspSocketsErrorsNameTheDestinationWithPortZero) {
  // What Linux queues on a SOCK_RAW IPPROTO_ESP socket (raw_err / rawv6_err): msg_name is the
  // ESP packet's outer destination with port 0 (raw sockets have none), the payload its ESP
  // header; the extended error as for UDP.
  for (const bool v4 : {true, false}) {
    const auto name = v4 ? sockaddr_v4("198.18.0.2", 0) : sockaddr_v6("2001:db8:0:1::2", 0);
    const auto c = v4 ? control(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, EMSGSIZE, 3, 4, 1300,
                                sockaddr_v4("198.18.2.1", 0))
                      : control(SOL_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_ICMP6, EMSGSIZE, 2, 0, 1280,
                                sockaddr_v6("2001:db8:2::1", 0));
    const SocketError e = parsed(name, c);
    const IpAddress destination = addr(v4 ? "198.18.0.2" : "2001:db8:0:1::2");
    EXPECT_EQ(e.destination, destination);
    EXPECT_EQ(e.offender, addr(v4 ? "198.18.2.1" : "2001:db8:2::1"));
    EXPECT_EQ(path_mtu_report(e), (PathMtuReport{destination, v4 ? 1300u : 1280u}));
  }
}

TEST(SocketErrors, DualStackSocketReportsIpv4AsPlainIpv4) {
  // An AF_INET6 socket gets IPv4 errors under IPV6_RECVERR with v4-mapped addresses.
  const auto name = sockaddr_v6("::ffff:198.18.0.2", 4500);
  const auto c = control(SOL_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_ICMP, EMSGSIZE, 3, 4, 1400,
                         sockaddr_v6("::ffff:198.18.1.1", 0));
  const SocketError e = parsed(name, c);
  EXPECT_EQ(e.destination, addr("198.18.0.2"));
  EXPECT_EQ(e.offender, addr("198.18.1.1"));
  EXPECT_EQ(path_mtu_report(e), (PathMtuReport{addr("198.18.0.2"), 1400}));
}

TEST(SocketErrors, Icmpv6PacketTooBigAndLocalEmsgsize) {
  const auto name = sockaddr_v6("2001:db8::2", 4500);
  const auto c = control(SOL_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_ICMP6, EMSGSIZE, 2, 0, 1350,
                         sockaddr_v6("2001:db8:1::1", 0));
  const SocketError e = parsed(name, c);
  EXPECT_EQ(e.origin, SocketError::Origin::kIcmp6);
  EXPECT_EQ(path_mtu_report(e), (PathMtuReport{addr("2001:db8::2"), 1350}));
  // A local error has no offender (AF_UNSPEC).
  std::vector<std::uint8_t> unspec(sizeof(sockaddr_in6), 0);
  const auto local =
      control(SOL_IPV6, IPV6_RECVERR, SO_EE_ORIGIN_LOCAL, EMSGSIZE, 0, 0, 1500, unspec);
  const SocketError l = parsed(name, local);
  EXPECT_EQ(l.origin, SocketError::Origin::kLocal);
  EXPECT_FALSE(l.offender.has_value());
  EXPECT_EQ(path_mtu_report(l), (PathMtuReport{addr("2001:db8::2"), 1500}));
}

TEST(SocketErrors, OtherErrorsAreNoPathMtuReports) {
  const auto name = sockaddr_v4("198.18.0.2", 4500);
  const auto unreachable = control(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, ECONNREFUSED, 3, 3, 0,
                                   sockaddr_v4("198.18.0.2", 0));
  const SocketError e = parsed(name, unreachable);
  EXPECT_FALSE(path_mtu_report(e));
  // Fragmentation needed with no MTU (pre-RFC 1191 router): nothing to learn.
  const auto zero = control(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, EMSGSIZE, 3, 4, 0, {});
  const SocketError z = parsed(name, zero);
  EXPECT_FALSE(path_mtu_report(z));
  // Without a destination there is nobody to learn it for.
  const auto c = control(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, EMSGSIZE, 3, 4, 1380, {});
  EXPECT_FALSE(path_mtu_report(parsed({}, c)));
}

TEST(SocketErrors, MalformedControlIsRefusedNotOverread) {
  const auto name = sockaddr_v4("198.18.0.2", 4500);
  const auto good = control(SOL_IP, IP_RECVERR, SO_EE_ORIGIN_ICMP, EMSGSIZE, 3, 4, 1380, {});
  // Every truncation of the buffer either finds no error or a whole one.
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::vector<std::uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    const auto e = parse_socket_error(span(name), span(cut));
    if (e) {
      EXPECT_EQ(e->info, 1380u);
    }
  }
  // A length beyond the buffer, and one shorter than a header.
  std::vector<std::uint8_t> bad = good;
  cmsghdr h;
  std::memcpy(&h, bad.data(), sizeof(h));
  h.cmsg_len = bad.size() + 1;
  std::memcpy(bad.data(), &h, sizeof(h));
  EXPECT_FALSE(parse_socket_error(span(name), span(bad)));
  h.cmsg_len = 3;
  std::memcpy(bad.data(), &h, sizeof(h));
  EXPECT_FALSE(parse_socket_error(span(name), span(bad)));
  // No RECVERR cmsg at all.
  EXPECT_FALSE(parse_socket_error(span(name), {}));
}

TEST(SocketErrors, ReadsTheKernelsErrorQueue) {
  // A datagram to a closed port on the loopback device comes back as ICMP port unreachable in
  // the error queue of a socket with IP_RECVERR.
  sockaddr_storage where{};
  const socklen_t length = to_sockaddr(closed_loopback_port(true), AF_INET, where);

  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  const int on = 1;
  ASSERT_EQ(::setsockopt(fd.get(), SOL_IP, IP_RECVERR, &on, sizeof(on)), 0);
  std::array<SocketError, 4> out;
  EXPECT_EQ(read_socket_errors(fd.get(), out).read, 0u);  // empty: would block
  const char byte = 1;
  ASSERT_EQ(::sendto(fd.get(), &byte, 1, 0, reinterpret_cast<sockaddr*>(&where), length), 1);
  pollfd p{fd.get(), 0, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  EXPECT_NE(p.revents & POLLERR, 0);
  const ErrorQueueRead r = read_socket_errors(fd.get(), out);
  ASSERT_EQ(r.read, 1u);
  ASSERT_EQ(r.parsed, 1u);
  EXPECT_EQ(out[0].origin, SocketError::Origin::kIcmp);
  EXPECT_EQ(out[0].error, ECONNREFUSED);
  EXPECT_EQ(out[0].type, 3);
  EXPECT_EQ(out[0].code, 3);
  EXPECT_EQ(out[0].destination, addr("127.0.0.1"));
  EXPECT_EQ(out[0].offender, addr("127.0.0.1"));
  EXPECT_FALSE(path_mtu_report(out[0]));
  // Drained: no more EPOLLERR.
  p.revents = 0;
  EXPECT_EQ(::poll(&p, 1, 0), 0);
}

TEST(SocketErrors, UdpSocketWithPathMtuDiscoveryQueuesErrors) {
  for (const char* local : {"127.0.0.1", "::1"}) {
    UdpSocketOptions options;
    options.address = addr(local);
    options.port = 0;
    options.path_mtu = true;
    auto socket = UdpSocket::open(options);
    ASSERT_TRUE(socket.ok()) << socket.error().message();
    const int fd = (*socket)->fd();
    const bool v4 = addr(local).is_v4();
    int value = -1;
    socklen_t length = sizeof(value);
    ASSERT_EQ(::getsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER,
                           &value, &length),
              0);
    EXPECT_EQ(value, v4 ? IP_PMTUDISC_WANT : IPV6_PMTUDISC_WANT);  // fragments, never refuses
    // A datagram to a closed port comes back as an error in the queue, naming the destination.
    const std::uint8_t byte = 1;
    ASSERT_TRUE((*socket)->send_to({}, closed_loopback_port(v4), ByteSpan(&byte, 1)).ok());
    pollfd p{fd, 0, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    std::array<SocketError, 4> out;
    const ErrorQueueRead r = read_socket_errors(fd, out);
    ASSERT_EQ(r.parsed, 1u) << local;
    EXPECT_EQ(out[0].origin, v4 ? SocketError::Origin::kIcmp : SocketError::Origin::kIcmp6);
    EXPECT_EQ(out[0].destination, addr(local));
    EXPECT_FALSE(path_mtu_report(out[0]));
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "drained: EPOLLERR is over";
  }
}

}  // namespace
}  // namespace uipsec
