#include "daemon/route_manager.hpp"

#include <gtest/gtest.h>

#include "backend/local_backend.hpp"
#include "daemon/daemon_backend.hpp"
#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

// Records what would go to the kernel; can be told to fail route additions.
class RecordingRouteControl final : public RouteControl {
 public:
  Result<void> add_route(const Route& r) override {
    if (fail_adds) return Error("add route " + to_string(r) + ": Network is unreachable");
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
  Result<std::size_t> flush_routes(std::uint32_t) override {
    ++route_flushes;
    return std::exchange(routes, {}).size();
  }
  Result<std::size_t> flush_rules(std::uint32_t, std::uint32_t) override {
    return std::exchange(rules, {}).size();
  }
  std::vector<Route> routes;
  std::vector<RoutingRule> rules;
  int route_flushes = 0;
  bool fail_adds = false;
};

PolicyConfig protect(const char* to, PolicyDirection dir = PolicyDirection::kOut) {
  return test::protect("198.18.10.0/24", to, "198.18.0.1", "198.18.0.2", 1, dir);
}

class RouteManagerTest : public ::testing::Test {
 protected:
  RecordingRouteControl control_;
  RouteManager manager_{control_, {InterfaceIndex(7), 220, 220}};
};

TEST_F(RouteManagerTest, StartCleansUpAndAddsOneRulePerFamily) {
  control_.routes.push_back(Route{});  // left by an earlier run
  ASSERT_TRUE(manager_.start().ok());
  EXPECT_EQ(control_.route_flushes, 1);
  EXPECT_TRUE(control_.routes.empty());
  ASSERT_EQ(control_.rules.size(), 2u);
  EXPECT_EQ(control_.rules[0].family, IpFamily::kV4);
  EXPECT_EQ(control_.rules[1].family, IpFamily::kV6);
  EXPECT_EQ(control_.rules[0].priority, 220u);
  EXPECT_EQ(control_.rules[0].table, 220u);
  EXPECT_EQ(control_.rules[0].protocol, kUipsecRouteProtocol);
}

TEST_F(RouteManagerTest, OneRoutePerOutboundProtectPrefixSharedByReferenceCount) {
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24")).ok());
  ASSERT_EQ(control_.routes.size(), 1u);
  EXPECT_EQ(control_.routes[0].destination, *IpPrefix::parse("198.18.20.0/24"));
  EXPECT_EQ(control_.routes[0].ifindex, InterfaceIndex(7));
  EXPECT_EQ(control_.routes[0].table, 220u);
  EXPECT_EQ(control_.routes[0].protocol, kUipsecRouteProtocol);

  auto other_source = protect("198.18.20.0/24");
  other_source.selector.source = *IpPrefix::parse("198.18.11.0/24");
  ASSERT_TRUE(manager_.policy_added(other_source).ok());
  EXPECT_EQ(control_.routes.size(), 1u) << "same destination: one route";
  ASSERT_TRUE(manager_.policy_removed(other_source).ok());
  EXPECT_EQ(control_.routes.size(), 1u) << "still used";
  ASSERT_TRUE(manager_.policy_removed(protect("198.18.20.0/24")).ok());
  EXPECT_TRUE(control_.routes.empty());
}

TEST_F(RouteManagerTest, OnlyOutboundProtectPoliciesGetRoutes) {
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24", PolicyDirection::kIn)).ok());
  auto bypass = protect("198.18.21.0/24");
  bypass.action = PolicyAction::kBypass;
  bypass.tmpl.reset();
  ASSERT_TRUE(manager_.policy_added(bypass).ok());
  EXPECT_TRUE(control_.routes.empty());
}

TEST_F(RouteManagerTest, StopRemovesEverythingOfOurs) {
  ASSERT_TRUE(manager_.start().ok());
  ASSERT_TRUE(manager_.policy_added(protect("198.18.20.0/24")).ok());
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

TEST_F(DaemonBackendTest, PolicyWhoseRouteFailsIsNotAdded) {
  control_.fail_adds = true;
  auto r = backend_.add_policy(protect("198.18.20.0/24"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("Network is unreachable"), std::string::npos);
  EXPECT_TRUE(backend_.list_policies()->empty()) << "a rejected command changes nothing";
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

TEST_F(DaemonBackendTest, StatisticsCarryTheSeamCounters) {
  tun_counters_.tx_queue_full.add(3);
  auto s = backend_.statistics();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->io.at("tun.tx_queue_full"), 3u);
  EXPECT_EQ(s->io.at("tun.rx_packets"), 0u);
}

}  // namespace
}  // namespace uipsec
