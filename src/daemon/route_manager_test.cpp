#include "daemon/route_manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "backend/local_backend.hpp"
#include "daemon/daemon_backend.hpp"
#include "dataplane/dataplane_test_support.hpp"
#include "sa/sa_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;

// Records what would go to the kernel; can be told to fail route additions.
class RecordingRouteControl final : public RouteControl {
 public:
  Result<void> add_route(const Route& r) override {
    if (fail_adds) return Error("add route " + to_string(r) + ": Network is unreachable");
    if (r.preferred_source && refused_source == r.preferred_source) {
      return Error("add route " + to_string(r) + ": Invalid argument");
    }
    routes.push_back(r);
    return {};
  }
  Result<void> delete_route(const Route& r) override {
    const auto it = std::find(routes.begin(), routes.end(), r);
    if (it == routes.end()) return Error("no such route");
    routes.erase(it);
    return {};
  }
  Result<void> add_rule(const RoutingRule& r) override {
    rules.push_back(r);
    return {};
  }
  Result<void> delete_rule(const RoutingRule& r) override {
    const auto it = std::find(rules.begin(), rules.end(), r);
    if (it == rules.end()) return Error("no such rule");
    rules.erase(it);
    return {};
  }
  Result<std::size_t> flush_routes(std::uint32_t) override {
    ++route_flushes;
    return std::exchange(routes, {}).size();
  }
  Result<std::size_t> flush_rules(std::uint32_t priority, std::uint32_t table) override {
    rule_flushes.emplace_back(priority, table);
    const auto n = std::erase_if(
        rules, [&](const RoutingRule& r) { return r.priority == priority && r.table == table; });
    return n;
  }
  Result<std::vector<IpAddress>> local_addresses() override { return local; }
  std::optional<int> ipv4_rp_filter() override { return rp_filter; }

  std::size_t count(RouteType type) const {
    return static_cast<std::size_t>(std::count_if(routes.begin(), routes.end(),
                                                  [&](const Route& r) { return r.type == type; }));
  }
  const Route* find(const char* prefix) const {
    for (const Route& r : routes) {
      if (r.destination == *IpPrefix::parse(prefix)) return &r;
    }
    return nullptr;
  }

  std::vector<Route> routes;
  std::vector<RoutingRule> rules;
  std::vector<IpAddress> local;
  std::optional<int> rp_filter = 0;
  std::optional<IpAddress> refused_source;
  int route_flushes = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> rule_flushes;
  bool fail_adds = false;
};

PolicyConfig protect(const char* to, PolicyDirection dir = PolicyDirection::kOut,
                     const char* peer = "198.18.0.2") {
  return test::protect("198.18.10.0/24", to, "198.18.0.1", peer, 1, dir);
}

PolicyConfig plain(const char* from, const char* to, PolicyAction action) {
  PolicyConfig c;
  c.selector.source = *IpPrefix::parse(from);
  c.selector.destination = *IpPrefix::parse(to);
  c.action = action;
  return c;
}

class RouteManagerTest : public ::testing::Test {
 protected:
  RouteManager::Options options(bool allow_peer_ts = false) {
    RouteManager::Options o;
    o.tun_ifindex = InterfaceIndex(7);
    o.allow_peer_ts = allow_peer_ts;
    o.warn = [this](const std::string& line) { warnings_.push_back(line); };
    return o;
  }
  bool warned(const std::string& part) const {
    return std::any_of(warnings_.begin(), warnings_.end(),
                       [&](const std::string& w) { return w.find(part) != std::string::npos; });
  }

  RecordingRouteControl control_;
  std::vector<std::string> warnings_;
  RouteManager manager_{control_, options()};
};

