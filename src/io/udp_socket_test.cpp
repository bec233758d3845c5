#include "io/udp_socket.hpp"

#include <gtest/gtest.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "io/netns_test_support.hpp"
#include "io/socket_test_support.hpp"

namespace uipsec {
namespace {

using test::ip;
using test::receive;
using test::release;

// Loopback addresses of the namespace: three IPv4 and three IPv6 local addresses.
void configure_loopback() { test::add_loopback_addresses(3); }

std::unique_ptr<UdpSocket> open_socket(std::optional<IpAddress> address,
                                       int buffer_bytes = 1 << 20) {
  UdpSocketOptions options;
  options.address = address;
  options.port = 0;
  options.buffer_bytes = buffer_bytes;
  auto s = UdpSocket::open(options);
  EXPECT_TRUE(s.ok()) << s.error().message();
  return s.ok() ? std::move(*s) : nullptr;
}

// Sends `count` datagrams of `size` bytes (byte i of datagram k is k) through send_batch.
std::size_t send(UdpSocket& s, PacketPool& pool, Endpoint from, Endpoint to, std::size_t count,
                 std::size_t size = 100) {
  std::vector<std::vector<std::uint8_t>> payloads;
  for (std::size_t k = 0; k < count; ++k) payloads.emplace_back(size, static_cast<std::uint8_t>(k));
  PacketMeta meta;
  meta.local = from;
  meta.remote = to;
  return test::send_payloads(s, pool, payloads, meta);
}

TEST(UdpSocket, ExchangesIpv4BatchesWithLocalAndRemoteAddresses) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_socket(std::nullopt);  // dual-stack "::"
    auto b = open_socket(ip("198.18.1.2"));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->family(), AF_INET6);
    EXPECT_EQ(b->family(), AF_INET);
    const std::uint16_t port_a = a->local_endpoint().port;
    const Endpoint b_endpoint = b->local_endpoint();
    EXPECT_EQ(b_endpoint.address, ip("198.18.1.2"));
    PacketPool pool(32);

    ASSERT_EQ(send(*a, pool, {ip("198.18.1.1"), 0}, b_endpoint, 5), 5u);
    auto got = receive(*b, pool, 5);
    ASSERT_EQ(got.size(), 5u);
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k]->meta.remote, (Endpoint{ip("198.18.1.1"), port_a}));
      EXPECT_EQ(got[k]->meta.local, b_endpoint);
      EXPECT_EQ(got[k]->meta.encapsulation, Encapsulation::kEspInUdp);
      ASSERT_EQ(got[k]->size(), 100u);
      EXPECT_EQ(got[k]->data()[0], k) << "order kept";
      EXPECT_EQ(got[k]->headroom(), kPacketHeadroom);
    }
    release(pool, got);

    // The answer reaches the dual-stack socket as plain IPv4, never ::ffff:198.18.1.1.
    ASSERT_EQ(send(*b, pool, {}, {ip("198.18.1.1"), port_a}, 3), 3u);
    got = receive(*a, pool, 3);
    ASSERT_EQ(got.size(), 3u);
    for (PacketBuffer* p : got) {
      EXPECT_EQ(p->meta.remote, b_endpoint);
      EXPECT_TRUE(p->meta.local.address.is_v4()) << p->meta.local.address.to_string();
      EXPECT_EQ(p->meta.local, (Endpoint{ip("198.18.1.1"), port_a}));
    }
    release(pool, got);

    EXPECT_EQ(a->counters().tx_packets.get(), 5u);
    EXPECT_EQ(a->counters().tx_bytes.get(), 500u);
    EXPECT_EQ(b->counters().rx_packets.get(), 5u);
    EXPECT_EQ(a->counters().rx_packets.get(), 3u);
    EXPECT_EQ(pool.available(), pool.count());
  });
}

