#include "io/linux_tun.hpp"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/if_tun.h>
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
