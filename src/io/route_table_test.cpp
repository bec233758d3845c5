#include "io/route_table.hpp"

#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <algorithm>

#include "io/linux_tun.hpp"
#include "io/netns_test_support.hpp"

namespace uipsec {
namespace {

using test::ip;

constexpr std::uint8_t kForeignProtocol = RTPROT_STATIC;  // what `ip route add` uses by default

// A device to route into (the test kernel has no dummy driver; a TUN device will do).
std::unique_ptr<LinuxTun> make_device() {
  if (::access("/dev/net/tun", F_OK) != 0) test::skip_in_child("no /dev/net/tun on this host");
  auto tun = LinuxTun::create("rt0", 1400);
  EXPECT_TRUE(tun.ok()) << tun.error().message();
  return tun.ok() ? std::move(*tun) : nullptr;
}

RouteTable open_table() {
  auto table = RouteTable::open();
  if (!table.ok()) test::skip_in_child(table.error().message());
  return std::move(*table);
}

Route route_to(const char* prefix, const LinuxTun& device, std::uint32_t table = 220,
               std::uint8_t protocol = kUipsecRouteProtocol) {
  Route r;
  r.destination = *IpPrefix::parse(prefix);
  r.ifindex = device.ifindex();
  r.table = table;
  r.protocol = protocol;
  return r;
}

bool contains(const std::vector<Route>& routes, const Route& wanted) {
  return std::any_of(routes.begin(), routes.end(), [&](const Route& r) {
    return r.destination == wanted.destination && r.ifindex == wanted.ifindex &&
           r.protocol == wanted.protocol && r.table == wanted.table;
  });
}

bool contains(const std::vector<RoutingRule>& rules, const RoutingRule& wanted) {
  return std::find(rules.begin(), rules.end(), wanted) != rules.end();
}

std::string text_of(const std::vector<RoutingRule>& rules) {
  std::string text;
  for (const RoutingRule& r : rules) text += to_string(r) + "\n";
  return text;
}

std::vector<Route> routes_in(RouteTable& t, IpFamily family, std::uint32_t table) {
  auto routes = t.list_routes(family, table);
  EXPECT_TRUE(routes.ok()) << routes.error().message();
  return routes.ok() ? *routes : std::vector<Route>{};
}

std::vector<RoutingRule> rules_of(RouteTable& t, IpFamily family) {
  auto rules = t.list_rules(family);
  EXPECT_TRUE(rules.ok()) << rules.error().message();
  return rules.ok() ? *rules : std::vector<RoutingRule>{};
}

TEST(RouteTable, AddsListsAndDeletesRoutesOfBothFamilies) {
  UIPSEC_IN_NETNS([] {
    auto device = make_device();
    ASSERT_TRUE(device);
    RouteTable t = open_table();
    EXPECT_TRUE(routes_in(t, IpFamily::kV4, 220).empty()) << "a table never used lists empty";

    const Route v4 = route_to("198.18.20.0/24", *device);
    const Route v6 = route_to("2001:db8:20::/64", *device);
    for (const Route& r : {v4, v6}) {
      auto added = t.add_route(r);
      ASSERT_TRUE(added.ok()) << added.error().message();
    }
    EXPECT_TRUE(contains(routes_in(t, IpFamily::kV4, 220), v4));
    EXPECT_TRUE(contains(routes_in(t, IpFamily::kV6, 220), v6));
    EXPECT_FALSE(contains(routes_in(t, IpFamily::kV6, 220), v4));
    if (test::have_ip_command()) {  // an independent reader of the same tables
      EXPECT_NE(
          test::command_output("ip route show table 220 proto 85").find("198.18.20.0/24 dev rt0"),
          std::string::npos);
      EXPECT_NE(test::command_output("ip -6 route show table 220 proto 85")
                    .find("2001:db8:20::/64 dev rt0"),
                std::string::npos);
    }

    for (const Route& r : {v4, v6}) {
      auto deleted = t.delete_route(r);
      ASSERT_TRUE(deleted.ok()) << deleted.error().message();
      EXPECT_TRUE(t.delete_route(r).ok()) << "deleting what is gone succeeds";
    }
    EXPECT_FALSE(contains(routes_in(t, IpFamily::kV4, 220), v4));
    EXPECT_FALSE(contains(routes_in(t, IpFamily::kV6, 220), v6));
  });
}

TEST(RouteTable, AddingTheSameRouteTwiceSucceedsAndAConflictSaysWhatIsThere) {
  UIPSEC_IN_NETNS([] {
    auto device = make_device();
    ASSERT_TRUE(device);
    RouteTable t = open_table();
    const Route ours = route_to("198.18.20.0/24", *device);
    ASSERT_TRUE(t.add_route(ours).ok());
    auto again = t.add_route(ours);
    EXPECT_TRUE(again.ok()) << again.error().message();
    EXPECT_EQ(routes_in(t, IpFamily::kV4, 220).size(), 1u);

    const Route foreign = route_to("198.18.21.0/24", *device, 220, kForeignProtocol);
    ASSERT_TRUE(t.add_route(foreign).ok());
    auto conflict = t.add_route(route_to("198.18.21.0/24", *device));
    ASSERT_FALSE(conflict.ok());
    const std::string& message = conflict.error().message();
    EXPECT_NE(message.find("add route 198.18.21.0/24 dev rt0 table 220 proto 85: File exists"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("proto 4"), std::string::npos) << message;
  });
}

TEST(RouteTable, ErrorsCarryTheKernelsReason) {
  UIPSEC_IN_NETNS([] {
    auto device = make_device();
    ASSERT_TRUE(device);
    ASSERT_EQ(test::add_address("rt0", "198.18.0.1/32"), "");
    RouteTable t = open_table();
    Route r = route_to("198.18.20.0/24", *device);
    r.preferred_source = ip("198.18.9.9");  // not an address of this host
    auto refused = t.add_route(r);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("src 198.18.9.9: Invalid argument"), std::string::npos)
        << refused.error().message();

    r.preferred_source = ip("198.18.0.1");
    ASSERT_TRUE(t.add_route(r).ok());
    auto listed = routes_in(t, IpFamily::kV4, 220);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].preferred_source, ip("198.18.0.1"));

    Route nowhere = route_to("198.18.30.0/24", *device);
    nowhere.ifindex = InterfaceIndex(999);
    auto missing = t.add_route(nowhere);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message().find("ifindex 999"), std::string::npos)
        << missing.error().message();
  });
}