// Three workers' sockets on one port: every datagram of one sender (one 4-tuple, which the
// kernel's hash alone would give to a single member) goes to member SPI % 3.
TEST(UdpSocket, SteersDatagramsBySpiAcrossTheGroup) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    std::vector<std::unique_ptr<UdpSocket>> members;
    std::uint16_t port = 0;
    for (unsigned i = 0; i < 3; ++i) {
      UdpSocketOptions options;
      options.address = ip("198.18.1.2");
      options.port = port;
      options.buffer_bytes = 1 << 20;
      options.steer_group = 3;
      options.steer_index = i;
      auto s = UdpSocket::open(options);
      ASSERT_TRUE(s.ok()) << s.error().message();
      port = (*s)->local_endpoint().port;
      members.push_back(std::move(*s));
    }
    auto sender = open_socket(ip("198.18.1.1"));
    ASSERT_TRUE(sender);
    PacketPool pool(64);
    std::vector<PacketBuffer*> packets;
    for (std::uint32_t spi = 0x100; spi < 0x100 + 30; ++spi) {
      PacketBuffer* p = pool.acquire();
      std::vector<std::uint8_t> bytes(64, 0);
      store_be32(bytes.data(), spi);
      ASSERT_TRUE(p->assign(bytes));
      p->meta.remote = {ip("198.18.1.2"), port};
      packets.push_back(p);
    }
    ASSERT_EQ(sender->send_batch(packets), 30u);
    release(pool, packets);
    for (unsigned i = 0; i < 3; ++i) {
      auto got = receive(*members[i], pool, 10);
      EXPECT_EQ(got.size(), 10u) << "member " << i;
      for (PacketBuffer* p : got) EXPECT_EQ(load_be32(p->data()) % 3, i);
      release(pool, got);
    }
  });
}

TEST(UdpSocket, SendsFromTheLocalAddressAsked) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_socket(std::nullopt);
    auto b = open_socket(std::nullopt);
    ASSERT_TRUE(a && b);
    const std::uint16_t port_b = b->local_endpoint().port;
    PacketPool pool(8);
    for (const char* from : {"198.18.1.3", "198.18.1.1", "2001:db8:1::3", "2001:db8:1::1"}) {
      const IpAddress source = ip(from);
      const IpAddress destination = source.is_v4() ? ip("198.18.1.2") : ip("2001:db8:1::2");
      ASSERT_EQ(send(*a, pool, {source, 0}, {destination, port_b}, 1), 1u) << from;
      auto got = receive(*b, pool, 1);
      ASSERT_EQ(got.size(), 1u) << from;
      EXPECT_EQ(got[0]->meta.remote.address, source);
      EXPECT_EQ(got[0]->meta.local, (Endpoint{destination, port_b}));
      release(pool, got);
    }
  });
}

TEST(UdpSocket, ExchangesIpv6Batches) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_socket(std::nullopt);
    auto c = open_socket(ip("2001:db8:1::2"));
    ASSERT_TRUE(a && c);
    const std::uint16_t port_a = a->local_endpoint().port;
    const Endpoint c_endpoint = c->local_endpoint();
    PacketPool pool(16);

    ASSERT_EQ(send(*c, pool, {}, {ip("2001:db8:1::3"), port_a}, 4), 4u);
    auto got = receive(*a, pool, 4);
    ASSERT_EQ(got.size(), 4u);
    for (PacketBuffer* p : got) {
      EXPECT_EQ(p->meta.remote, c_endpoint);
      EXPECT_EQ(p->meta.local, (Endpoint{ip("2001:db8:1::3"), port_a}));
    }
    release(pool, got);

    // Reply the way the daemon does: swap meta.local and meta.remote.
    ASSERT_EQ(send(*a, pool, {ip("2001:db8:1::3"), port_a}, c_endpoint, 2), 2u);
    got = receive(*c, pool, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0]->meta.remote, (Endpoint{ip("2001:db8:1::3"), port_a}));
    release(pool, got);
  });
}

TEST(UdpSocket, CountsWhatCannotBeSentAndGoesOn) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto v4 = open_socket(ip("198.18.1.1"));
    auto b = open_socket(std::nullopt);
    ASSERT_TRUE(v4 && b);
    const Endpoint to{ip("198.18.1.2"), b->local_endpoint().port};
    PacketPool pool(8);
    std::vector<PacketBuffer*> packets;
    auto add = [&](Endpoint from, Endpoint remote, std::size_t size) {
      PacketBuffer* p = pool.acquire();
      std::vector<std::uint8_t> bytes(size, 0x77);
      EXPECT_TRUE(p->assign(bytes));
      p->meta.local = from;
      p->meta.remote = remote;
      packets.push_back(p);
    };
    add({}, to, 10);                              // sent
    add({}, {ip("2001:db8:1::2"), to.port}, 10);  // IPv6 peer on an IPv4 socket
    add({}, {ip("198.18.1.2"), 0}, 10);           // no port
    add({}, to, 65520);                           // larger than an IPv4 datagram
    add({ip("198.18.9.9"), 0}, to, 10);           // source not on this host
    add({ip("198.18.1.1"), 0}, to, 10);           // sent
    EXPECT_EQ(v4->send_batch(packets), 2u);
    const IoCounters& c = v4->counters();
    EXPECT_EQ(c.tx_packets.get(), 2u);
    EXPECT_EQ(c.tx_unreachable.get(), 3u);
    EXPECT_EQ(c.tx_too_big.get(), 1u);
    EXPECT_EQ(c.tx_errors.get(), 0u);
    release(pool, packets);
    auto got = receive(*b, pool, 2);
    EXPECT_EQ(got.size(), 2u) << "the messages after a failed one still went out";
    release(pool, got);
  });
}

