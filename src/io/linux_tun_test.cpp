#include "io/linux_tun.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "base/unique_fd.hpp"
#include "io/netns_test_support.hpp"

namespace uipsec {
namespace {

using test::ip;

void require_tun() {
  if (::access("/dev/net/tun", F_OK) != 0) test::skip_in_child("no /dev/net/tun on this host");
}

std::uint32_t kernel_mtu(const std::string& name) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFMTU, &ifr) != 0) return 0;
  return static_cast<std::uint32_t>(ifr.ifr_mtu);
}

short kernel_flags(const std::string& name) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return 0;
  return ifr.ifr_flags;
}

// What `ip tuntap add dev NAME mode tun user UID` does: a persistent TUN device owned by `uid`.
void make_persistent_tun(const char* name, uid_t uid) {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.valid()) << std::strerror(errno);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  ASSERT_EQ(::ioctl(fd.get(), TUNSETIFF, &ifr), 0) << std::strerror(errno);
  ASSERT_EQ(::ioctl(fd.get(), TUNSETOWNER, static_cast<unsigned long>(uid)), 0);
  ASSERT_EQ(::ioctl(fd.get(), TUNSETPERSIST, 1UL), 0);
}

// Reads from `tun` until a packet satisfies `wanted` (other traffic such as IPv6 router
// solicitations may be there too) or a poll times out.
bool read_until(TunDevice& tun, PacketPool& pool,
                const std::function<bool(const PacketBuffer&)>& wanted, std::size_t count) {
  std::size_t found = 0;
  for (int round = 0; round < 50 && found < count; ++round) {
    pollfd p{tun.fd(), POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    PacketBatch batch;
    tun.read_batch(pool, batch);
    for (std::size_t i = 0; i < batch.size; ++i) {
      if (wanted(*batch.packets[i])) ++found;
      pool.release(batch.packets[i]);
    }
  }
  return found == count;
}

bool is_udp_to(const PacketBuffer& p, const IpAddress& destination, std::uint16_t port,
               std::uint8_t fill) {
  const std::uint8_t* d = p.data();
  if (destination.is_v4()) {
    return p.size() >= 28 && (d[0] >> 4) == 4 && d[9] == 17 &&
           std::memcmp(d + 16, destination.data(), 4) == 0 && load_be16(d + 22) == port &&
           d[p.size() - 1] == fill;
  }
  return p.size() >= 48 && (d[0] >> 4) == 6 && d[6] == 17 &&
         std::memcmp(d + 24, destination.data(), 16) == 0 && load_be16(d + 42) == port &&
         d[p.size() - 1] == fill;
}

void send_udp(const IpAddress& to, std::uint16_t port, std::size_t size, std::uint8_t fill) {
  sockaddr_storage address{};
  socklen_t length;
  if (to.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&address);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, to.data(), 4);
    length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&address);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, to.data(), 16);
    length = sizeof(sockaddr_in6);
  }
  UniqueFd s(::socket(to.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM, 0));
  std::vector<std::uint8_t> payload(size, fill);
  ASSERT_EQ(::sendto(s.get(), payload.data(), payload.size(), 0,
                     reinterpret_cast<const sockaddr*>(&address), length),
            static_cast<ssize_t>(size))
      << std::strerror(errno);
}

TEST(LinuxTun, RefusesBadNamesBeforeTouchingTheKernel) {
  auto too_long = LinuxTun::create("a-name-that-is-too-long", 1400);
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message().find("1 to 15 bytes"), std::string::npos)
      << too_long.error().message();
  auto slash = LinuxTun::attach("bad/name");
  ASSERT_FALSE(slash.ok());
  auto mtu = LinuxTun::create("utun0", 20);
  ASSERT_FALSE(mtu.ok());
  EXPECT_NE(mtu.error().message().find("MTU must be"), std::string::npos);
}

