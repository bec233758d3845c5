#include "io/raw_esp_socket.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/unique_fd.hpp"
#include "io/netns_test_support.hpp"
#include "io/socket_address.hpp"
#include "io/socket_errors.hpp"
#include "io/socket_test_support.hpp"
#include "wire/inet_checksum.hpp"

namespace uipsec {
namespace {

using test::bytes_of;
using test::ip;
using test::receive;
using test::release;

void configure_loopback() { test::add_loopback_addresses(2); }

std::unique_ptr<RawEspSocket> open_socket(IpFamily family,
                                          std::optional<std::uint32_t> mark = std::nullopt) {
  RawEspSocketOptions options;
  options.family = family;
  options.buffer_bytes = 1 << 20;
  options.mark = mark;
  auto s = RawEspSocket::open(options);
  EXPECT_TRUE(s.ok()) << s.error().message();
  return s.ok() ? std::move(*s) : nullptr;
}

// An ESP-shaped payload: SPI `spi`, then `size - 4` bytes counting up.
std::vector<std::uint8_t> esp_bytes(std::uint32_t spi, std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i);
  bytes[0] = static_cast<std::uint8_t>(spi >> 24);
  bytes[1] = static_cast<std::uint8_t>(spi >> 16);
  bytes[2] = static_cast<std::uint8_t>(spi >> 8);
  bytes[3] = static_cast<std::uint8_t>(spi);
  return bytes;
}

std::size_t send(RawEspSocket& s, PacketPool& pool, const IpAddress& from, const IpAddress& to,
                 const std::vector<std::vector<std::uint8_t>>& payloads, std::uint8_t tos = 0) {
  PacketMeta meta;
  meta.local = {from, 0};
  meta.remote = {to, 0};
  meta.tos = tos;
  meta.encapsulation = Encapsulation::kNone;
  return test::send_payloads(s, pool, payloads, meta);
}

// Sends a hand-made IPv4 packet (header included, checksum and total length filled in by the
// kernel) through an IPPROTO_RAW socket.
void send_hand_made_ipv4(const std::vector<std::uint8_t>& packet, const IpAddress& to) {
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  std::memcpy(&address.sin_addr, to.data(), 4);
  const ssize_t n = ::sendto(fd, packet.data(), packet.size(), 0,
                             reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  EXPECT_EQ(n, static_cast<ssize_t>(packet.size())) << std::strerror(errno);
  ::close(fd);
}

// An IPv4 header for ESP from 198.18.1.1 to 198.18.1.2 with `options` (a multiple of 4 bytes).
std::vector<std::uint8_t> ipv4_header(std::size_t payload_size, std::uint8_t tos,
                                      const std::vector<std::uint8_t>& options = {},
                                      std::uint16_t fragment_field = 0x4000, std::uint16_t id = 1) {
  const std::size_t header_size = 20 + options.size();
  const std::size_t total = header_size + payload_size;
  std::vector<std::uint8_t> h = {static_cast<std::uint8_t>(0x40 | (header_size / 4)),
                                 tos,
                                 static_cast<std::uint8_t>(total >> 8),
                                 static_cast<std::uint8_t>(total),
                                 static_cast<std::uint8_t>(id >> 8),
                                 static_cast<std::uint8_t>(id),
                                 static_cast<std::uint8_t>(fragment_field >> 8),
                                 static_cast<std::uint8_t>(fragment_field),
                                 64,
                                 50,
                                 0,
                                 0,
                                 198,
                                 18,
                                 1,
                                 1,
                                 198,
                                 18,
                                 1,
                                 2};
  // Grown by resize + copy: GCC 12 at -O3 warns (array-bounds, an error here) about the
  // inlined memcpy of insert() from an empty options vector.
  h.resize(header_size);
  std::copy(options.begin(), options.end(), h.begin() + 20);
  const std::uint16_t checksum = inet_checksum(ByteSpan(h.data(), h.size()));
  h[10] = static_cast<std::uint8_t>(checksum >> 8);
  h[11] = static_cast<std::uint8_t>(checksum);
  return h;
}

TEST(RawIpv4Payload, StripsTheHeaderWithItsOptions) {
  const auto esp = esp_bytes(0x1234, 40);
  auto packet = ipv4_header(esp.size(), 0x29, {1, 1, 1, 0});  // NOP NOP NOP EOL
  packet.insert(packet.end(), esp.begin(), esp.end());
  packet.push_back(0xee);  // link padding beyond Total Length
  const auto payload = raw_ipv4_payload(ByteSpan(packet.data(), packet.size()));
  ASSERT_TRUE(payload);
  EXPECT_EQ(payload->offset, 24u);
  EXPECT_EQ(payload->length, esp.size());
  EXPECT_EQ(payload->tos, 0x29);
  EXPECT_EQ(payload->source, ip("198.18.1.1"));
  EXPECT_EQ(payload->destination, ip("198.18.1.2"));
}

TEST(RawIpv4Payload, RefusesWhatIsNotAWholeEspPacket) {
  const auto esp = esp_bytes(0x1234, 40);
  auto whole = ipv4_header(esp.size(), 0);
  whole.insert(whole.end(), esp.begin(), esp.end());
  ASSERT_TRUE(raw_ipv4_payload(ByteSpan(whole.data(), whole.size())));

  auto short_packet = whole;
  short_packet.resize(whole.size() - 1);  // Total Length beyond the bytes received
  EXPECT_FALSE(raw_ipv4_payload(ByteSpan(short_packet.data(), short_packet.size())));
  EXPECT_FALSE(raw_ipv4_payload(ByteSpan(whole.data(), 19)));
  auto udp = whole;
  udp[9] = 17;
  EXPECT_FALSE(raw_ipv4_payload(ByteSpan(udp.data(), udp.size())));
  auto fragment = whole;
  fragment[6] = 0x20;  // MF
  EXPECT_FALSE(raw_ipv4_payload(ByteSpan(fragment.data(), fragment.size())));
  auto v6 = whole;
  v6[0] = 0x65;
  EXPECT_FALSE(raw_ipv4_payload(ByteSpan(v6.data(), v6.size())));
  auto long_header = whole;
  long_header[0] = 0x4f;  // IHL 15: a 60-byte header ...
  long_header[3] = 59;    // ... longer than Total Length
  EXPECT_FALSE(raw_ipv4_payload(ByteSpan(long_header.data(), long_header.size())));
}

TEST(RawEspSocket, ExchangesIpv4BatchesWithAddressesAndTos) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_socket(IpFamily::kV4, 0x77);
    auto b = open_socket(IpFamily::kV4);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->local_endpoint().port, 0);
    EXPECT_TRUE(a->local_endpoint().address.is_v4());
    int mark = 0;
    socklen_t length = sizeof(mark);
    ASSERT_EQ(::getsockopt(a->fd(), SOL_SOCKET, SO_MARK, &mark, &length), 0);
    EXPECT_EQ(mark, 0x77);
    EXPECT_GT(b->receive_buffer_bytes(), 0);