TEST(UdpSocket, ReceiveStopsWhenPoolIsEmptyAndResumes) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_socket(ip("198.18.1.1"));
    auto b = open_socket(ip("198.18.1.2"));
    ASSERT_TRUE(a && b);
    PacketPool big(8);
    ASSERT_EQ(send(*a, big, {}, b->local_endpoint(), 5), 5u);
    PacketPool small(2);
    PacketBatch batch;
    EXPECT_EQ(b->receive_batch(small, batch), 2u);
    EXPECT_EQ(b->receive_batch(small, batch), 0u);
    for (std::size_t i = 0; i < batch.size; ++i) small.release(batch.packets[i]);
    batch.clear();
    EXPECT_EQ(b->receive_batch(small, batch), 2u);
    for (std::size_t i = 0; i < batch.size; ++i) small.release(batch.packets[i]);
    batch.clear();
    EXPECT_EQ(b->receive_batch(small, batch), 1u);
    EXPECT_EQ(small.available(), 1u) << "the unused buffer went back";
    for (std::size_t i = 0; i < batch.size; ++i) small.release(batch.packets[i]);
    EXPECT_EQ(b->counters().rx_kernel_drops.get(), 0u);
  });
}

TEST(UdpSocket, CountsReceiveQueueOverflow) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_socket(ip("198.18.1.1"));
    auto b = open_socket(ip("198.18.1.2"), 4096);  // a tiny receive buffer
    ASSERT_TRUE(a && b);
    PacketPool pool(64);
    constexpr std::size_t kSent = 50;
    ASSERT_EQ(send(*a, pool, {}, b->local_endpoint(), kSent, 1000), kSent);
    PacketBatch batch;
    while (b->receive_batch(pool, batch) != 0) {
    }
    const std::size_t first = batch.size;
    ASSERT_LT(first, kSent) << "the buffer should have overflowed";
    for (std::size_t i = 0; i < batch.size; ++i) pool.release(batch.packets[i]);
    batch.clear();
    // The kernel reports the drops on the next datagram it queues.
    ASSERT_EQ(send(*a, pool, {}, b->local_endpoint(), 1, 1000), 1u);
    auto got = receive(*b, pool, 1);
    ASSERT_EQ(got.size(), 1u);
    release(pool, got);
    EXPECT_EQ(b->counters().rx_kernel_drops.get(), kSent - first);
  });
}

TEST(UdpSocket, SendToSendsOneDatagramFromTheAddressAsked) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_socket(std::nullopt);
    auto b = open_socket(ip("198.18.1.2"));
    ASSERT_TRUE(a && b);
    const std::uint8_t ike[] = {0, 0, 0, 0, 0x11, 0x22};
    auto sent = a->send_to({ip("198.18.1.3"), 0}, b->local_endpoint(), ike);
    ASSERT_TRUE(sent.ok()) << sent.error().message();
    PacketPool pool(2);
    auto got = receive(*b, pool, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]->meta.remote, (Endpoint{ip("198.18.1.3"), a->local_endpoint().port}));
    EXPECT_EQ(got[0]->size(), sizeof(ike));
    release(pool, got);

    auto refused = b->send_to({}, {ip("2001:db8:1::1"), 500}, ike);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("[2001:db8:1::1]:500"), std::string::npos)
        << refused.error().message();
  });
}

