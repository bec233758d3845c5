#include "daemon/virtual_ips.hpp"

#include <gtest/gtest.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "io/linux_tun.hpp"
#include "io/netns_test_support.hpp"
#include "io/tun_group.hpp"

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

// uipsec.tun_per_virtual_ip: each address gets a device of its own (named after the main one),
// in the worker's group, counted in the statistics while it lives; delete and stop remove it.
TEST(VirtualIps, EachAddressGetsADeviceOfItsOwn) {
  UIPSEC_IN_NETNS([] {
    if (::access("/dev/net/tun", F_OK) != 0) test::skip_in_child("no /dev/net/tun on this host");
    auto tun = LinuxTun::create("vi0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    QsbrDomain domain;
    auto group = TunGroup::open(**tun, domain);
    ASSERT_TRUE(group.ok()) << group.error().message();
    auto opened = VirtualIps::open((*tun)->ifindex(), "vi0", [](const std::string&) {});
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    auto& ips = **opened;
    std::vector<std::string> seams;
    std::size_t removed = 0;
    VirtualIps::DevicePerAddress devices;
    devices.base_name = "vi0";
    devices.mtu = 1400;
    devices.groups = {group->get()};
    devices.domain = &domain;
    std::vector<std::uint32_t> seam_devices;
    devices.counters_added = [&](const std::string& seam, const IoCounters&,
                                 InterfaceIndex device) {
      seams.push_back(seam);
      seam_devices.push_back(device.value());
    };
    devices.counters_removed = [&](const IoCounters&) { ++removed; };
    ips.set_device_per_address(std::move(devices));

    ASSERT_TRUE(ips.add_address(ip("198.18.50.1")).ok());
    ASSERT_TRUE(ips.add_address(ip("2001:db8:50::1")).ok());
    ASSERT_TRUE(ips.add_address(ip("198.18.50.1")).ok()) << "present already: fine";
    EXPECT_EQ(ips.device_of(ip("198.18.50.1")), "vi0v1");
    EXPECT_EQ(ips.device_of(ip("2001:db8:50::1")), "vi0v2");
    EXPECT_NE(::if_nametoindex("vi0v1"), 0u);
    EXPECT_EQ(seams, (std::vector<std::string>{"tun-vi0v1", "tun-vi0v2"}));
    // Each device's first (here: only) queue carries its interface, for the kernel's drops.
    EXPECT_EQ(seam_devices,
              (std::vector<std::uint32_t>{::if_nametoindex("vi0v1"), ::if_nametoindex("vi0v2")}));
    const auto members = (*group)->members();
    ASSERT_EQ(members.size(), 2u);
    EXPECT_EQ(members[0].address, ip("198.18.50.1"));
    EXPECT_EQ(members[0].device->name(), "vi0v1");
    auto listed = global(ips);
    EXPECT_TRUE(has(listed, DeviceAddress{ip("198.18.50.1"), 32, true}));
    EXPECT_TRUE(has(listed, DeviceAddress{ip("2001:db8:50::1"), 128, true}));
    // The address is on its own device, not on the main one.
    auto netlink = InterfaceAddresses::open();
    ASSERT_TRUE(netlink.ok());
    auto on_main = netlink->list((*tun)->ifindex());
    ASSERT_TRUE(on_main.ok());
    for (const auto& a : *on_main) EXPECT_NE(a.address, ip("198.18.50.1"));
    auto on_own = netlink->list(InterfaceIndex(::if_nametoindex("vi0v1")));
    ASSERT_TRUE(on_own.ok());
    std::vector<IpAddress> own;
    for (const auto& a : *on_own) {
      if (!IpPrefix(ip("fe80::"), 10).contains(a.address)) own.push_back(a.address);
    }
    EXPECT_EQ(own, std::vector<IpAddress>{ip("198.18.50.1")});

    ASSERT_TRUE(ips.remove_address(ip("198.18.50.1")).ok());
    EXPECT_EQ(::if_nametoindex("vi0v1"), 0u) << "the device goes with its address";
    EXPECT_EQ(removed, 1u);
    EXPECT_EQ((*group)->members().size(), 1u);
    EXPECT_FALSE(ips.remove_address(ip("198.18.50.1")).ok());
    ASSERT_TRUE(ips.add_address(ip("198.18.50.3")).ok());
    EXPECT_EQ(ips.device_of(ip("198.18.50.3")), "vi0v1") << "the lowest free number";

    opened->reset();  // the daemon stops: every device goes
    EXPECT_EQ(::if_nametoindex("vi0v1"), 0u);
    EXPECT_EQ(::if_nametoindex("vi0v2"), 0u);
    EXPECT_TRUE((*group)->members().empty());
    EXPECT_EQ(removed, 3u);
  });
}

}  // namespace
}  // namespace uipsec