TEST(RouteTable, AddsListsAndDeletesRules) {
  UIPSEC_IN_NETNS([] {
    RouteTable t = open_table();
    RoutingRule v4;
    RoutingRule v6;
    v6.family = IpFamily::kV6;
    RoutingRule not_marked;  // "not fwmark 0x1/0xffffffff": keep our own ESP out of table 220
    not_marked.priority = 219;
    not_marked.fwmark = FirewallMark{0x1, 0xffffffff};
    not_marked.invert = true;
    for (const RoutingRule& r : {v4, v6, not_marked}) {
      auto added = t.add_rule(r);
      ASSERT_TRUE(added.ok()) << added.error().message();
      EXPECT_TRUE(t.add_rule(r).ok()) << "adding it again succeeds";
    }
    auto v4_rules = rules_of(t, IpFamily::kV4);
    EXPECT_TRUE(contains(v4_rules, v4));
    EXPECT_TRUE(contains(v4_rules, not_marked));
    EXPECT_EQ(std::count(v4_rules.begin(), v4_rules.end(), v4), 1) << "no duplicate";
    EXPECT_TRUE(contains(rules_of(t, IpFamily::kV6), v6));
    if (test::have_ip_command()) {
      EXPECT_NE(test::command_output("ip rule show")
                    .find("219:\tnot from all fwmark 0x1 lookup 220 proto 85"),
                std::string::npos)
          << test::command_output("ip rule show");
    }

    for (const RoutingRule& r : {v4, v6, not_marked}) {
      auto deleted = t.delete_rule(r);
      ASSERT_TRUE(deleted.ok()) << deleted.error().message();
      EXPECT_TRUE(t.delete_rule(r).ok()) << "deleting what is gone succeeds";
    }
    EXPECT_FALSE(contains(rules_of(t, IpFamily::kV4), v4));
    EXPECT_FALSE(contains(rules_of(t, IpFamily::kV4), not_marked));
    EXPECT_FALSE(contains(rules_of(t, IpFamily::kV6), v6));
  });
}