TEST_F(RouteManagerTest, StartCleansUpOnlyOurRulesAndAddsOneRulePerFamily) {
  control_.routes.push_back(Route{});  // left by an earlier run
  ASSERT_TRUE(manager_.start().ok());
  EXPECT_EQ(control_.route_flushes, 1);
  EXPECT_TRUE(control_.routes.empty());
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> flushed = {{220, 220}, {219, 254}};
  EXPECT_EQ(control_.rule_flushes, flushed) << "the table-220 rules and the BYPASS rules";
  ASSERT_EQ(control_.rules.size(), 2u);
  EXPECT_EQ(control_.rules[0].family, IpFamily::kV4);
  EXPECT_EQ(control_.rules[1].family, IpFamily::kV6);
  EXPECT_EQ(control_.rules[0].priority, 220u);
  EXPECT_EQ(control_.rules[0].table, 220u);
  EXPECT_EQ(control_.rules[0].protocol, kUipsecRouteProtocol);
  EXPECT_FALSE(control_.rules[0].fwmark);
}

TEST_F(RouteManagerTest, OneRoutePerOutboundProtectPrefixSharedByReferenceCount) {
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24")).ok());
  ASSERT_EQ(control_.routes.size(), 1u);
  EXPECT_EQ(control_.routes[0].type, RouteType::kUnicast);
  EXPECT_EQ(control_.routes[0].destination, *IpPrefix::parse("198.18.20.0/24"));
  EXPECT_EQ(control_.routes[0].ifindex, InterfaceIndex(7));
  EXPECT_EQ(control_.routes[0].table, 220u);
  EXPECT_EQ(control_.routes[0].protocol, kUipsecRouteProtocol);

  auto other_source = protect("198.18.20.0/24");
  other_source.selector.source = *IpPrefix::parse("198.18.11.0/24");
  ASSERT_TRUE(manager_.policy_added(other_source).ok());
  EXPECT_EQ(control_.routes.size(), 1u) << "same destination: one route";
  ASSERT_TRUE(manager_.policy_removed(other_source.id()).ok());
  EXPECT_EQ(control_.routes.size(), 1u) << "still used";
  ASSERT_TRUE(manager_.policy_removed(protect("198.18.20.0/24").id()).ok());
  EXPECT_TRUE(control_.routes.empty());
}

TEST_F(RouteManagerTest, Ipv6RoutesAndPreferredSourceInsideTheLocalSelector) {
  control_.local = {addr("127.0.0.1"), addr("198.18.0.1"), addr("198.18.10.1"),
                    addr("2001:db8:10::1")};
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24")).ok());
  auto v6 = test::protect("2001:db8:10::/48", "2001:db8:20::/48", "2001:db8:1::1", "2001:db8:1::2");
  ASSERT_TRUE(manager_.policy_added(v6).ok());
  auto elsewhere = test::protect("198.18.99.0/24", "198.18.30.0/24", "198.18.0.1", "198.18.0.2");
  ASSERT_TRUE(manager_.policy_added(elsewhere).ok());
  auto any_source = test::protect("0.0.0.0/0", "198.18.40.0/24", "198.18.0.1", "198.18.0.2");
  ASSERT_TRUE(manager_.policy_added(any_source).ok());

  ASSERT_NE(control_.find("198.18.20.0/24"), nullptr);
  EXPECT_EQ(control_.find("198.18.20.0/24")->preferred_source, addr("198.18.10.1"));
  ASSERT_NE(control_.find("2001:db8:20::/48"), nullptr);
  EXPECT_EQ(control_.find("2001:db8:20::/48")->preferred_source, addr("2001:db8:10::1"));
  EXPECT_EQ(control_.find("2001:db8:20::/48")->ifindex, InterfaceIndex(7));
  ASSERT_NE(control_.find("198.18.30.0/24"), nullptr);
  EXPECT_FALSE(control_.find("198.18.30.0/24")->preferred_source) << "no local address there";
  ASSERT_NE(control_.find("198.18.40.0/24"), nullptr);
  EXPECT_FALSE(control_.find("198.18.40.0/24")->preferred_source) << "any names no address";
}

TEST_F(RouteManagerTest, ARefusedPreferredSourceFallsBackToNoneAndSaysSo) {
  control_.local = {addr("198.18.10.1")};
  control_.refused_source = addr("198.18.10.1");
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24")).ok());
  ASSERT_EQ(control_.routes.size(), 1u);
  EXPECT_FALSE(control_.routes[0].preferred_source);
  EXPECT_TRUE(warned("without a preferred source"));
}