TEST(UdpSocket, ConfiguresTheSocketAndNeverUdpEncap) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    UdpSocketOptions options;
    options.port = 0;
    options.mark = 0x42;
    options.buffer_bytes = 4 * 1024 * 1024;
    auto s = UdpSocket::open(options);
    ASSERT_TRUE(s.ok()) << s.error().message();
    int value = 0;
    socklen_t length = sizeof(value);
    ASSERT_EQ(::getsockopt((*s)->fd(), SOL_SOCKET, SO_MARK, &value, &length), 0);
    EXPECT_EQ(value, 0x42);
    length = sizeof(value);
    ASSERT_EQ(::getsockopt((*s)->fd(), IPPROTO_UDP, UDP_ENCAP, &value, &length), 0);
    EXPECT_EQ(value, 0) << "UDP_ENCAP would divert ESP to the kernel's XFRM";
    length = sizeof(value);
    ASSERT_EQ(::getsockopt((*s)->fd(), IPPROTO_IPV6, IPV6_V6ONLY, &value, &length), 0);
    EXPECT_EQ(value, 0) << "the wildcard socket serves IPv4 too";
    EXPECT_GE((*s)->receive_buffer_bytes(), 4 * 1024 * 1024) << "SO_RCVBUFFORCE as root";
    EXPECT_GE((*s)->send_buffer_bytes(), 4 * 1024 * 1024);
    EXPECT_TRUE((*s)->local_endpoint().address.is_unspecified());
    EXPECT_NE((*s)->local_endpoint().port, 0);
  });
}

TEST(UdpSocket, BindErrorsSayWhatToDo) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto first = open_socket(std::nullopt);
    ASSERT_TRUE(first);
    UdpSocketOptions options;
    options.port = first->local_endpoint().port;
    auto second = UdpSocket::open(options);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().message().find("another process uses UDP port"), std::string::npos)
        << second.error().message();

    options.address = ip("198.18.9.9");
    options.port = 4500;
    auto foreign = UdpSocket::open(options);
    ASSERT_FALSE(foreign.ok());
    EXPECT_NE(foreign.error().message().find("198.18.9.9:4500"), std::string::npos)
        << foreign.error().message();
    EXPECT_NE(foreign.error().message().find("not configured"), std::string::npos)
        << foreign.error().message();
  });
}

TEST(UdpSocket, RefusesNonsenseOptions) {
  UdpSocketOptions options;
  options.buffer_bytes = 0;
  auto s = UdpSocket::open(options);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("buffer size"), std::string::npos);
}

}  // namespace
}  // namespace uipsec

namespace uipsec {
namespace {

std::unique_ptr<UdpSocket> open_offload_socket(std::optional<IpAddress> address, bool gso,
                                               bool gro) {
  UdpSocketOptions options;
  options.address = address;
  options.port = 0;
  options.buffer_bytes = 4 << 20;
  options.gso = gso;
  options.gro = gro;
  auto s = UdpSocket::open(options);
  EXPECT_TRUE(s.ok()) << s.error().message();
  return s.ok() ? std::move(*s) : nullptr;
}

// Sends datagrams of the given sizes (byte i of datagram k is k + i) in one send_batch.
std::size_t send_sizes(UdpSocket& s, PacketPool& pool, Endpoint to,
                       const std::vector<std::size_t>& sizes) {
  std::vector<PacketBuffer*> packets;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    PacketBuffer* p = pool.acquire();
    std::vector<std::uint8_t> bytes(sizes[k]);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(k + i);
    EXPECT_TRUE(p->assign(bytes));
    p->meta.remote = to;
    packets.push_back(p);
  }
  const std::size_t sent = s.send_batch(packets);
  for (PacketBuffer* p : packets) pool.release(p);
  return sent;
}

void expect_datagrams(const std::vector<PacketBuffer*>& got,
                      const std::vector<std::size_t>& sizes) {
  ASSERT_EQ(got.size(), sizes.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got[k]->size(), sizes[k]) << "datagram " << k;
    bool same = true;
    for (std::size_t i = 0; i < sizes[k]; ++i) {
      same = same && got[k]->data()[i] == static_cast<std::uint8_t>(k + i);
    }
    EXPECT_TRUE(same) << "datagram " << k << " arrived whole and in its place";
  }
}

// A train (equal sizes, a shorter last one), then sizes that cannot join one.
const std::vector<std::size_t> kSizes = {1000, 1000, 1000, 1000, 1000, 400, 1000,
                                         1200, 1200, 1200, 700,  800,  90};

