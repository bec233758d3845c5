// RouteManager: the routes that steer protected traffic into the TUN device, as strongSwan's
// kernel-libipsec router installs them — for every outbound PROTECT policy a route for its
// destination prefix via the TUN device in table 220, found through a rule at priority 220 (one
// per address family), every entry tagged with uipsec's routing-protocol number. Prefixes that
// several policies share get one route, reference-counted. Only entries carrying our tag are
// ever removed: strongSwan's, in the same table, survive.
//
// Owner: the control thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "base/result.hpp"
#include "io/route.hpp"
#include "policy/policy.hpp"

namespace uipsec {

// What RouteManager needs of rtnetlink; RouteTable implements it (see routing_backend.cpp), and
// tests record the calls.
class RouteControl {
 public:
  virtual ~RouteControl() = default;
  virtual Result<void> add_route(const Route& route) = 0;
  virtual Result<void> delete_route(const Route& route) = 0;
  virtual Result<void> add_rule(const RoutingRule& rule) = 0;
  virtual Result<std::size_t> flush_routes(std::uint32_t table) = 0;
  virtual Result<std::size_t> flush_rules(std::uint32_t priority, std::uint32_t table) = 0;
};

class RouteManager {
 public:
  struct Options {
    InterfaceIndex tun_ifindex;
    std::uint32_t table = kDefaultRouteTable;
    std::uint32_t rule_priority = kDefaultRulePriority;
  };

  RouteManager(RouteControl& control, Options options) : control_(control), options_(options) {}

  // Removes what an earlier run left (only our tag), then adds the rules for both families.
  Result<void> start();
  // Removes every route and rule of ours.
  Result<void> stop();

  // Whether `policy` gets a route: outbound PROTECT.
  static bool routes(const PolicyConfig& policy);
  // Adds the route for `policy` (or counts one more user of it). No-op for policies without one.
  Result<void> policy_added(const PolicyConfig& policy);
  // Drops one user of the route; the last one removes it.
  Result<void> policy_removed(const PolicyConfig& policy);

  std::size_t route_count() const { return users_.size(); }

 private:
  Route route_for(const IpPrefix& destination) const;

  RouteControl& control_;
  Options options_;
  // destination prefix (as text, a stable key) -> policies using it
  std::map<std::string, std::size_t> users_;
};

}  // namespace uipsec