TEST_F(RouteManagerTest, ExcludeRouteForAPeerInsideTheRemoteSelectorSharedAndRemovedWithTheLast) {
  // 198.18.0.0/16 holds the peer 198.18.0.2: its ESP must not enter the TUN device.
  ASSERT_TRUE(manager_.policy_added(protect("198.18.0.0/16")).ok());
  ASSERT_NE(control_.find("198.18.0.2/32"), nullptr);
  EXPECT_EQ(control_.find("198.18.0.2/32")->type, RouteType::kThrow);
  EXPECT_EQ(control_.find("198.18.0.2/32")->table, 220u);
  EXPECT_EQ(control_.find("198.18.0.2/32")->protocol, kUipsecRouteProtocol);
  EXPECT_EQ(control_.count(RouteType::kUnicast), 1u);

  ASSERT_TRUE(manager_.policy_added(protect("198.18.0.0/20")).ok());
  EXPECT_EQ(control_.count(RouteType::kThrow), 1u) << "one exclude route per peer";
  EXPECT_EQ(control_.count(RouteType::kUnicast), 2u);
  ASSERT_TRUE(manager_.policy_removed(protect("198.18.0.0/16").id()).ok());
  EXPECT_EQ(control_.count(RouteType::kThrow), 1u) << "still used by the /20";
  ASSERT_TRUE(manager_.policy_removed(protect("198.18.0.0/20").id()).ok());
  EXPECT_TRUE(control_.routes.empty());

  // A selector without the peer needs none; IPv6 peers get a /128.
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24")).ok());
  EXPECT_EQ(control_.count(RouteType::kThrow), 0u);
  auto v6 = test::protect("2001:db8:10::/48", "2001:db8::/32", "2001:db8:1::1", "2001:db8:1::2");
  ASSERT_TRUE(manager_.policy_added(v6).ok());
  ASSERT_NE(control_.find("2001:db8:1::2/128"), nullptr);
  EXPECT_EQ(control_.find("2001:db8:1::2/128")->type, RouteType::kThrow);
}

