#include "daemon/route_manager.hpp"

namespace uipsec {

bool RouteManager::routes(const PolicyConfig& policy) {
  return policy.direction == PolicyDirection::kOut && policy.action == PolicyAction::kProtect;
}

Route RouteManager::route_for(const IpPrefix& destination) const {
  Route r;
  r.destination = destination;
  r.ifindex = options_.tun_ifindex;
  r.table = options_.table;
  r.protocol = kUipsecRouteProtocol;
  return r;
}

Result<void> RouteManager::start() {
  UIPSEC_TRY(stop());
  for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    RoutingRule rule;
    rule.family = family;
    rule.priority = options_.rule_priority;
    rule.table = options_.table;
    UIPSEC_TRY(control_.add_rule(rule));
  }
  return {};
}

Result<void> RouteManager::stop() {
  auto routes = control_.flush_routes(options_.table);
  if (!routes) return routes.error();
  auto rules = control_.flush_rules(options_.rule_priority, options_.table);
  if (!rules) return rules.error();
  users_.clear();
  return {};
}

Result<void> RouteManager::policy_added(const PolicyConfig& policy) {
  if (!routes(policy)) return {};
  const IpPrefix& destination = policy.selector.destination;
  auto [it, first] = users_.try_emplace(destination.to_string(), 0);
  if (first) {
    if (auto r = control_.add_route(route_for(destination)); !r.ok()) {
      users_.erase(it);
      return r.error();
    }
  }
  ++it->second;
  return {};
}

Result<void> RouteManager::policy_removed(const PolicyConfig& policy) {
  if (!routes(policy)) return {};
  const IpPrefix& destination = policy.selector.destination;
  auto it = users_.find(destination.to_string());
  if (it == users_.end()) return {};
  if (--it->second > 0) return {};
  users_.erase(it);
  return control_.delete_route(route_for(destination));
}

}  // namespace uipsec