    PacketPool pool(64, kLargeBufferCapacity);
    std::vector<std::vector<std::uint8_t>> payloads;
    for (std::uint32_t k = 0; k < 5; ++k) payloads.push_back(esp_bytes(0x100 + k, 60 + k));
    // DSCP AF41 with ECT(0): both must arrive as sent.
    ASSERT_EQ(send(*a, pool, ip("198.18.1.1"), ip("198.18.1.2"), payloads, 0x8a), 5u);
    const auto got = receive(*b, pool, 5);
    ASSERT_EQ(got.size(), 5u);
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(bytes_of(*got[k]), payloads[k]);
      EXPECT_EQ(got[k]->meta.remote, (Endpoint{ip("198.18.1.1"), 0}));
      EXPECT_EQ(got[k]->meta.local, (Endpoint{ip("198.18.1.2"), 0}));
      EXPECT_EQ(got[k]->meta.tos, 0x8a);
      EXPECT_EQ(got[k]->meta.encapsulation, Encapsulation::kNone);
    }
    release(pool, got);
    EXPECT_EQ(a->counters().tx_packets.get(), 5u);
    EXPECT_EQ(b->counters().rx_packets.get(), 5u);

    // The other direction, from the other address, without a TOS.
    ASSERT_EQ(send(*b, pool, ip("198.18.1.2"), ip("198.18.1.1"), {esp_bytes(7, 30)}), 1u);
    std::vector<PacketBuffer*> back;
    for (int round = 0; round < 3 && back.empty(); ++round) {
      for (PacketBuffer* p : receive(*a, pool, 1)) {
        if (p->meta.remote.address == ip("198.18.1.2")) {
          back.push_back(p);
        } else {
          pool.release(p);  // a raw socket also sees what it sent itself to a local address
        }
      }
    }
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0]->meta.local.address, ip("198.18.1.1"));
    EXPECT_EQ(back[0]->meta.tos, 0);
    release(pool, back);
  });
}