TEST(UdpSocket, GsoSendsTrainsThatArriveAsSingleDatagrams) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_offload_socket(ip("198.18.1.1"), /*gso=*/true, /*gro=*/false);
    auto b = open_offload_socket(ip("198.18.1.2"), false, false);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(a->gso()) << "the kernel offers UDP_SEGMENT (Linux 4.18)";
    PacketPool pool(64);
    ASSERT_EQ(send_sizes(*a, pool, b->local_endpoint(), kSizes), kSizes.size());
    auto got = receive(*b, pool, kSizes.size());
    expect_datagrams(got, kSizes);
    release(pool, got);
    EXPECT_TRUE(a->gso()) << "never refused on loopback";
    EXPECT_EQ(a->counters().tx_packets.get(), kSizes.size()) << "datagrams, not messages";
    std::uint64_t total = 0;
    for (std::size_t n : kSizes) total += n;
    EXPECT_EQ(a->counters().tx_bytes.get(), total);
  });
}

TEST(UdpSocket, GsoTrainLeavesInOneSend) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_offload_socket(ip("198.18.1.1"), /*gso=*/true, /*gro=*/false);
    ASSERT_TRUE(a && a->gso());
    // A plain receiver with UDP_GRO reads the train as the kernel got it: one message of
    // 5 x 1000 bytes with gso_size 1000 (loopback passes GSO packets on whole).
    UniqueFd r(::socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in bound{};
    bound.sin_family = AF_INET;
    std::memcpy(&bound.sin_addr, ip("198.18.1.2").data(), 4);
    ASSERT_EQ(::bind(r.get(), reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
    socklen_t length = sizeof(bound);
    ASSERT_EQ(::getsockname(r.get(), reinterpret_cast<sockaddr*>(&bound), &length), 0);
    int on = 1;
    ASSERT_EQ(::setsockopt(r.get(), IPPROTO_UDP, UDP_GRO, &on, sizeof(on)), 0);
    PacketPool pool(16);
    const std::vector<std::size_t> train = {1000, 1000, 1000, 1000, 1000};
    ASSERT_EQ(send_sizes(*a, pool, {ip("198.18.1.2"), ntohs(bound.sin_port)}, train), 5u);
    std::vector<std::uint8_t> buffer(65536);
    alignas(cmsghdr) std::uint8_t control[64];
    iovec iov{buffer.data(), buffer.size()};
    msghdr h{};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof(control);
    pollfd p{r.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    ASSERT_EQ(::recvmsg(r.get(), &h, 0), 5000);
    int segment = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
        std::memcpy(&segment, CMSG_DATA(c), sizeof(segment));
      }
    }
    EXPECT_EQ(segment, 1000);
  });
}

// A path MTU below the segment size: the kernel refuses the train (EMSGSIZE; EINVAL before
// Linux 6.x) — it fragments single datagrams, never GSO segments. The train goes out datagram by
// datagram, GSO pauses for kGsoBackoffBatches batches and is not switched off for good.
TEST(UdpSocket, GsoPausesWhenSegmentsExceedThePathMtu) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    ASSERT_EQ(test::command_output("ip link set lo mtu 1000 2>&1"), "");
    auto a = open_offload_socket(ip("198.18.1.1"), /*gso=*/true, /*gro=*/false);
    auto b = open_socket(ip("198.18.1.2"));
    ASSERT_TRUE(a && b && a->gso());
    PacketPool pool(32);
    const std::vector<std::size_t> train = {1200, 1200, 1200, 1200};
    ASSERT_EQ(send_sizes(*a, pool, b->local_endpoint(), train), 4u)
        << std::strerror(a->counters().last_errno.load());
    EXPECT_TRUE(a->gso()) << "a small path MTU is no reason to give GSO up for good";
    EXPECT_EQ(a->gso_backoff(), UdpSocket::kGsoBackoffBatches);
    auto got = receive(*b, pool, 4);
    EXPECT_EQ(got.size(), 4u) << "each sent alone, fragmented and reassembled";
    for (PacketBuffer* p : got) EXPECT_EQ(p->size(), 1200u);
    release(pool, got);
    ASSERT_EQ(send_sizes(*a, pool, b->local_endpoint(), train), 4u);
    EXPECT_EQ(a->gso_backoff(), UdpSocket::kGsoBackoffBatches - 1) << "no train tried meanwhile";
    release(pool, receive(*b, pool, 4));
  });
}