TEST(RouteTable, ThrowRoutesOfBothFamilies) {
  UIPSEC_IN_NETNS([] {
    auto device = make_device();
    ASSERT_TRUE(device);
    RouteTable t = open_table();
    std::vector<Route> throws;
    for (const char* prefix : {"198.18.0.2/32", "2001:db8:1::2/128"}) {
      Route r;
      r.type = RouteType::kThrow;
      r.destination = *IpPrefix::parse(prefix);
      throws.push_back(r);
    }
    for (const Route& r : throws) {
      auto added = t.add_route(r);
      ASSERT_TRUE(added.ok()) << added.error().message();
      auto again = t.add_route(r);
      EXPECT_TRUE(again.ok()) << "the same throw route again: " << again.error().message();
    }
    // An ordinary route to the same prefix is in the way of a throw route, and says so.
    Route clash = route_to("198.18.0.2/32", *device);
    auto refused = t.add_route(clash);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("throw 198.18.0.2/32"), std::string::npos)
        << refused.error().message();

    const auto v4 = routes_in(t, IpFamily::kV4, 220);
    const auto v6 = routes_in(t, IpFamily::kV6, 220);
    ASSERT_EQ(v4.size(), 1u);
    ASSERT_EQ(v6.size(), 1u);
    EXPECT_EQ(v4[0].type, RouteType::kThrow);
    EXPECT_EQ(v6[0].type, RouteType::kThrow);
    EXPECT_EQ(v6[0].ifindex, InterfaceIndex(0)) << "IPv6 hangs it on lo; we show none";
    if (test::have_ip_command()) {
      EXPECT_NE(test::command_output("ip route show table 220").find("throw 198.18.0.2 proto 85"),
                std::string::npos);
      EXPECT_NE(test::command_output("ip -6 route show table 220").find("throw 2001:db8:1::2"),
                std::string::npos);
    }
    auto flushed = t.flush_routes(220);
    ASSERT_TRUE(flushed.ok()) << flushed.error().message();
    EXPECT_EQ(*flushed, 2u);
    EXPECT_TRUE(routes_in(t, IpFamily::kV6, 220).empty());
  });
}

TEST(RouteTable, RulesWithAddressProtocolAndPortSelectors) {
  UIPSEC_IN_NETNS([] {
    RouteTable t = open_table();
    RoutingRule ssh;
    ssh.priority = 219;
    ssh.table = 254;
    ssh.source = *IpPrefix::parse("198.18.10.0/24");
    ssh.destination = *IpPrefix::parse("198.18.20.0/24");
    ssh.ip_protocol = 6;
    ssh.destination_ports = RulePortRange{22, 22};
    RoutingRule dns6;
    dns6.family = IpFamily::kV6;
    dns6.priority = 219;
    dns6.table = 254;
    dns6.destination = *IpPrefix::parse("2001:db8:20::/48");
    dns6.ip_protocol = 17;
    dns6.source_ports = RulePortRange{1024, 65534};  // Linux: 1..65534 only
    dns6.destination_ports = RulePortRange{53, 53};
    for (const RoutingRule& r : {ssh, dns6}) {
      auto added = t.add_rule(r);
      ASSERT_TRUE(added.ok()) << added.error().message();
    }
    EXPECT_TRUE(contains(rules_of(t, IpFamily::kV4), ssh)) << to_string(ssh) << " in\n"
                                                           << text_of(rules_of(t, IpFamily::kV4));
    EXPECT_TRUE(contains(rules_of(t, IpFamily::kV6), dns6)) << to_string(dns6) << " in\n"
                                                            << text_of(rules_of(t, IpFamily::kV6));
    if (test::have_ip_command()) {
      EXPECT_NE(test::command_output("ip rule show")
                    .find("219:\tfrom 198.18.10.0/24 to 198.18.20.0/24 ipproto tcp dport 22 "
                          "lookup main proto 85"),
                std::string::npos)
          << test::command_output("ip rule show");
    }
    // Deleting one leaves the other of the same priority.
    RoutingRule other = ssh;
    other.destination_ports = RulePortRange{443, 443};
    ASSERT_TRUE(t.add_rule(other).ok());
    ASSERT_TRUE(t.delete_rule(ssh).ok());
    EXPECT_FALSE(contains(rules_of(t, IpFamily::kV4), ssh));
    EXPECT_TRUE(contains(rules_of(t, IpFamily::kV4), other));
    auto flushed = t.flush_rules(219, 254);
    ASSERT_TRUE(flushed.ok());
    EXPECT_EQ(*flushed, 2u);
  });
}