TEST(LinuxTun, AttachToMissingDeviceSaysHowToMakeIt) {
  // No privilege needed: the device is looked up before /dev/net/tun is opened.
  auto tun = LinuxTun::attach("uipsecnx7");
  ASSERT_FALSE(tun.ok());
  const std::string& message = tun.error().message();
  EXPECT_NE(message.find("cannot attach to TUN device uipsecnx7: no such device"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("ip tuntap add dev uipsecnx7 mode tun user"), std::string::npos)
      << message;
}

TEST(LinuxTun, CreatesDeviceWithMtuUpAndRemovesItOnClose) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    {
      auto tun = LinuxTun::create("utun0", 1400);
      ASSERT_TRUE(tun.ok()) << tun.error().message();
      EXPECT_EQ((*tun)->name(), "utun0");
      EXPECT_EQ((*tun)->mtu(), 1400u);
      EXPECT_FALSE((*tun)->persistent());
      EXPECT_EQ((*tun)->ifindex().value(), ::if_nametoindex("utun0"));
      EXPECT_EQ(kernel_mtu("utun0"), 1400u);
      EXPECT_NE(kernel_flags("utun0") & IFF_UP, 0);

      auto again = LinuxTun::create("utun0", 1400);
      ASSERT_FALSE(again.ok());
      EXPECT_NE(again.error().message().find("exists already"), std::string::npos)
          << again.error().message();
      auto attach = LinuxTun::attach("utun0");
      ASSERT_FALSE(attach.ok()) << "a device in use by another descriptor cannot be attached";
    }
    EXPECT_EQ(::if_nametoindex("utun0"), 0u) << "closing must remove a non-persistent device";

    auto numbered = LinuxTun::create("utun%d", 1500);
    ASSERT_TRUE(numbered.ok()) << numbered.error().message();
    EXPECT_EQ((*numbered)->name().rfind("utun", 0), 0u);
    EXPECT_NE((*numbered)->name(), "utun%d");
  });
}

TEST(LinuxTun, ReadsPacketsTheKernelRoutesIntoIt) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto tun = LinuxTun::create("utun0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    ASSERT_EQ(test::add_address("utun0", "198.18.0.1/24"), "");
    ASSERT_EQ(test::add_address("utun0", "2001:db8:1::1/64"), "");
    PacketPool pool(16);

    for (int i = 0; i < 3; ++i) send_udp(ip("198.18.0.2"), 9999, 100, 0xa1);
    EXPECT_TRUE(read_until(
        **tun, pool,
        [](const PacketBuffer& p) { return is_udp_to(p, ip("198.18.0.2"), 9999, 0xa1); }, 3));
    send_udp(ip("2001:db8:1::2"), 9998, 200, 0xb2);
    EXPECT_TRUE(read_until(
        **tun, pool,
        [](const PacketBuffer& p) { return is_udp_to(p, ip("2001:db8:1::2"), 9998, 0xb2); }, 1));

    const IoCounters& c = (*tun)->counters();
    EXPECT_GE(c.rx_packets.get(), 4u);
    EXPECT_EQ(c.rx_errors.get(), 0u);
    EXPECT_EQ(pool.available(), pool.count()) << "every buffer went back";

    // Nothing more to read: returns 0 without blocking and leaves the pool full.
    PacketBatch batch;
    while ((*tun)->read_batch(pool, batch) != 0) {
      for (std::size_t i = 0; i < batch.size; ++i) pool.release(batch.packets[i]);
      batch.clear();
    }
    EXPECT_EQ(batch.size, 0u);
    EXPECT_EQ(pool.available(), pool.count());
  });
}