TEST(RawEspSocket, StripsIpv4OptionsAndReceivesReassembledFragments) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto s = open_socket(IpFamily::kV4);
    ASSERT_TRUE(s);
    PacketPool pool(16, kLargeBufferCapacity);

    const auto esp = esp_bytes(0xabc, 64);
    auto with_options = ipv4_header(esp.size(), 0x01, {1, 1, 1, 0});
    with_options.insert(with_options.end(), esp.begin(), esp.end());
    send_hand_made_ipv4(with_options, ip("198.18.1.2"));
    auto got = receive(*s, pool, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(bytes_of(*got[0]), esp);
    EXPECT_EQ(got[0]->meta.tos, 0x01);
    EXPECT_EQ(got[0]->meta.remote.address, ip("198.18.1.1"));
    release(pool, got);

    // Two fragments of one 3000-byte ESP packet: the socket sees it whole.
    const auto big = esp_bytes(0xdef, 3000);
    auto first = ipv4_header(1480, 0, {}, 0x2000, 77);  // MF, offset 0
    first.insert(first.end(), big.begin(), big.begin() + 1480);
    auto second = ipv4_header(big.size() - 1480, 0, {}, 1480 / 8, 77);
    second.insert(second.end(), big.begin() + 1480, big.end());
    send_hand_made_ipv4(second, ip("198.18.1.2"));
    send_hand_made_ipv4(first, ip("198.18.1.2"));
    got = receive(*s, pool, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(bytes_of(*got[0]), big);
    release(pool, got);
    EXPECT_EQ(s->counters().rx_errors.get(), 0u);
  });
}

TEST(RawEspSocket, ExchangesIpv6WithAddressesAndTrafficClass) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_socket(IpFamily::kV6);
    auto b = open_socket(IpFamily::kV6);
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(a->local_endpoint().address.is_v4());
    PacketPool pool(64, kLargeBufferCapacity);
    std::vector<std::vector<std::uint8_t>> payloads;
    for (std::uint32_t k = 0; k < 4; ++k) payloads.push_back(esp_bytes(0x200 + k, 100 + k));
    payloads.push_back(esp_bytes(0x300, 9000));  // a jumbo one too
    ASSERT_EQ(send(*a, pool, ip("2001:db8:1::1"), ip("2001:db8:1::2"), payloads, 0x2d), 5u);
    const auto got = receive(*b, pool, 5);
    ASSERT_EQ(got.size(), 5u);
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(bytes_of(*got[k]), payloads[k]);
      EXPECT_EQ(got[k]->meta.remote, (Endpoint{ip("2001:db8:1::1"), 0}));
      EXPECT_EQ(got[k]->meta.local, (Endpoint{ip("2001:db8:1::2"), 0}));
      EXPECT_EQ(got[k]->meta.tos, 0x2d);
      EXPECT_EQ(got[k]->meta.encapsulation, Encapsulation::kNone);
    }
    release(pool, got);
  });
}

TEST(RawEspSocket, ASendOnlySocketSendsButQueuesNothing) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    RawEspSocketOptions options;
    options.family = IpFamily::kV4;
    options.send_only = true;
    auto sender = RawEspSocket::open(options);
    ASSERT_TRUE(sender.ok()) << sender.error().message();
    auto receiver = open_socket(IpFamily::kV4);
    ASSERT_TRUE(receiver);
    PacketPool pool(8, kLargeBufferCapacity);
    const auto esp = esp_bytes(0x42, 48);
    ASSERT_EQ(send(**sender, pool, ip("198.18.1.1"), ip("198.18.1.2"), {esp}), 1u);
    const auto got = receive(*receiver, pool, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(bytes_of(*got[0]), esp);
    release(pool, got);
    pollfd p{(*sender)->fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0);  // the packet it sent (to a local address) was not queued
  });
}