TEST(RouteTable, FlushRemovesOnlyOurEntries) {
  UIPSEC_IN_NETNS([] {
    auto device = make_device();
    ASSERT_TRUE(device);
    RouteTable t = open_table();
    const std::vector<Route> ours = {route_to("198.18.20.0/24", *device),
                                     route_to("198.18.21.0/24", *device),
                                     route_to("2001:db8:20::/64", *device)};
    // strongSwan's entries (another protocol, same table), and ours in another table.
    const std::vector<Route> survivors = {
        route_to("198.18.22.0/24", *device, 220, kForeignProtocol),
        route_to("2001:db8:22::/64", *device, 220, kForeignProtocol),
        route_to("198.18.23.0/24", *device, 221)};
    for (const auto& list : {ours, survivors}) {
      for (const Route& r : list) ASSERT_TRUE(t.add_route(r).ok()) << to_string(r);
    }

    RoutingRule our_v4;
    RoutingRule our_v6;
    our_v6.family = IpFamily::kV6;
    RoutingRule our_not_marked;
    our_not_marked.fwmark = FirewallMark{0x1, 0xffffffff};
    our_not_marked.invert = true;
    RoutingRule foreign;  // strongSwan style, same priority and table
    foreign.protocol = kForeignProtocol;
    foreign.fwmark = FirewallMark{0x5, 0xff};
    RoutingRule other_priority;
    other_priority.priority = 230;
    for (const RoutingRule& r : {our_v4, our_v6, our_not_marked, foreign, other_priority}) {
      ASSERT_TRUE(t.add_rule(r).ok()) << to_string(r);
    }

    auto routes = t.flush_routes(220);
    ASSERT_TRUE(routes.ok()) << routes.error().message();
    EXPECT_EQ(*routes, 3u);
    auto rules = t.flush_rules(220, 220);
    ASSERT_TRUE(rules.ok()) << rules.error().message();
    EXPECT_EQ(*rules, 3u);

    auto v4 = routes_in(t, IpFamily::kV4, 220);
    auto v6 = routes_in(t, IpFamily::kV6, 220);
    for (const Route& r : ours)
      EXPECT_FALSE(contains(r.destination.family() == IpFamily::kV4 ? v4 : v6, r));
    EXPECT_TRUE(contains(v4, survivors[0]));
    EXPECT_TRUE(contains(v6, survivors[1]));
    EXPECT_TRUE(contains(routes_in(t, IpFamily::kV4, 221), survivors[2]));

    auto v4_rules = rules_of(t, IpFamily::kV4);
    EXPECT_FALSE(contains(v4_rules, our_v4));
    EXPECT_FALSE(contains(v4_rules, our_not_marked));
    EXPECT_FALSE(contains(rules_of(t, IpFamily::kV6), our_v6));
    EXPECT_TRUE(contains(v4_rules, foreign));
    EXPECT_TRUE(contains(v4_rules, other_priority));

    auto empty = t.flush_routes(220);
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(*empty, 0u) << "flushing twice finds nothing";
  });
}

}  // namespace
}  // namespace uipsec
