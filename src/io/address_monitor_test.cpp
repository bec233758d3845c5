#include "io/address_monitor.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>

#include "io/linux_tun.hpp"
#include "io/netns_test_support.hpp"

namespace uipsec {
namespace {

using test::ip;

// Waits (up to 2 s) for announcements and collects them; none of this sleeps blindly.
std::vector<AddressChange> changes_from(AddressMonitor& monitor, std::size_t wanted) {
  std::vector<AddressChange> changes;
  for (int round = 0; round < 20 && changes.size() < wanted; ++round) {
    pollfd p{monitor.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    auto complete = monitor.read([&](const AddressChange& c) { changes.push_back(c); });
    EXPECT_TRUE(complete.ok()) << complete.error().message();
  }
  return changes;
}

bool has(const std::vector<AddressChange>& changes, bool added, const char* address) {
  return std::any_of(changes.begin(), changes.end(), [&](const AddressChange& c) {
    return c.added == added && c.address == ip(address);
  });
}

TEST(AddressMonitor, ListsAddressesAndAnnouncesChangesOfBothFamilies) {
  UIPSEC_IN_NETNS([] {
    if (::access("/dev/net/tun", F_OK) != 0) test::skip_in_child("no /dev/net/tun on this host");
    auto tun = LinuxTun::create("am0", 1400);
    ASSERT_TRUE(tun.ok()) << tun.error().message();
    auto monitor = AddressMonitor::open();
    ASSERT_TRUE(monitor.ok()) << monitor.error().message();

    ASSERT_EQ(test::add_address("am0", "198.18.40.1/24"), "");
    ASSERT_EQ(test::add_address("am0", "2001:db8:40::1/64"), "");
    auto added = changes_from(*monitor, 2);
    EXPECT_TRUE(has(added, true, "198.18.40.1"));
    EXPECT_TRUE(has(added, true, "2001:db8:40::1"));
    for (const AddressChange& c : added) {
      if (c.address == ip("198.18.40.1")) {
        EXPECT_EQ(c.prefix_length, 24);
        EXPECT_EQ(c.ifindex, (*tun)->ifindex());
      }
    }

    auto present = AddressMonitor::addresses();
    ASSERT_TRUE(present.ok()) << present.error().message();
    EXPECT_NE(std::find(present->begin(), present->end(), ip("198.18.40.1")), present->end());
    EXPECT_NE(std::find(present->begin(), present->end(), ip("2001:db8:40::1")), present->end());
    EXPECT_NE(std::find(present->begin(), present->end(), ip("127.0.0.1")), present->end());

    if (!test::have_ip_command()) return;  // removing needs `ip`; the rest has been checked
    ASSERT_EQ(test::command_output("ip addr del 198.18.40.1/24 dev am0"), "");
    auto removed = changes_from(*monitor, 1);
    EXPECT_TRUE(has(removed, false, "198.18.40.1"));
  });
}

}  // namespace
}  // namespace uipsec
