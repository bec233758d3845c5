#include "daemon/virtual_ips.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "io/linux_tun.hpp"
#include "io/netns_test_support.hpp"

namespace uipsec {
namespace {

using test::ip;

// The device's addresses without the kernel's IPv6 link-local one.
std::vector<DeviceAddress> global(VirtualIps& ips) {
  auto all = ips.list_addresses();
  EXPECT_TRUE(all.ok()) << all.error().message();
  std::vector<DeviceAddress> out;
  for (const auto& a : all.ok() ? *all : std::vector<DeviceAddress>{}) {
    if (!IpPrefix(ip("fe80::"), 10).contains(a.address)) out.push_back(a);
  }
  return out;
}

bool has(const std::vector<DeviceAddress>& list, const DeviceAddress& a) {
  return std::find(list.begin(), list.end(), a) != list.end();
}

TEST(VirtualIps, LeftoversGoAtOpenOursAtDestructionOthersStay) {
  UIPSEC_IN_NETNS([] {
    if (::access("/dev/net/tun", F_OK) != 0) test::skip_in_child("no /dev/net/tun on this host");
    auto tun = LinuxTun::create("vi0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    const InterfaceIndex index = (*tun)->ifindex();
    // An earlier run's address (tagged) and an administrator's (untagged).
    {
      auto netlink = InterfaceAddresses::open();
      ASSERT_TRUE(netlink.ok()) << netlink.error().message();
      ASSERT_TRUE(netlink->add(InterfaceAddress{index, ip("198.18.50.9"), 32}).ok());
    }
    ASSERT_EQ(test::add_address("vi0", "198.18.51.1/32"), "");

    std::vector<std::string> warnings;
    auto opened =
        VirtualIps::open(index, "vi0", [&](const std::string& line) { warnings.push_back(line); });
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    auto& ips = **opened;
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0], "removed 1 virtual IP(s) an earlier run left on vi0");
    auto listed = global(ips);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0], (DeviceAddress{ip("198.18.51.1"), 32, false}));

    ASSERT_TRUE(ips.add_address(ip("198.18.50.1")).ok());
    ASSERT_TRUE(ips.add_address(ip("198.18.50.1")).ok()) << "present already: fine";
    ASSERT_TRUE(ips.add_address(ip("2001:db8:50::1")).ok());
    listed = global(ips);
    EXPECT_EQ(listed.size(), 3u);
    EXPECT_TRUE(has(listed, DeviceAddress{ip("198.18.50.1"), 32, true}));
    EXPECT_TRUE(has(listed, DeviceAddress{ip("2001:db8:50::1"), 128, true}));

    auto refused = ips.remove_address(ip("198.18.51.1"));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().message(),
              "198.18.51.1/32 on vi0 was not added by uipsec; not removing it");
    refused = ips.remove_address(ip("198.18.50.7"));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().message(), "198.18.50.7/32 is not on vi0");
    ASSERT_TRUE(ips.remove_address(ip("2001:db8:50::1")).ok());
    EXPECT_EQ(global(ips).size(), 2u);

    opened->reset();  // the daemon stops: ours go, the administrator's stays
    auto netlink = InterfaceAddresses::open();
    ASSERT_TRUE(netlink.ok());
    auto left = netlink->list(index);
    ASSERT_TRUE(left.ok()) << left.error().message();
    std::vector<IpAddress> addresses;
    for (const auto& a : *left) {
      if (!IpPrefix(ip("fe80::"), 10).contains(a.address)) addresses.push_back(a.address);
    }
    EXPECT_EQ(addresses, std::vector<IpAddress>{ip("198.18.51.1")});
  });
}

}  // namespace
}  // namespace uipsec