// Sends an ICMP "fragmentation needed" (IPv4) or ICMPv6 "packet too big" with `mtu` from
// `router` to `local` about an ESP packet (SPI 0x1001) from `local` to `remote`, as a router on
// the path would: the quoted packet is its IP header and the first 8 bytes of ESP.
void send_too_big(const IpAddress& router, const IpAddress& local, const IpAddress& remote,
                  std::uint32_t mtu) {
  const bool v4 = local.is_v4();
  const auto esp = esp_bytes(0x1001, 8);
  std::vector<std::uint8_t> quoted;
  if (v4) {
    quoted = ipv4_header(1400, 0);
    std::memcpy(quoted.data() + 12, local.data(), 4);
    std::memcpy(quoted.data() + 16, remote.data(), 4);
    quoted[10] = quoted[11] = 0;
    const std::uint16_t checksum = inet_checksum(ByteSpan(quoted.data(), quoted.size()));
    quoted[10] = static_cast<std::uint8_t>(checksum >> 8);
    quoted[11] = static_cast<std::uint8_t>(checksum);
  } else {
    quoted = {0x60, 0, 0, 0, 0x05, 0x78, 50, 64};  // payload length 1400, next header ESP
    quoted.insert(quoted.end(), local.data(), local.data() + 16);
    quoted.insert(quoted.end(), remote.data(), remote.data() + 16);
  }
  quoted.insert(quoted.end(), esp.begin(), esp.end());
  // ICMP type 3 code 4 (next-hop MTU in the low 16 bits) / ICMPv6 type 2 (32-bit MTU).
  std::vector<std::uint8_t> icmp = {static_cast<std::uint8_t>(v4 ? 3 : 2),
                                    static_cast<std::uint8_t>(v4 ? 4 : 0),
                                    0,
                                    0,
                                    static_cast<std::uint8_t>(mtu >> 24),
                                    static_cast<std::uint8_t>(mtu >> 16),
                                    static_cast<std::uint8_t>(mtu >> 8),
                                    static_cast<std::uint8_t>(mtu)};
  icmp.insert(icmp.end(), quoted.begin(), quoted.end());
  if (v4) {  // the kernel fills in ICMPv6 checksums itself, not ICMP ones
    const std::uint16_t checksum = inet_checksum(ByteSpan(icmp.data(), icmp.size()));
    icmp[2] = static_cast<std::uint8_t>(checksum >> 8);
    icmp[3] = static_cast<std::uint8_t>(checksum);
  }
  UniqueFd fd(::socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC,
                       v4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6}));
  ASSERT_TRUE(fd.valid()) << std::strerror(errno);
  sockaddr_storage from{};
  sockaddr_storage to{};
  const socklen_t length = to_sockaddr({router, 0}, v4 ? AF_INET : AF_INET6, from);
  ASSERT_EQ(to_sockaddr({local, 0}, v4 ? AF_INET : AF_INET6, to), length);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&from), length), 0)
      << std::strerror(errno);
  ASSERT_EQ(::sendto(fd.get(), icmp.data(), icmp.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     length),
            static_cast<ssize_t>(icmp.size()))
      << std::strerror(errno);
}