// A multi-queue device: the kernel spreads flows over the queues by hash, so many flows reach
// more than one queue; every packet is read from exactly one of them.
TEST(LinuxTun, MultiQueueSpreadsFlowsOverQueues) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto first = LinuxTun::create("utun0", 1400, /*offload=*/true, /*gro=*/false,
                                  /*multi_queue=*/true);
    ASSERT_TRUE(first.ok()) << first.error().message();
    EXPECT_TRUE((*first)->multi_queue());
    std::vector<std::unique_ptr<LinuxTun>> queues;
    queues.push_back(std::move(*first));
    for (int i = 1; i < 4; ++i) {
      auto q = queues.front()->open_queue(/*gro=*/false);
      ASSERT_TRUE(q.ok()) << q.error().message();
      EXPECT_EQ((*q)->ifindex(), queues.front()->ifindex());
      EXPECT_EQ((*q)->vnet_hdr(), queues.front()->vnet_hdr());
      queues.push_back(std::move(*q));
    }
    ASSERT_EQ(test::add_address("utun0", "198.18.0.1/24"), "");
    constexpr int kFlows = 64;
    for (int port = 0; port < kFlows; ++port) {
      send_udp(ip("198.18.0.2"), static_cast<std::uint16_t>(20000 + port), 100, 0xd4);
    }
    PacketPool pool(kFlows * 2);
    int total = 0;
    int queues_used = 0;
    for (auto& q : queues) {
      PacketBatch batch;
      q->read_batch(pool, batch);
      int mine = 0;
      for (std::size_t i = 0; i < batch.size; ++i) {
        if (is_udp_to(*batch.packets[i], ip("198.18.0.2"), load_be16(batch.packets[i]->data() + 22),
                      0xd4)) {
          ++mine;
        }
        pool.release(batch.packets[i]);
      }
      total += mine;
      if (mine > 0) ++queues_used;
    }
    EXPECT_EQ(total, kFlows) << "every packet from exactly one queue";
    EXPECT_GE(queues_used, 2) << "64 flows hashed onto one of four queues";

    queues.clear();
    EXPECT_EQ(::if_nametoindex("utun0"), 0u) << "closing the last queue removes the device";

    auto single = LinuxTun::create("utun1", 1400);
    ASSERT_TRUE(single.ok()) << single.error().message();
    EXPECT_FALSE((*single)->multi_queue());
    auto refused = (*single)->open_queue(false);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("single-queue"), std::string::npos)
        << refused.error().message();
  });
}

// A persistent multi-queue device (`ip tuntap add ... multi_queue`) is attached as one.
TEST(LinuxTun, AttachesToMultiQueueDevice) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    {
      UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
      ASSERT_TRUE(fd.valid());
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, "mtun0", IFNAMSIZ - 1);
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
      ASSERT_EQ(::ioctl(fd.get(), TUNSETIFF, &ifr), 0) << std::strerror(errno);
      ASSERT_EQ(::ioctl(fd.get(), TUNSETPERSIST, 1UL), 0);
    }
    auto tun = LinuxTun::attach("mtun0");
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    EXPECT_TRUE((*tun)->multi_queue());
    auto second = (*tun)->open_queue(false);
    ASSERT_TRUE(second.ok()) << second.error().message();
    EXPECT_TRUE((*second)->persistent());
  });
}

TEST(LinuxTun, ReadStopsWhenPoolOrBatchIsFull) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto tun = LinuxTun::create("utun0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    ASSERT_EQ(test::add_address("utun0", "198.18.0.1/24"), "");
    for (int i = 0; i < 5; ++i) send_udp(ip("198.18.0.2"), 9999, 64, 0xc3);
    PacketPool pool(2);
    PacketBatch batch;
    while (batch.size < 2) {
      pollfd p{(*tun)->fd(), POLLIN, 0};
      ASSERT_EQ(::poll(&p, 1, 2000), 1);
      (*tun)->read_batch(pool, batch);
    }
    EXPECT_EQ(batch.size, 2u) << "no more than the pool holds";
    EXPECT_EQ(pool.available(), 0u);
    EXPECT_EQ((*tun)->read_batch(pool, batch), 0u) << "no buffer, no read";
    for (std::size_t i = 0; i < batch.size; ++i) pool.release(batch.packets[i]);
    batch.clear();

    batch.size = kMaxBatch - 1;  // room for one more
    pollfd p{(*tun)->fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    EXPECT_EQ((*tun)->read_batch(pool, batch), 1u);
    EXPECT_TRUE(batch.full());
    pool.release(batch.packets[kMaxBatch - 1]);
  });
}