TEST(UdpSocket, GroSplitsCoalescedDatagramsInOrder) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_offload_socket(ip("198.18.1.1"), /*gso=*/true, /*gro=*/false);
    auto b = open_offload_socket(ip("198.18.1.2"), /*gso=*/false, /*gro=*/true);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(b->gro()) << "the kernel offers UDP_GRO (Linux 5.0)";
    PacketPool pool(64);
    ASSERT_EQ(send_sizes(*a, pool, b->local_endpoint(), kSizes), kSizes.size());
    auto got = receive(*b, pool, kSizes.size());
    expect_datagrams(got, kSizes);
    for (PacketBuffer* p : got) {
      EXPECT_EQ(p->meta.remote, a->local_endpoint());
      EXPECT_EQ(p->meta.local, b->local_endpoint());
      EXPECT_EQ(p->meta.encapsulation, Encapsulation::kEspInUdp);
    }
    release(pool, got);
    EXPECT_EQ(b->counters().rx_packets.get(), kSizes.size());
    EXPECT_EQ(b->counters().rx_truncated.get(), 0u);
    EXPECT_EQ(pool.available(), pool.count());
  });
}

TEST(UdpSocket, GroHandsOutWhatDoesNotFitTheBatchOrPoolLater) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_offload_socket(ip("198.18.1.1"), /*gso=*/true, /*gro=*/false);
    auto b = open_offload_socket(ip("198.18.1.2"), /*gso=*/false, /*gro=*/true);
    ASSERT_TRUE(a && b && b->gro());
    PacketPool send_pool(64);
    const std::vector<std::size_t> train(40, 1200);
    ASSERT_EQ(send_sizes(*a, send_pool, b->local_endpoint(), train), 40u);
    // Three buffers at a time: the coalesced message is handed out over many calls.
    PacketPool pool(3);
    std::vector<std::vector<std::uint8_t>> got;
    for (int round = 0; round < 100 && got.size() < train.size(); ++round) {
      PacketBatch batch;
      if (b->receive_batch(pool, batch) == 0) {
        pollfd p{b->fd(), POLLIN, 0};
        if (::poll(&p, 1, 2000) != 1) break;
        continue;
      }
      EXPECT_LE(batch.size, 3u);
      for (std::size_t i = 0; i < batch.size; ++i) {
        got.emplace_back(batch.packets[i]->data(),
                         batch.packets[i]->data() + batch.packets[i]->size());
        pool.release(batch.packets[i]);
      }
    }
    ASSERT_EQ(got.size(), train.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      ASSERT_EQ(got[k].size(), 1200u);
      EXPECT_EQ(got[k][0], static_cast<std::uint8_t>(k)) << "in order";
      EXPECT_EQ(got[k][1199], static_cast<std::uint8_t>(k + 1199));
    }
  });
}