TEST_F(RouteManagerTest, ARemoteSelectorEqualToThePeerIsRefusedWithoutAllowPeerTs) {
  auto r = manager_.policy_added(protect("198.18.0.2/32"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("equals the peer 198.18.0.2"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("allow_peer_ts"), std::string::npos);
  EXPECT_TRUE(control_.routes.empty()) << "nothing left behind";

  auto transport = protect("198.18.20.0/24");
  transport.tmpl->mode = TemplateMode::kTransport;
  EXPECT_FALSE(manager_.policy_added(transport).ok()) << "transport mode is host to host";
}

TEST_F(RouteManagerTest, AllowPeerTsNeedsASocketMarkThatTheRuleSkips) {
  RouteManager no_mark(control_, options(true));
  auto r = no_mark.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("needs a mark on uipsecd's socket"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(control_.rules.empty()) << "refused before anything changed";

  auto wrong = options(true);
  wrong.socket_mark = 0x42;
  wrong.rule_mark = FirewallMark{0x42, 0xffffffff};  // "fwmark 0x42": only marked packets
  RouteManager wrong_rule(control_, wrong);
  r = wrong_rule.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("matches them"), std::string::npos) << r.error().message();

  auto seeded = options(true);  // the seed's example: socket 0x42, rule !0x42
  seeded.socket_mark = 0x42;
  seeded.rule_mark = FirewallMark{0x42, 0xffffffff};
  seeded.rule_mark_invert = true;
  RouteManager host_to_host(control_, seeded);
  ASSERT_TRUE(host_to_host.start().ok());
  ASSERT_EQ(control_.rules.size(), 2u);
  for (const RoutingRule& rule : control_.rules) {
    EXPECT_TRUE(rule.invert);
    EXPECT_EQ(rule.fwmark, (FirewallMark{0x42, 0xffffffff}));
    EXPECT_EQ(rule.priority, 220u);
  }
  ASSERT_TRUE(host_to_host.policy_added(protect("198.18.0.2/32")).ok());
  EXPECT_EQ(control_.count(RouteType::kThrow), 0u) << "no exclude route: it would take it all";
  ASSERT_NE(control_.find("198.18.0.2/32"), nullptr);
  EXPECT_EQ(control_.find("198.18.0.2/32")->type, RouteType::kUnicast);
}

TEST_F(RouteManagerTest, ASocketMarkAloneMakesTheRulesSkipMarkedPackets) {
  auto o = options();
  o.socket_mark = 0x7;
  RouteManager m(control_, o);
  ASSERT_TRUE(m.start().ok());
  ASSERT_EQ(control_.rules.size(), 2u);
  EXPECT_TRUE(control_.rules[0].invert);
  EXPECT_EQ(control_.rules[0].fwmark, (FirewallMark{0x7, 0xffffffff}));
}

TEST_F(RouteManagerTest, StrictReversePathFilteringIsReportedNamingTheSysctl) {
  auto o = options(true);
  o.socket_mark = 0x42;
  control_.rp_filter = 1;
  RouteManager strict(control_, o);
  ASSERT_TRUE(strict.start().ok());
  EXPECT_TRUE(warned("net.ipv4.conf.all.rp_filter is 1 (strict)"));
  EXPECT_TRUE(warned("sysctl -w net.ipv4.conf.all.rp_filter=2"));

  warnings_.clear();
  control_.rp_filter = 2;
  RouteManager loose(control_, o);
  ASSERT_TRUE(loose.start().ok());
  ASSERT_TRUE(loose.policy_added(protect("198.18.0.2/32")).ok());
  EXPECT_TRUE(warnings_.empty());

  control_.rp_filter = 1;  // a host-to-host policy without allow_peer_ts at start
  RouteManager later(control_, o);
  ASSERT_TRUE(later.policy_added(protect("198.18.0.2/32")).ok());
  EXPECT_TRUE(warned("rp_filter"));
}

TEST_F(RouteManagerTest, BypassPoliciesGoAroundTheTunDevice) {
  ASSERT_TRUE(
      manager_.policy_added(plain("0.0.0.0/0", "198.18.30.0/24", PolicyAction::kBypass)).ok());
  ASSERT_NE(control_.find("198.18.30.0/24"), nullptr);
  EXPECT_EQ(control_.find("198.18.30.0/24")->type, RouteType::kThrow) << "address only: throw";

  auto ssh = plain("198.18.10.0/24", "198.18.20.0/24", PolicyAction::kBypass);
  ssh.selector.protocol = 6;
  ssh.selector.destination_ports = PortRange::single(22);
  ASSERT_TRUE(manager_.policy_added(ssh).ok());
  ASSERT_EQ(control_.rules.size(), 1u);
  const RoutingRule& rule = control_.rules[0];
  EXPECT_EQ(rule.priority, 219u) << "ahead of table 220";
  EXPECT_EQ(rule.table, kMainRouteTable);
  EXPECT_EQ(rule.protocol, kUipsecRouteProtocol);
  EXPECT_EQ(rule.source, IpPrefix::parse("198.18.10.0/24").value());
  EXPECT_EQ(rule.destination, IpPrefix::parse("198.18.20.0/24").value());
  EXPECT_EQ(rule.ip_protocol, 6);
  EXPECT_EQ(rule.destination_ports, (RulePortRange{22, 22}));
  EXPECT_FALSE(rule.source_ports);

  ASSERT_TRUE(manager_.policy_added(ssh).ok()) << "the same policy again updates it";
  EXPECT_EQ(control_.rules.size(), 1u);
  ASSERT_TRUE(manager_.policy_removed(ssh.id()).ok());
  EXPECT_TRUE(control_.rules.empty());

  auto high = plain("198.18.10.0/24", "198.18.20.0/24", PolicyAction::kBypass);
  high.selector.protocol = 17;
  high.selector.source_ports = PortRange{1024, 65535};
  ASSERT_TRUE(manager_.policy_added(high).ok());
  ASSERT_EQ(control_.rules.size(), 1u);
  EXPECT_EQ(control_.rules[0].source_ports, (RulePortRange{1024, 65534}))
      << "Linux takes 1..65534: 65535 stays behind (safe), never more";
  ASSERT_TRUE(manager_.policy_removed(high.id()).ok());
  auto only_max = high;
  only_max.selector.source_ports = PortRange::single(65535);
  ASSERT_TRUE(manager_.policy_added(only_max).ok());
  EXPECT_TRUE(control_.rules.empty());
  EXPECT_TRUE(warned("port 0 or 65535"));

  auto range = plain("0.0.0.0/0", "198.18.0.0/24", PolicyAction::kBypass);
  range.selector.set_destination(AddressRange{addr("198.18.0.5"), addr("198.18.0.9")});
  ASSERT_TRUE(manager_.policy_added(range).ok());
  EXPECT_EQ(control_.find("198.18.0.0/24"), nullptr) << "a wider route would leak";
  EXPECT_TRUE(warned("bypass-via-tun"));

  auto inbound = plain("0.0.0.0/0", "198.18.31.0/24", PolicyAction::kBypass);
  inbound.direction = PolicyDirection::kIn;
  ASSERT_TRUE(manager_.policy_added(inbound).ok());
  EXPECT_EQ(control_.find("198.18.31.0/24"), nullptr) << "inbound policies route nothing";
}

TEST_F(RouteManagerTest, DiscardPoliciesRouteIntoTheTunDeviceWhereDropsAreCounted) {
  ASSERT_TRUE(
      manager_.policy_added(plain("0.0.0.0/0", "198.18.50.0/24", PolicyAction::kDiscard)).ok());
  ASSERT_NE(control_.find("198.18.50.0/24"), nullptr);
  EXPECT_EQ(control_.find("198.18.50.0/24")->type, RouteType::kUnicast);
  EXPECT_EQ(control_.find("198.18.50.0/24")->ifindex, InterfaceIndex(7));
}

TEST_F(RouteManagerTest, ABypassThrowAndATunRouteForOnePrefixConflict) {
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24")).ok());
  auto r = manager_.policy_added(plain("0.0.0.0/0", "198.18.20.0/24", PolicyAction::kBypass));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("conflicts"), std::string::npos) << r.error().message();
  EXPECT_EQ(control_.routes.size(), 1u);
}

TEST_F(RouteManagerTest, ExcludeRoutesFollowThePeerOfTheirReqid) {
  ASSERT_TRUE(manager_.policy_added(protect("198.18.0.0/16")).ok());
  auto other_reqid =
      test::protect("198.18.10.0/24", "198.18.0.0/17", "198.18.0.1", "198.18.0.2", 2);
  ASSERT_TRUE(manager_.policy_added(other_reqid).ok());
  ASSERT_TRUE(manager_.peer_moved(Reqid(1), addr("198.18.0.2"), addr("198.18.0.3")).ok());
  ASSERT_NE(control_.find("198.18.0.3/32"), nullptr);
  EXPECT_EQ(control_.find("198.18.0.3/32")->type, RouteType::kThrow);
  EXPECT_NE(control_.find("198.18.0.2/32"), nullptr) << "reqid 2 still goes to .2";

  ASSERT_TRUE(manager_.peer_moved(Reqid(2), addr("198.18.0.2"), addr("198.18.0.4")).ok());
  EXPECT_EQ(control_.find("198.18.0.2/32"), nullptr) << "the last user moved away";
  EXPECT_NE(control_.find("198.18.0.4/32"), nullptr);

  // A move that would make the selector equal the peer is refused and changes nothing.
  ASSERT_TRUE(
      manager_.policy_added(protect("198.18.60.1/32", PolicyDirection::kOut, "198.18.0.9")).ok());
  const auto before = control_.routes;
  EXPECT_FALSE(manager_.peer_moved(Reqid(1), addr("198.18.0.9"), addr("198.18.60.1")).ok());
  EXPECT_EQ(control_.routes, before);
}

TEST_F(RouteManagerTest, PreferredSourcesFollowAddressesThatComeAndGo) {
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24")).ok());
  ASSERT_TRUE(
      manager_.policy_added(plain("0.0.0.0/0", "198.18.30.0/24", PolicyAction::kBypass)).ok());
  ASSERT_NE(control_.find("198.18.20.0/24"), nullptr);
  EXPECT_FALSE(control_.find("198.18.20.0/24")->preferred_source) << "no local address yet";

  manager_.address_added(addr("198.18.99.1"));  // outside the local selector
  EXPECT_FALSE(control_.find("198.18.20.0/24")->preferred_source);
  control_.local = {addr("198.18.10.1")};
  manager_.address_added(addr("198.18.10.1"));
  EXPECT_EQ(control_.find("198.18.20.0/24")->preferred_source, addr("198.18.10.1"));
  EXPECT_FALSE(control_.find("198.18.30.0/24")->preferred_source) << "throw routes have none";
  EXPECT_EQ(control_.routes.size(), 2u) << "replaced, not duplicated";

  // IPv4 deletes the route with its source; it comes back with another address or none.
  control_.local = {addr("198.18.10.2")};
  control_.routes.erase(
      std::remove_if(control_.routes.begin(), control_.routes.end(),
                     [](const Route& r) { return r.preferred_source.has_value(); }),
      control_.routes.end());
  manager_.address_removed(addr("198.18.10.1"));
  ASSERT_NE(control_.find("198.18.20.0/24"), nullptr);
  EXPECT_EQ(control_.find("198.18.20.0/24")->preferred_source, addr("198.18.10.2"));
  control_.local.clear();
  manager_.addresses_resynced({});
  ASSERT_NE(control_.find("198.18.20.0/24"), nullptr);
  EXPECT_FALSE(control_.find("198.18.20.0/24")->preferred_source);

  ASSERT_TRUE(manager_.policy_removed(protect("198.18.20.0/24").id()).ok());
  EXPECT_EQ(control_.find("198.18.20.0/24"), nullptr) << "the replaced route is what goes";
}

TEST_F(RouteManagerTest, StopRemovesEverythingOfOurs) {
  ASSERT_TRUE(manager_.start().ok());
  ASSERT_TRUE(manager_.policy_added(protect("198.18.0.0/16")).ok());
  ASSERT_TRUE(manager_.stop().ok());
  EXPECT_TRUE(control_.routes.empty());
  EXPECT_TRUE(control_.rules.empty());
  EXPECT_EQ(manager_.route_count(), 0u);
}

class DaemonBackendTest : public RouteManagerTest {
 protected:
  QsbrDomain domain_;
  SaDatabase sad_{domain_, 1};
  PolicyDatabase spd_{domain_};
  EventQueue events_{8};
  FakeClock clock_;
  LocalBackend local_{domain_, sad_, spd_, events_, {}, clock_, {}};
  IoCounters tun_counters_;
  DaemonBackend backend_{local_, &manager_, {{"tun", &tun_counters_}}};
};

// A TUN seam's rx_kernel_drops add what the kernel counted for its device since the seam came;
// a count that cannot be read (the device went) adds nothing, and so does a seam without a
// device or a backend without a way to read one.
TEST_F(DaemonBackendTest, TunSeamsAddTheDevicesKernelDropsSinceTheyCame) {
  std::map<std::uint32_t, std::uint64_t> kernel{{7, 40}};
  DaemonBackend::DeviceDrops read = [&](InterfaceIndex device) -> Result<std::uint64_t> {
    const auto found = kernel.find(device.value());
    if (found == kernel.end()) return Error("No such device");
    return found->second;
  };
  IoCounters socket_counters;
  DaemonBackend backend(local_, nullptr,
                        {{"tun", &tun_counters_, InterfaceIndex(7)}, {"socket", &socket_counters}},
                        read);
  IoCounters vip_counters;
  backend.add_seam({"tun-vip", &vip_counters, InterfaceIndex(9)});  // unreadable: no device 9
  tun_counters_.rx_kernel_drops.add(2);
  socket_counters.rx_kernel_drops.add(5);
  kernel[7] = 43;
  kernel[9] = 100;
  auto stats = backend.statistics();
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->io.at("tun.rx_kernel_drops"), 2u + 3u) << "40 were there before";
  EXPECT_EQ(stats->io.at("socket.rx_kernel_drops"), 5u);
  EXPECT_EQ(stats->io.at("tun-vip.rx_kernel_drops"), 0u) << "no start value, no device drops";

  kernel.erase(7);  // the device went
  stats = backend.statistics();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->io.at("tun.rx_kernel_drops"), 2u);

  DaemonBackend without(local_, nullptr, {{"tun", &tun_counters_, InterfaceIndex(7)}});
  stats = without.statistics();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->io.at("tun.rx_kernel_drops"), 2u);
}