TEST(LinuxTun, WritesPacketsIntoTheKernel) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto tun = LinuxTun::create("utun0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    ASSERT_EQ(test::add_address("utun0", "198.18.0.1/24"), "");
    ASSERT_EQ(test::add_address("utun0", "2001:db8:1::1/64"), "");

    for (const char* local : {"198.18.0.1", "2001:db8:1::1"}) {
      const IpAddress address = ip(local);
      const IpAddress peer = address.is_v4() ? ip("198.18.0.2") : ip("2001:db8:1::2");
      UniqueFd s(::socket(address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0));
      sockaddr_storage bound{};
      socklen_t length;
      if (address.is_v4()) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&bound);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(5555);
        std::memcpy(&sin->sin_addr, address.data(), 4);
        length = sizeof(sockaddr_in);
      } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&bound);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(5555);
        std::memcpy(&sin6->sin6_addr, address.data(), 16);
        length = sizeof(sockaddr_in6);
      }
      ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&bound), length), 0)
          << local << ": " << std::strerror(errno);

      PacketPool pool(2);
      PacketBuffer* p = pool.acquire();
      ASSERT_TRUE(p->assign(test::udp_packet(peer, 7777, address, 5555, {1, 2, 3, 4, 5})));
      PacketBuffer* const packets[] = {p};
      EXPECT_EQ((*tun)->write_batch(packets), 1u);
      pool.release(p);

      pollfd pfd{s.get(), POLLIN, 0};
      ASSERT_EQ(::poll(&pfd, 1, 2000), 1) << "the datagram written into " << local << " arrived";
      std::uint8_t received[16];
      sockaddr_storage from{};
      socklen_t from_length = sizeof(from);
      ASSERT_EQ(::recvfrom(s.get(), received, sizeof(received), 0,
                           reinterpret_cast<sockaddr*>(&from), &from_length),
                5);
      EXPECT_EQ(received[4], 5);
    }
    EXPECT_EQ((*tun)->counters().tx_packets.get(), 2u);
  });
}

TEST(LinuxTun, CountsWhatTheKernelRefuses) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto tun = LinuxTun::create("utun0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    PacketPool pool(2);
    PacketBuffer* p = pool.acquire();
    const std::uint8_t not_ip[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    ASSERT_TRUE(p->assign(not_ip));
    PacketBuffer* const packets[] = {p, p};
    EXPECT_EQ((*tun)->write_batch(packets), 0u);
    EXPECT_EQ((*tun)->counters().tx_errors.get(), 2u) << "each failure counted, none thrown";
    EXPECT_EQ((*tun)->counters().last_errno.load(), EINVAL);
    pool.release(p);
  });
}

TEST(LinuxTun, AttachesToPersistentDeviceAndLeavesItThere) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    make_persistent_tun("ptun0", 65534);
    {
      auto tun = LinuxTun::attach("ptun0");
      ASSERT_TRUE(tun.ok()) << tun.error().message();
      EXPECT_TRUE((*tun)->persistent());
      EXPECT_EQ((*tun)->mtu(), 1500u) << "the kernel's MTU, read not set";
      EXPECT_EQ((*tun)->ifindex().value(), ::if_nametoindex("ptun0"));
      EXPECT_EQ(kernel_flags("ptun0") & IFF_UP, 0) << "attach changes nothing";
    }
    EXPECT_NE(::if_nametoindex("ptun0"), 0u) << "a persistent device outlives us";
  });
}

// The unprivileged case: uid 65534 (nobody) without any capability attaches to a device made
// for it, and is refused a device made for someone else. /dev/net/tun may be root-only on this
// host, so the child gets a private mount namespace with a world-accessible copy of the node.
TEST(LinuxTun, AttachWorksWithoutPrivilegeWhenTheOwnerMatches) {
  UIPSEC_IN_NETNS(
      [] {
        require_tun();
        make_persistent_tun("ptun0", 65534);
        make_persistent_tun("ptun1", 65533);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("uipsec-test", "/tmp", "tmpfs", 0, "size=64k") != 0 ||
            ::mknod("/tmp/tun", S_IFCHR | 0666, makedev(10, 200)) != 0 ||
            ::chmod("/tmp/tun", 0666) != 0 ||
            ::mount("/tmp/tun", "/dev/net/tun", nullptr, MS_BIND, nullptr) != 0) {
          test::skip_in_child(std::string("cannot give nobody a TUN node: ") +
                              std::strerror(errno));
        }
        ASSERT_EQ(::setgroups(0, nullptr), 0);
        ASSERT_EQ(::setresgid(65534, 65534, 65534), 0);
        ASSERT_EQ(::setresuid(65534, 65534, 65534), 0);

        auto mine = LinuxTun::attach("ptun0");
        ASSERT_TRUE(mine.ok()) << mine.error().message();
        EXPECT_EQ((*mine)->mtu(), 1500u);

        auto theirs = LinuxTun::attach("ptun1");
        ASSERT_FALSE(theirs.ok());
        EXPECT_NE(theirs.error().message().find("belongs to another user"), std::string::npos)
            << theirs.error().message();
        EXPECT_NE(theirs.error().message().find("uid 65534"), std::string::npos)
            << theirs.error().message();

        auto create = LinuxTun::create("utun9", 1400);
        ASSERT_FALSE(create.ok());
        EXPECT_NE(create.error().message().find("needs CAP_NET_ADMIN"), std::string::npos)
            << create.error().message();
      },
      CLONE_NEWNS);
}

}  // namespace
}  // namespace uipsec