TEST(RawEspSocket, PathMtuReportsOfItsPacketsLandInTheErrorQueue) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    for (const IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
      const bool v4 = family == IpFamily::kV4;
      SCOPED_TRACE(v4 ? "IPv4" : "IPv6");
      const IpAddress local = ip(v4 ? "198.18.1.1" : "2001:db8:1::1");
      const IpAddress remote = ip(v4 ? "198.18.1.2" : "2001:db8:1::2");
      RawEspSocketOptions options;
      options.family = family;
      auto plain = RawEspSocket::open(options);
      ASSERT_TRUE(plain.ok()) << plain.error().message();
      options.path_mtu = true;
      auto receiving = RawEspSocket::open(options);
      ASSERT_TRUE(receiving.ok()) << receiving.error().message();
      options.send_only = true;
      auto send_only = RawEspSocket::open(options);
      ASSERT_TRUE(send_only.ok()) << send_only.error().message();

      std::array<int, 2> fds{-1, -1};
      EXPECT_EQ((*plain)->error_queue_fds(fds), 0u);
      ASSERT_EQ((*receiving)->error_queue_fds(fds), 1u);
      EXPECT_EQ(fds[0], (*receiving)->fd());
      const int fd = (*receiving)->fd();
      int value = -1;
      socklen_t length = sizeof(value);
      ASSERT_EQ(::getsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER,
                             &value, &length),
                0);
      EXPECT_EQ(value, v4 ? int{IP_PMTUDISC_WANT} : int{IPV6_PMTUDISC_WANT});  // never refuses
      value = 0;
      ASSERT_EQ(
          ::getsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_RECVERR : IPV6_RECVERR, &value, &length),
          0);
      EXPECT_EQ(value, 1);

      // A router (here: the remote address itself) says the ESP packet was too big.
      send_too_big(remote, local, remote, 1300);
      for (RawEspSocket* s : {receiving->get(), send_only->get()}) {
        pollfd p{s->fd(), 0, 0};
        ASSERT_EQ(::poll(&p, 1, 2000), 1);
        EXPECT_NE(p.revents & POLLERR, 0);
        std::array<SocketError, 4> out;
        const ErrorQueueRead r = read_socket_errors(s->fd(), out);
        ASSERT_EQ(r.read, 1u);
        ASSERT_EQ(r.parsed, 1u);
        EXPECT_EQ(out[0].origin, v4 ? SocketError::Origin::kIcmp : SocketError::Origin::kIcmp6);
        EXPECT_EQ(out[0].error, EMSGSIZE);
        EXPECT_EQ(out[0].destination, remote);  // the ESP packet's destination (port 0)
        EXPECT_EQ(out[0].offender, remote);     // the router
        EXPECT_EQ(path_mtu_report(out[0]), (PathMtuReport{remote, 1300}));
        p.revents = 0;
        EXPECT_EQ(::poll(&p, 1, 0), 0) << "drained: EPOLLERR is over";
      }
      // Without IP_RECVERR nothing is queued (the kernel only notes a pending error).
      std::array<SocketError, 4> out;
      EXPECT_EQ(read_socket_errors((*plain)->fd(), out).read, 0u);
    }
  });
}

TEST(RawEspSocket, CountsPacketsItCannotAddress) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto v4 = open_socket(IpFamily::kV4);
    ASSERT_TRUE(v4);
    PacketPool pool(8, kLargeBufferCapacity);
    // An IPv6 peer on the IPv4 socket, an IPv6 source for an IPv4 peer, no peer at all.
    EXPECT_EQ(send(*v4, pool, ip("198.18.1.1"), ip("2001:db8:1::2"), {esp_bytes(1, 20)}), 0u);
    EXPECT_EQ(send(*v4, pool, ip("2001:db8:1::1"), ip("198.18.1.2"), {esp_bytes(1, 20)}), 0u);
    EXPECT_EQ(send(*v4, pool, ip("198.18.1.1"), ip("0.0.0.0"), {esp_bytes(1, 20)}), 0u);
    EXPECT_EQ(v4->counters().tx_unreachable.get(), 3u);
    EXPECT_FALSE(v4->send_to({ip("198.18.1.1"), 0}, {ip("2001:db8:1::2"), 0},
                             ByteSpan(esp_bytes(1, 20).data(), 20))
                     .ok());
    const auto one = esp_bytes(9, 24);
    EXPECT_TRUE(
        v4->send_to({ip("198.18.1.1"), 0}, {ip("198.18.1.2"), 0}, ByteSpan(one.data(), one.size()))
            .ok());
    const auto got = receive(*v4, pool, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(bytes_of(*got[0]), one);
    release(pool, got);
  });
}

}  // namespace
}  // namespace uipsec