TEST_F(DaemonBackendTest, PolicyWhoseRouteFailsIsNotAdded) {
  control_.fail_adds = true;
  auto r = backend_.add_policy(protect("198.18.20.0/24"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("Network is unreachable"), std::string::npos);
  EXPECT_TRUE(backend_.list_policies()->empty()) << "a rejected command changes nothing";

  control_.fail_adds = false;
  r = backend_.add_policy(protect("198.18.0.2/32"));
  ASSERT_FALSE(r.ok()) << "host to host without allow_peer_ts";
  EXPECT_TRUE(backend_.list_policies()->empty());
}

TEST_F(DaemonBackendTest, RoutesFollowPolicyChanges) {
  ASSERT_TRUE(backend_.add_policy(protect("198.18.20.0/24")).ok());
  EXPECT_EQ(control_.routes.size(), 1u);
  auto changed = protect("198.18.20.0/24");
  changed.priority = 5;
  ASSERT_TRUE(backend_.update_policy(changed).ok());
  EXPECT_EQ(control_.routes.size(), 1u);
  ASSERT_TRUE(backend_.delete_policy(changed.id()).ok());
  EXPECT_TRUE(control_.routes.empty());
  ASSERT_TRUE(backend_.add_policy(protect("198.18.20.0/24")).ok());
  ASSERT_TRUE(backend_.add_policy(protect("198.18.30.0/24")).ok());
  EXPECT_EQ(control_.routes.size(), 2u);
  EXPECT_EQ(*backend_.flush_policies(), 2u);
  EXPECT_TRUE(control_.routes.empty());
}

TEST_F(DaemonBackendTest, AnUpdateThatChangesThePeerMovesTheExcludeRoute) {
  ASSERT_TRUE(backend_.add_policy(protect("198.18.0.0/16")).ok());
  auto moved = protect("198.18.0.0/16", PolicyDirection::kOut, "198.18.0.3");
  ASSERT_TRUE(backend_.update_policy(moved).ok());
  EXPECT_EQ(control_.find("198.18.0.2/32"), nullptr);
  EXPECT_NE(control_.find("198.18.0.3/32"), nullptr);
}

TEST_F(DaemonBackendTest, UpdatingAnSasAddressesMovesItsExcludeRoute) {
  ASSERT_TRUE(backend_.add_sa(test::sa_config("198.18.0.1", "198.18.0.2", 0x1001)).ok());
  ASSERT_TRUE(backend_.add_policy(protect("198.18.0.0/16")).ok());
  ASSERT_NE(control_.find("198.18.0.2/32"), nullptr);

  SaEndpoints e;
  e.source = addr("198.18.0.1");
  e.destination = addr("198.18.0.6");
  e.encapsulation = UdpEncapsulation{};
  auto r = backend_.update_sa(SaId{addr("198.18.0.2"), Spi(0x1001)}, e);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(control_.find("198.18.0.2/32"), nullptr);
  ASSERT_NE(control_.find("198.18.0.6/32"), nullptr);
  EXPECT_EQ(control_.find("198.18.0.6/32")->type, RouteType::kThrow);

  // An SA that cannot be updated (no such SA) leaves the routes as they were.
  const auto before = control_.routes;
  EXPECT_FALSE(backend_.update_sa(SaId{addr("198.18.0.9"), Spi(0x1)}, e).ok());
  EXPECT_EQ(control_.routes, before);
}

TEST_F(DaemonBackendTest, StatisticsCarryTheSeamCounters) {
  tun_counters_.tx_queue_full.add(3);
  auto s = backend_.statistics();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->io.at("tun.tx_queue_full"), 3u);
  EXPECT_EQ(s->io.at("tun.rx_packets"), 0u);
}

}  // namespace
}  // namespace uipsec