namespace uipsec {
namespace {

// A persistent device as `ip tuntap add dev NAME mode tun [vnet_hdr]` makes it.
void make_persistent_tun_with(const char* name, short extra_flags) {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.valid()) << std::strerror(errno);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | extra_flags);
  ASSERT_EQ(::ioctl(fd.get(), TUNSETIFF, &ifr), 0) << std::strerror(errno);
  ASSERT_EQ(::ioctl(fd.get(), TUNSETPERSIST, 1UL), 0);
}

// Checks an IPv4 UDP packet's lengths and checksums independently of the code under test.
bool valid_udp4(const PacketBuffer& p) {
  const std::uint8_t* d = p.data();
  if (p.size() < 28 || d[0] != 0x45 || load_be16(d + 2) != p.size()) return false;
  auto fold = [](std::uint32_t sum) {
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
  };
  std::uint32_t header = 0;
  for (int i = 0; i < 20; i += 2) header += load_be16(d + i);
  if (fold(header) != 0xffff) return false;
  const std::size_t udp_len = p.size() - 20;
  if (load_be16(d + 24) != udp_len) return false;
  std::uint32_t sum = load_be16(d + 12) + load_be16(d + 14) + load_be16(d + 16) +
                      load_be16(d + 18) + 17 + static_cast<std::uint32_t>(udp_len);
  for (std::size_t i = 20; i < p.size(); i += 2) {
    sum += std::uint32_t{d[i]} << 8 | (i + 1 < p.size() ? d[i + 1] : 0u);
  }
  return fold(sum) == 0xffff;
}

TEST(LinuxTun, OffloadSplitsUdpSuperPacketsIntoValidDatagrams) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto tun = LinuxTun::create("utun0", 1400, /*offload=*/true);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    ASSERT_TRUE((*tun)->vnet_hdr());
    EXPECT_NE((*tun)->offloads() & TUN_F_TSO4, 0u);
    EXPECT_NE((*tun)->offloads() & TUN_F_TSO_ECN, 0u) << "ECN flows' super-packets too";
    ASSERT_EQ(test::add_address("utun0", "198.18.0.1/24"), "");

    // One send of 4 x 1000 bytes with UDP_SEGMENT: with TUN_F_USO4 (Linux 6.2) the device gets
    // it as one super-packet; without, the kernel cuts it first. Either way: 4 datagrams.
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM, 0));
    int gso = 1000;
    ASSERT_EQ(::setsockopt(s.get(), IPPROTO_UDP, 103 /* UDP_SEGMENT */, &gso, sizeof(gso)), 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9999);
    std::memcpy(&to.sin_addr, ip("198.18.0.2").data(), 4);
    std::vector<std::uint8_t> payload(4000);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
    ASSERT_EQ(::sendto(s.get(), payload.data(), payload.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), sizeof(to)),
              4000)
        << std::strerror(errno);

    PacketPool pool(16);
    std::vector<std::uint8_t> got;
    std::size_t datagrams = 0;
    for (int round = 0; round < 50 && datagrams < 4; ++round) {
      pollfd p{(*tun)->fd(), POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      PacketBatch batch;
      (*tun)->read_batch(pool, batch);
      EXPECT_EQ(batch.io_drop_total, 0u);
      for (std::size_t i = 0; i < batch.size; ++i) {
        const PacketBuffer& b = *batch.packets[i];
        if (is_udp_to(b, ip("198.18.0.2"), 9999, b.data()[b.size() - 1])) {
          EXPECT_TRUE(valid_udp4(b)) << "datagram " << datagrams;
          EXPECT_EQ(b.size(), 1028u);
          got.insert(got.end(), b.data() + 28, b.data() + b.size());
          ++datagrams;
        }
        pool.release(batch.packets[i]);
      }
    }
    EXPECT_EQ(datagrams, 4u);
    EXPECT_EQ(got, payload) << "the payload arrives whole and in order";
    EXPECT_EQ(pool.available(), pool.count());
  });
}