// Once a train's segment size is known, the next trains of that size are received straight into
// pool buffers, one datagram each (no copy); a message cut otherwise — a single longer
// datagram, another segment size — is gathered into a slot and cut from there, and the order
// of everything stays the sender's.
TEST(UdpSocket, GroReceivesTrainsOfTheExpectedSizeStraightIntoPoolBuffers) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_offload_socket(ip("198.18.1.1"), /*gso=*/true, /*gro=*/false);
    auto b = open_offload_socket(ip("198.18.1.2"), /*gso=*/false, /*gro=*/true);
    ASSERT_TRUE(a && b && b->gro());
    PacketPool pool(512);
    const std::vector<std::size_t> learn(40, 1200);
    ASSERT_EQ(send_sizes(*a, pool, b->local_endpoint(), learn), learn.size());
    auto got = receive(*b, pool, learn.size());
    expect_datagrams(got, learn);
    release(pool, got);
    EXPECT_EQ(b->scattered_messages(), 0u) << "the first train teaches the size";

    // One send and its receipt; returns (scattered, gathered) messages it took.
    const auto round = [&](const std::vector<std::size_t>& sizes) {
      const std::uint64_t scattered = b->scattered_messages();
      const std::uint64_t gathered = b->gathered_messages();
      EXPECT_EQ(send_sizes(*a, pool, b->local_endpoint(), sizes), sizes.size());
      auto packets = receive(*b, pool, sizes.size());
      expect_datagrams(packets, sizes);
      for (PacketBuffer* p : packets) {
        EXPECT_EQ(p->meta.remote, a->local_endpoint());
        EXPECT_EQ(p->meta.local, b->local_endpoint());
      }
      release(pool, packets);
      return std::make_pair(b->scattered_messages() - scattered, b->gathered_messages() - gathered);
    };
    using Counts = std::pair<std::uint64_t, std::uint64_t>;
    EXPECT_EQ(round(std::vector<std::size_t>(30, 1200)), Counts(1, 0)) << "as expected";
    EXPECT_EQ(round({1500}), Counts(0, 1)) << "one datagram longer than expected";
    EXPECT_EQ(round({1000}), Counts(1, 0)) << "one datagram that fits";
    EXPECT_EQ(round(std::vector<std::size_t>(20, 1200)), Counts(1, 0)) << "still expected";
    EXPECT_EQ(round(std::vector<std::size_t>(10, 1100)), Counts(0, 1)) << "another size";
    EXPECT_EQ(round(std::vector<std::size_t>(5, 1100)), Counts(1, 0)) << "learned";
    // All at once: from the first message cut otherwise on, the rest of that receive is
    // gathered too, so that nothing overtakes it.
    std::vector<std::size_t> mixed(30, 1100);
    mixed.push_back(1500);
    mixed.insert(mixed.end(), 20, 1100);
    mixed.insert(mixed.end(), 10, 1200);
    mixed.insert(mixed.end(), 45, 1100);
    const auto [scattered, gathered] = round(mixed);
    EXPECT_GE(scattered, 1u);
    EXPECT_GE(gathered, 2u);
    EXPECT_EQ(b->counters().rx_packets.get(), 40u + 30 + 1 + 1 + 20 + 10 + 5 + mixed.size());
    EXPECT_EQ(b->counters().rx_truncated.get(), 0u);
    EXPECT_EQ(pool.available(), pool.count()) << "every buffer not handed out went back";
  });
}

// When the kernel reports receive-queue drops the socket cannot keep up: it goes back to the
// slots (eight messages per recvmmsg) for a while instead of receiving straight into pool
// buffers, and nothing is lost or reordered on the way.
TEST(UdpSocket, GroTakesTheSlotsAfterTheKernelDroppedDatagrams) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_offload_socket(ip("198.18.1.1"), /*gso=*/true, /*gro=*/false);
    UdpSocketOptions options;
    options.address = ip("198.18.1.2");
    options.port = 0;
    options.buffer_bytes = 64 << 10;  // room for a few trains only
    options.gro = true;
    auto opened = UdpSocket::open(options);
    ASSERT_TRUE(a && opened.ok());
    UdpSocket& b = **opened;
    ASSERT_TRUE(b.gro());
    PacketPool pool(512);
    const std::vector<std::size_t> train(40, 1200);
    ASSERT_EQ(send_sizes(*a, pool, b.local_endpoint(), train), train.size());
    release(pool, receive(b, pool, train.size()));  // learns the segment size
    ASSERT_EQ(send_sizes(*a, pool, b.local_endpoint(), train), train.size());
    release(pool, receive(b, pool, train.size()));
    const std::uint64_t scattered = b.scattered_messages();
    EXPECT_GE(scattered, 1u);

    // Ten trains at once overflow the queue; the drops are reported with the next datagram.
    for (int i = 0; i < 10; ++i) send_sizes(*a, pool, b.local_endpoint(), train);
    std::vector<PacketBuffer*> got;
    for (;;) {
      PacketBatch batch;
      if (b.receive_batch(pool, batch) == 0) break;
      got.insert(got.end(), batch.packets.begin(),
                 batch.packets.begin() + static_cast<std::ptrdiff_t>(batch.size));
    }
    release(pool, got);
    ASSERT_EQ(send_sizes(*a, pool, b.local_endpoint(), {1200}), 1u);
    release(pool, receive(b, pool, 1));
    ASSERT_GT(b.counters().rx_kernel_drops.get(), 0u) << "the queue should have overflowed";

    const std::uint64_t before = b.scattered_messages();
    ASSERT_EQ(send_sizes(*a, pool, b.local_endpoint(), train), train.size());
    got = receive(b, pool, train.size());
    expect_datagrams(got, train);
    release(pool, got);
    EXPECT_EQ(b.scattered_messages(), before) << "cut from the slots while paused";
    EXPECT_EQ(pool.available(), pool.count());
  });
}

