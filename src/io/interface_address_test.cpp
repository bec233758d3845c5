#include "io/interface_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "io/linux_tun.hpp"
#include "io/netlink_message.hpp"
#include "io/netns_test_support.hpp"

namespace uipsec {
namespace {

using test::ip;

InterfaceAddress address(std::uint32_t ifindex, const char* text, std::uint8_t length) {
  InterfaceAddress a;
  a.ifindex = InterfaceIndex(ifindex);
  a.address = ip(text);
  a.prefix_length = length;
  return a;
}

TEST(InterfaceAddress, RequestsParseBackWithTheirTag) {
  for (const InterfaceAddress& a :
       {address(7, "198.18.50.1", 32), address(9, "2001:db8:50::1", 128)}) {
    alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
    const nlmsghdr* request = build_interface_address_request(buffer, RTM_NEWADDR, 1, a);
    EXPECT_NE(request->nlmsg_flags & NLM_F_ACK, 0);
    EXPECT_NE(request->nlmsg_flags & NLM_F_EXCL, 0);
    const auto parsed = parse_interface_address(request);
    ASSERT_TRUE(parsed.has_value()) << to_string(a);
    EXPECT_EQ(*parsed, a);
    // A delete names the address without the tag (the kernel would not match on it anyway).
    const auto deleted =
        parse_interface_address(build_interface_address_request(buffer, RTM_DELADDR, 2, a));
    ASSERT_TRUE(deleted.has_value());
    EXPECT_EQ(deleted->protocol, 0);
    EXPECT_EQ(deleted->address, a.address);
  }
  EXPECT_EQ(to_string(address(7, "198.18.50.1", 32)), "198.18.50.1/32 dev 7 proto 85");
}

TEST(InterfaceAddress, RefusesWhatIsNotAnAddressMessage) {
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
  nlmsghdr* request =
      build_interface_address_request(buffer, RTM_NEWADDR, 1, address(7, "198.18.50.1", 32));
  request->nlmsg_type = RTM_NEWROUTE;
  EXPECT_FALSE(parse_interface_address(request).has_value());
  request->nlmsg_type = RTM_NEWADDR;
  request->nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg)) - 1;  // header cut short
  EXPECT_FALSE(parse_interface_address(request).has_value());
}

TEST(InterfaceAddress, AddsListsAndFlushesOnlyItsOwnInANamespace) {
  UIPSEC_IN_NETNS([] {
    if (::access("/dev/net/tun", F_OK) != 0) test::skip_in_child("no /dev/net/tun on this host");
    auto tun = LinuxTun::create("va0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    auto opened = InterfaceAddresses::open();
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    InterfaceAddresses& addresses = *opened;
    const std::uint32_t index = (*tun)->ifindex().value();
    const InterfaceAddress v4 = address(index, "198.18.50.1", 32);
    const InterfaceAddress v6 = address(index, "2001:db8:50::1", 128);
    for (const auto& a : {v4, v6}) {
      auto r = addresses.add(a);
      ASSERT_TRUE(r.ok()) << r.error().message();
      r = addresses.add(a);  // present already: fine
      ASSERT_TRUE(r.ok()) << r.error().message();
    }
    // Someone else's address on the same device (no tag).
    ASSERT_EQ(test::add_address("va0", "198.18.51.1/32"), "");

    // The kernel's own IPv6 link-local address of the device is not counted.
    const auto global = [&] {
      auto all = addresses.list((*tun)->ifindex());
      EXPECT_TRUE(all.ok()) << all.error().message();
      std::vector<InterfaceAddress> out;
      for (const auto& a : all.ok() ? *all : std::vector<InterfaceAddress>{}) {
        if (!IpPrefix(ip("fe80::"), 10).contains(a.address)) out.push_back(a);
      }
      return out;
    };
    auto listed = global();
    const auto has = [&](const InterfaceAddress& a) {
      return std::find(listed.begin(), listed.end(), a) != listed.end();
    };
    EXPECT_TRUE(has(v4));
    EXPECT_TRUE(has(v6));  // IPv6 with its tag: nodad, no tentative state needed
    EXPECT_EQ(listed.size(), 3u);
    if (test::have_ip_command()) {
      const std::string shown = test::command_output("ip -6 addr show dev va0 scope global");
      EXPECT_NE(shown.find("2001:db8:50::1/128"), std::string::npos) << shown;
      EXPECT_EQ(shown.find("tentative"), std::string::npos) << shown;
    }

    auto flushed = addresses.flush((*tun)->ifindex());
    ASSERT_TRUE(flushed.ok()) << flushed.error().message();
    EXPECT_EQ(*flushed, 2u);
    listed = global();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed.front().address, ip("198.18.51.1"));
    EXPECT_TRUE(addresses.remove(v4).ok()) << "gone already: fine";
  });
}

// The kernel's counters of a TUN device nobody reads: what it routes there beyond the queue's
// room (tx_queue_len packets) is dropped and counted in tx_dropped.
TEST(InterfaceAddress, LinkDropsCountWhatAnUnreadTunDeviceHadNoRoomFor) {
  UIPSEC_IN_NETNS([] {
    if (::access("/dev/net/tun", F_OK) != 0) test::skip_in_child("no /dev/net/tun on this host");
    auto tun = LinuxTun::create("vd0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    ASSERT_EQ(test::add_address("vd0", "198.18.0.1/24"), "");
    auto opened = InterfaceAddresses::open();
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    auto before = opened->link_drops((*tun)->ifindex());
    ASSERT_TRUE(before.ok()) << before.error().message();
    EXPECT_EQ(before->ifindex, (*tun)->ifindex());
    EXPECT_EQ(before->tx_dropped, 0u);

    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    ASSERT_EQ(::inet_pton(AF_INET, "198.18.0.2", &to.sin_addr), 1);
    const char payload[64] = {};
    constexpr int kSent = 1500;  // three times the default queue of 500
    for (int i = 0; i < kSent; ++i) {
      ASSERT_EQ(
          ::sendto(fd, payload, sizeof(payload), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
          static_cast<ssize_t>(sizeof(payload)));
    }
    ::close(fd);

    auto after = opened->link_drops((*tun)->ifindex());
    ASSERT_TRUE(after.ok()) << after.error().message();
    EXPECT_GE(after->tx_dropped, static_cast<std::uint64_t>(kSent - 600))
        << "the queue holds at most tx_queue_len (500) packets";
    EXPECT_LE(after->tx_dropped, static_cast<std::uint64_t>(kSent));
    EXPECT_EQ(after->rx_dropped, 0u);
  });
}

TEST(InterfaceAddress, LinkDropsOfAMissingInterfaceSayWhich) {
  UIPSEC_IN_NETNS([] {
    auto opened = InterfaceAddresses::open();
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    auto drops = opened->link_drops(InterfaceIndex(4000));
    ASSERT_FALSE(drops.ok());
    EXPECT_NE(drops.error().message().find("interface 4000"), std::string::npos)
        << drops.error().message();
  });
}

}  // namespace
}  // namespace uipsec