TEST(LinuxTun, OffloadWritesCarryAHeaderAndStillArrive) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto tun = LinuxTun::create("utun0", 1400, /*offload=*/true);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    ASSERT_TRUE((*tun)->vnet_hdr());
    ASSERT_EQ(test::add_address("utun0", "198.18.0.1/24"), "");
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0));
    sockaddr_in bound{};
    bound.sin_family = AF_INET;
    bound.sin_port = htons(5555);
    std::memcpy(&bound.sin_addr, ip("198.18.0.1").data(), 4);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
    PacketPool pool(2);
    PacketBuffer* p = pool.acquire();
    ASSERT_TRUE(
        p->assign(test::udp_packet(ip("198.18.0.2"), 7777, ip("198.18.0.1"), 5555, {9, 8, 7})));
    PacketBuffer* const packets[] = {p};
    EXPECT_EQ((*tun)->write_batch(packets), 1u);
    EXPECT_EQ((*tun)->counters().tx_bytes.get(), p->size()) << "the header is not counted";
    pool.release(p);
    pollfd pfd{s.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    std::uint8_t received[8];
    EXPECT_EQ(::recv(s.get(), received, sizeof(received), 0), 3);
  });
}

// IPv4 TCP segment 198.18.0.2:5201 -> 198.18.0.1:40000 with valid checksums, payload bytes
// (seq + i) so that the merged payload is easy to check.
std::vector<std::uint8_t> tcp_segment(std::uint32_t seq, std::size_t payload, std::uint8_t flags,
                                      std::uint16_t source_port = 5201) {
  std::vector<std::uint8_t> p(40 + payload, 0);
  p[0] = 0x45;
  store_be16(&p[2], static_cast<std::uint16_t>(p.size()));
  p[8] = 64;
  p[9] = 6;
  const std::uint8_t src[] = {198, 18, 0, 2};
  const std::uint8_t dst[] = {198, 18, 0, 1};
  std::memcpy(&p[12], src, 4);
  std::memcpy(&p[16], dst, 4);
  store_be16(&p[20], source_port);
  store_be16(&p[22], 40000);
  store_be32(&p[24], seq);
  store_be32(&p[28], 1);
  p[32] = 0x50;
  p[33] = flags;
  store_be16(&p[34], 1000);
  for (std::size_t i = 0; i < payload; ++i) p[40 + i] = static_cast<std::uint8_t>(seq + i);
  auto fold = [](std::uint32_t sum) {
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
  };
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += load_be16(&p[i]);
  store_be16(&p[10], fold(sum));
  sum = load_be16(&p[12]) + load_be16(&p[14]) + load_be16(&p[16]) + load_be16(&p[18]) + 6 +
        static_cast<std::uint32_t>(p.size() - 20);
  for (std::size_t i = 20; i < p.size(); i += 2) {
    sum += std::uint32_t{p[i]} << 8 | (i + 1 < p.size() ? p[i + 1] : 0u);
  }
  store_be16(&p[36], fold(sum));
  return p;
}

// What the kernel receives from the device `ifindex`, with the GSO metadata (PACKET_VNET_HDR):
// an AF_PACKET socket bound to it; invalid (errno set) when that fails.
UniqueFd packet_tap(InterfaceIndex ifindex) {
  UniqueFd tap(::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP)));
  if (!tap.valid()) return tap;
  int on = 1;
  sockaddr_ll where{};
  where.sll_family = AF_PACKET;
  where.sll_protocol = htons(ETH_P_IP);
  where.sll_ifindex = static_cast<int>(ifindex.value());
  if (::setsockopt(tap.get(), SOL_PACKET, PACKET_VNET_HDR, &on, sizeof(on)) != 0 ||
      ::bind(tap.get(), reinterpret_cast<sockaddr*>(&where), sizeof(where)) != 0) {
    const int error = errno;
    tap.reset();
    errno = error;
  }
  return tap;
}