TEST(UdpSocket, GsoKeepsPeersApart) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    auto a = open_offload_socket(ip("198.18.1.1"), /*gso=*/true, /*gro=*/false);
    auto b = open_offload_socket(ip("198.18.1.2"), false, true);
    auto c = open_offload_socket(ip("198.18.1.3"), false, false);
    ASSERT_TRUE(a && b && c);
    PacketPool pool(64);
    std::vector<PacketBuffer*> packets;
    for (std::size_t k = 0; k < 12; ++k) {
      PacketBuffer* p = pool.acquire();
      std::vector<std::uint8_t> bytes(500, static_cast<std::uint8_t>(k));
      ASSERT_TRUE(p->assign(bytes));
      // b, b, b, c, c, b, b, c, ...: equal sizes, but trains must not cross peers.
      p->meta.remote = (k % 5 == 3 || k % 5 == 4) ? c->local_endpoint() : b->local_endpoint();
      packets.push_back(p);
    }
    EXPECT_EQ(a->send_batch(packets), 12u);
    std::size_t to_b = 0;
    for (PacketBuffer* p : packets) to_b += p->meta.remote == b->local_endpoint() ? 1 : 0;
    auto got_b = receive(*b, pool, to_b);
    auto got_c = receive(*c, pool, 12 - to_b);
    EXPECT_EQ(got_b.size(), to_b);
    EXPECT_EQ(got_c.size(), 12 - to_b);
    std::size_t ib = 0;
    std::size_t ic = 0;
    for (std::size_t k = 0; k < 12; ++k) {
      auto& list = packets[k]->meta.remote == b->local_endpoint() ? got_b : got_c;
      std::size_t& i = packets[k]->meta.remote == b->local_endpoint() ? ib : ic;
      ASSERT_LT(i, list.size());
      EXPECT_EQ(list[i]->data()[0], static_cast<std::uint8_t>(k));
      ++i;
    }
    for (PacketBuffer* p : packets) pool.release(p);
    release(pool, got_b);
    release(pool, got_c);
  });
}

// The outer TOS / Traffic Class byte travels with each datagram both ways (DSCP and ECN for RFC
// 6040 tunnels): set from meta.tos on send, read into meta.tos on receipt, also across GSO trains
// (which never mix TOS values) and GRO.
TEST(UdpSocket, CarriesTheTosByteOfEachDatagram) {
  UIPSEC_IN_NETNS([] {
    configure_loopback();
    for (const bool offload : {false, true}) {
      // "any": the daemon's default wildcard socket, IPv4 v4-mapped inside the kernel.
      for (const char* local : {"198.18.1.1", "2001:db8:1::1", "any"}) {
        const std::string which(local);
        const bool v6 = which.find(':') != std::string::npos;
        const bool any = which == "any";
        auto a =
            open_offload_socket(any ? std::nullopt : std::optional(ip(local)), offload, offload);
        auto b = open_offload_socket(any  ? std::nullopt
                                     : v6 ? std::optional(ip("2001:db8:1::2"))
                                          : std::optional(ip("198.18.1.2")),
                                     offload, offload);
        ASSERT_TRUE(a && b);
        const Endpoint to =
            any ? Endpoint{ip("198.18.1.2"), b->local_endpoint().port} : b->local_endpoint();
        PacketPool pool(64);
        const std::uint8_t tos[] = {0x00, 0xb8 | 0x02, 0xb8 | 0x03, 0x01, 0x01, 0x01, 0x28};
        std::vector<PacketBuffer*> packets;
        for (std::uint8_t t : tos) {
          PacketBuffer* p = pool.acquire();
          ASSERT_TRUE(p->assign(std::vector<std::uint8_t>(200, t)));
          p->meta.remote = to;
          p->meta.tos = t;
          packets.push_back(p);
        }
        ASSERT_EQ(a->send_batch(packets), std::size(tos));
        release(pool, packets);
        auto got = receive(*b, pool, std::size(tos));
        ASSERT_EQ(got.size(), std::size(tos)) << local << " offload " << offload;
        for (std::size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i]->meta.tos, got[i]->data()[0])
              << local << " offload " << offload << " datagram " << i;
        }
        release(pool, got);
      }
    }
  });
}

}  // namespace
}  // namespace uipsec