TEST(LinuxTun, GroWritesTcpSegmentsOfOneFlowAsOneSuperPacket) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto tun = LinuxTun::create("utun0", 1400, /*offload=*/true, /*gro=*/true);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    ASSERT_TRUE((*tun)->gro());
    ASSERT_EQ(test::add_address("utun0", "198.18.0.1/24"), "");
    UniqueFd tap = packet_tap((*tun)->ifindex());
    ASSERT_TRUE(tap.valid()) << std::strerror(errno);

    PacketPool pool(16);
    std::vector<PacketBuffer*> packets;
    // Four segments of one flow (PSH on the last), then one of the same flow out of order.
    for (std::uint32_t k = 0; k < 4; ++k) {
      packets.push_back(pool.acquire());
      ASSERT_TRUE(packets.back()->assign(
          tcp_segment(1000 + k * 1200, k == 3 ? 500 : 1200, k == 3 ? 0x18 : 0x10)));
    }
    packets.push_back(pool.acquire());
    ASSERT_TRUE(packets.back()->assign(tcp_segment(90000, 1200, 0x10)));
    EXPECT_EQ((*tun)->write_batch(packets), 5u) << "segments, as the paths count them";
    EXPECT_EQ((*tun)->counters().tx_packets.get(), 5u);
    EXPECT_EQ((*tun)->counters().tx_errors.get(), 0u);
    for (PacketBuffer* p : packets) pool.release(p);

    std::vector<std::pair<std::size_t, std::uint16_t>> frames;  // (IP size, gso_size)
    std::vector<std::uint8_t> frame(70000);
    for (int i = 0; i < 10 && frames.size() < 2; ++i) {
      pollfd p{tap.get(), POLLIN, 0};
      if (::poll(&p, 1, 2000) != 1) break;
      const ssize_t n = ::recv(tap.get(), frame.data(), frame.size(), 0);
      ASSERT_GE(n, static_cast<ssize_t>(kVirtioNetHdrSize + 40));
      const VirtioNetHdr hdr = VirtioNetHdr::read(frame.data());
      const std::uint8_t* ip_packet = frame.data() + kVirtioNetHdrSize;
      if (ip_packet[9] != 6) continue;  // not ours
      frames.emplace_back(static_cast<std::size_t>(n) - kVirtioNetHdrSize, hdr.gso_size);
      if (frames.size() == 1) {
        EXPECT_EQ(hdr.gso_type, VirtioNetHdr::kGsoTcpV4);
        EXPECT_EQ(load_be16(ip_packet + 2), 40u + 3 * 1200 + 500);
        EXPECT_EQ(ip_packet[33] & 0x08, 0x08) << "PSH of the last segment kept";
        bool payload_ok = true;
        for (std::size_t j = 0; j < 3 * 1200 + 500; ++j) {
          payload_ok = payload_ok && ip_packet[40 + j] == static_cast<std::uint8_t>(1000 + j);
        }
        EXPECT_TRUE(payload_ok) << "the payloads follow each other in order";
      }
    }
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0], (std::pair<std::size_t, std::uint16_t>{40 + 3 * 1200 + 500, 1200}));
    EXPECT_EQ(frames[1], (std::pair<std::size_t, std::uint16_t>{40 + 1200, 0}))
        << "the out-of-order segment goes alone";
  });
}

// Segments of two flows interleaved in one batch are coalesced per flow; a packet that is no
// candidate (here a FIN) closes every group, so nothing overtakes it.
TEST(LinuxTun, GroCoalescesInterleavedFlowsApart) {
  UIPSEC_IN_NETNS([] {
    require_tun();
    auto tun = LinuxTun::create("utun0", 1400, /*offload=*/true, /*gro=*/true);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    ASSERT_EQ(test::add_address("utun0", "198.18.0.1/24"), "");
    UniqueFd tap = packet_tap((*tun)->ifindex());
    ASSERT_TRUE(tap.valid()) << std::strerror(errno);

    PacketPool pool(16);
    std::vector<PacketBuffer*> packets;
    auto add = [&](std::uint32_t seq, std::size_t size, std::uint8_t flags, std::uint16_t port) {
      packets.push_back(pool.acquire());
      ASSERT_TRUE(packets.back()->assign(tcp_segment(seq, size, flags, port)));
    };
    for (std::uint32_t k = 0; k < 3; ++k) {
      add(1000 + k * 1200, 1200, 0x10, 5201);  // flow A
      add(7000 + k * 1200, 1200, 0x10, 5202);  // flow B
    }
    add(50000, 100, 0x11, 5203);             // FIN|ACK of flow C: no candidate
    add(1000 + 3 * 1200, 1200, 0x10, 5201);  // A continues after it
    add(7000 + 3 * 1200, 1200, 0x10, 5202);  // B too
    EXPECT_EQ((*tun)->write_batch(packets), 9u);
    EXPECT_EQ((*tun)->counters().tx_errors.get(), 0u);
    for (PacketBuffer* p : packets) pool.release(p);

    struct Frame {
      std::uint16_t port;
      std::uint32_t seq;
      std::size_t size;
      std::uint16_t gso_size;
      bool payload_ok;
    };
    std::vector<Frame> frames;
    std::vector<std::uint8_t> frame(70000);
    for (int i = 0; i < 20 && frames.size() < 5; ++i) {
      pollfd p{tap.get(), POLLIN, 0};
      if (::poll(&p, 1, 2000) != 1) break;
      const ssize_t n = ::recv(tap.get(), frame.data(), frame.size(), 0);
      ASSERT_GE(n, static_cast<ssize_t>(kVirtioNetHdrSize + 40));
      const VirtioNetHdr hdr = VirtioNetHdr::read(frame.data());
      const std::uint8_t* ip_packet = frame.data() + kVirtioNetHdrSize;
      if (ip_packet[9] != 6) continue;  // not ours
      const std::size_t size = static_cast<std::size_t>(n) - kVirtioNetHdrSize;
      const std::uint32_t seq = load_be32(ip_packet + 24);
      bool payload_ok = true;
      for (std::size_t j = 40; j < size; ++j) {
        payload_ok = payload_ok && ip_packet[j] == static_cast<std::uint8_t>(seq + j - 40);
      }
      frames.push_back({load_be16(ip_packet + 20), seq, size, hdr.gso_size, payload_ok});
    }
    ASSERT_EQ(frames.size(), 5u);
    const std::size_t three = 40 + 3 * 1200;
    EXPECT_EQ(frames[0].port, 5201);
    EXPECT_EQ(frames[0].size, three) << "A's first three segments as one";
    EXPECT_EQ(frames[0].gso_size, 1200);
    EXPECT_EQ(frames[1].port, 5202);
    EXPECT_EQ(frames[1].size, three) << "B's first three segments as one";
    EXPECT_EQ(frames[2].port, 5203) << "the FIN is not overtaken";
    EXPECT_EQ(frames[3].port, 5201);
    EXPECT_EQ(frames[3].seq, 1000u + 3 * 1200);
    EXPECT_EQ(frames[3].gso_size, 0) << "alone: the groups closed at the FIN";
    EXPECT_EQ(frames[4].port, 5202);
    for (const Frame& f : frames) EXPECT_TRUE(f.payload_ok) << f.port << " " << f.seq;
  });
}

TEST(LinuxTun, AttachUsesVnetHdrOnlyWhenTheDeviceHasIt) {
  UIPSEC_IN_NETNS(
      [] {
        require_tun();
        // The namespace's own sysfs (as `ip netns exec` mounts it), where attach() reads tun_flags.
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::umount2("/sys", MNT_DETACH) != 0 ||
            ::mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) {
          test::skip_in_child(std::string("cannot mount this namespace's sysfs: ") +
                              std::strerror(errno));
        }
        make_persistent_tun_with("ptun0", 0);
        make_persistent_tun_with("ptun1", IFF_VNET_HDR);
        {
          auto plain = LinuxTun::attach("ptun0", /*offload=*/true);
          ASSERT_TRUE(plain.ok()) << plain.error().message();
          EXPECT_FALSE((*plain)->vnet_hdr())
              << "a device made without vnet_hdr keeps plain framing";
          EXPECT_EQ((*plain)->offloads(), 0u);
          auto offloaded = LinuxTun::attach("ptun1", /*offload=*/true);
          ASSERT_TRUE(offloaded.ok()) << offloaded.error().message();
          EXPECT_TRUE((*offloaded)->vnet_hdr());
          EXPECT_NE((*offloaded)->offloads() & TUN_F_TSO4, 0u);
        }
        // Offload off: the vnet_hdr device is still opened as it is (its framing is the device's),
        // but no offloads are switched on.
        auto off = LinuxTun::attach("ptun1", /*offload=*/false);
        ASSERT_TRUE(off.ok()) << off.error().message();
        EXPECT_TRUE((*off)->vnet_hdr());
        EXPECT_EQ((*off)->offloads(), 0u);
      },
      CLONE_NEWNS);
}

}  // namespace
}  // namespace uipsec
