// Which routes and rules each outbound policy needs, shared by reference count (see the header
// and docs/ROUTING.md for the rules it follows).
#include "daemon/route_manager.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

namespace uipsec {

namespace {

constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kUdp = 17;
constexpr std::uint8_t kSctp = 132;

std::string mark_text(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%x", value);
  return text;
}

// The remote (destination) side of `selector` holds `address`.
bool remote_contains(const TrafficSelector& selector, const IpAddress& address) {
  if (address.family() != selector.destination.family()) return false;
  if (!selector.destination.contains(address)) return false;
  return !selector.destination_range || selector.destination_range->contains(address);
}

bool remote_equals(const TrafficSelector& selector, const IpAddress& address) {
  return !selector.destination_range && selector.destination == IpPrefix::host(address);
}

bool is_any(const IpPrefix& prefix) { return prefix.length() == 0; }

}  // namespace

Result<std::vector<IpAddress>> RtnetlinkRouteControl::local_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return Error("cannot list the local addresses (getifaddrs)");
  std::vector<IpAddress> addresses;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr) continue;
    if (entry->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      addresses.push_back(IpAddress::from_bytes(
          IpFamily::kV4, reinterpret_cast<const std::uint8_t*>(&in->sin_addr)));
    } else if (entry->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
      addresses.push_back(IpAddress::from_bytes(
          IpFamily::kV6, reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr)));
    }
  }
  ::freeifaddrs(list);
  return addresses;
}

std::optional<int> RtnetlinkRouteControl::ipv4_rp_filter() {
  std::ifstream file("/proc/sys/net/ipv4/conf/all/rp_filter");
  int value = -1;
  if (!(file >> value)) return std::nullopt;
  return value;
}

bool RouteManager::routes(const PolicyConfig& policy) {
  return policy.direction == PolicyDirection::kOut;
}

void RouteManager::warn(const std::string& message) const {
  if (options_.warn) options_.warn(message);
}

void RouteManager::check_rp_filter(const std::string& why) {
  if (rp_filter_warned_) return;
  const std::optional<int> value = control_.ipv4_rp_filter();
  if (!value || *value != 1) return;
  rp_filter_warned_ = true;
  warn("net.ipv4.conf.all.rp_filter is 1 (strict), but " + why +
       " needs loose reverse-path filtering: ESP from the peer arrives on the outer interface "
       "while table 220 routes the peer into the TUN device, so the kernel drops it. Run "
       "`sysctl -w net.ipv4.conf.all.rp_filter=2` (see docs/ROUTING.md)");
}

Result<void> RouteManager::start() {
  if (options_.bypass_priority >= options_.rule_priority) {
    return Error("the BYPASS rule priority " + std::to_string(options_.bypass_priority) +
                 " must be below the rule priority " + std::to_string(options_.rule_priority));
  }
  // A socket mark without a rule selector: the rules skip marked packets.
  if (options_.socket_mark && !options_.rule_mark) {
    options_.rule_mark = FirewallMark{*options_.socket_mark, 0xffffffff};
    options_.rule_mark_invert = true;
  }
  if (options_.allow_peer_ts) {
    if (!options_.socket_mark) {
      return Error(
          "allow_peer_ts = yes needs a mark on uipsecd's socket (uipsec.routes.socket_mark or "
          "charon.plugins.socket-default.fwmark): without one, uipsecd's own ESP packets to a "
          "host-to-host peer would be routed back into the TUN device");
    }
    const FirewallMark& m = *options_.rule_mark;
    const bool rule_matches_marked =
        ((*options_.socket_mark & m.mask) == m.value) != options_.rule_mark_invert;
    if (rule_matches_marked) {
      return Error(
          "allow_peer_ts = yes needs the routing rule to skip packets with the socket "
          "mark " +
          mark_text(*options_.socket_mark) + ", but the rule's fwmark " +
          (options_.rule_mark_invert ? "!" : "") + mark_text(m.value) + "/" + mark_text(m.mask) +
          " matches them (use fwmark = !" + mark_text(*options_.socket_mark) + ")");
    }
    check_rp_filter("allow_peer_ts = yes (host-to-host tunnels)");
  }

  UIPSEC_TRY(stop());
  for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    RoutingRule rule;
    rule.family = family;
    rule.priority = options_.rule_priority;
    rule.table = options_.table;
    rule.fwmark = options_.rule_mark;
    rule.invert = options_.rule_mark.has_value() && options_.rule_mark_invert;
    UIPSEC_TRY(control_.add_rule(rule));
  }
  return {};
}

Result<void> RouteManager::stop() {
  auto routes = control_.flush_routes(options_.table);
  if (!routes) return routes.error();
  auto rules = control_.flush_rules(options_.rule_priority, options_.table);
  if (!rules) return rules.error();
  auto bypass = control_.flush_rules(options_.bypass_priority, kMainRouteTable);
  if (!bypass) return bypass.error();
  routes_.clear();
  rules_.clear();
  holdings_.clear();
  return {};
}

Route RouteManager::tun_route(const PolicyConfig& config) {
  Route r;
  r.destination = config.selector.destination;
  r.ifindex = options_.tun_ifindex;
  r.table = options_.table;
  r.protocol = kUipsecRouteProtocol;
  const TrafficSelector& s = config.selector;
  if (is_any(s.source)) return r;  // "any" names no particular local address
  auto addresses = control_.local_addresses();
  if (!addresses) return r;
  for (const IpAddress& a : *addresses) {
    if (a.family() == s.source.family() && s.source.contains(a) &&
        (!s.source_range || s.source_range->contains(a))) {
      r.preferred_source = a;
      break;
    }
  }
  return r;
}

Route RouteManager::throw_route(const IpPrefix& destination) const {
  Route r;
  r.type = RouteType::kThrow;
  r.destination = destination;
  r.table = options_.table;
  r.protocol = kUipsecRouteProtocol;
  return r;
}

Result<void> RouteManager::hold_route(Holding& holding, const Route& route) {
  const std::string key = route.destination.to_string();
  auto it = routes_.find(key);
  if (it != routes_.end()) {
    if (it->second.entry.type != route.type) {
      return Error("route " + to_string(route) + " conflicts with " + to_string(it->second.entry) +
                   ", which another policy needs");
    }
  } else {
    Route installed = route;
    auto added = control_.add_route(installed);
    if (!added.ok() && installed.preferred_source) {
      // The source may be going away or not usable yet (a tentative IPv6 address): route
      // without one rather than not at all.
      warn(added.error().message() + "; adding the route without a preferred source");
      installed.preferred_source.reset();
      added = control_.add_route(installed);
    }
    if (!added.ok()) return added.error();
    it = routes_.emplace(key, Shared<Route>{installed, 0}).first;
  }
  ++it->second.users;
  holding.route_keys.push_back(key);
  return {};
}

Result<void> RouteManager::hold_rule(Holding& holding, const RoutingRule& rule) {
  const std::string key = to_string(rule);
  auto it = rules_.find(key);
  if (it == rules_.end()) {
    UIPSEC_TRY(control_.add_rule(rule));
    it = rules_.emplace(key, Shared<RoutingRule>{rule, 0}).first;
  }
  ++it->second.users;
  holding.rule_keys.push_back(key);
  return {};
}

void RouteManager::release(const Holding& holding) {
  for (const std::string& key : holding.route_keys) {
    auto it = routes_.find(key);
    if (it == routes_.end() || --it->second.users > 0) continue;
    if (auto r = control_.delete_route(it->second.entry); !r.ok()) warn(r.error().message());
    routes_.erase(it);
  }
  for (const std::string& key : holding.rule_keys) {
    auto it = rules_.find(key);
    if (it == rules_.end() || --it->second.users > 0) continue;
    if (auto r = control_.delete_rule(it->second.entry); !r.ok()) warn(r.error().message());
    rules_.erase(it);
  }
}

Result<RouteManager::Holding> RouteManager::acquire(const PolicyConfig& config,
                                                    std::optional<IpAddress> peer) {
  Holding holding;
  holding.config = config;
  holding.peer = peer;
  if (!routes(config)) return holding;
  const TrafficSelector& s = config.selector;
  Result<void> done;

  switch (config.action) {
    case PolicyAction::kDiscard:
      // Into the TUN device, where the packet path drops it and counts kPolicyDiscard.
      done = hold_route(holding, tun_route(config));
      break;

    case PolicyAction::kBypass: {
      // Linux rules take ports 1..65534 only: port 0 never appears in real traffic, but a
      // range up to 65535 loses that port (its packets enter the TUN device, counted as
      // bypass-via-tun: narrower is safe, wider would leak).
      const auto rule_ports = [](const PortRange& ports) -> std::optional<RulePortRange> {
        const std::uint16_t first = std::max<std::uint16_t>(ports.first, 1);
        const std::uint16_t last = std::min<std::uint16_t>(ports.last, 65534);
        if (first > last) return std::nullopt;
        return RulePortRange{first, last};
      };
      const bool exact = !s.source_range && !s.destination_range;
      const bool icmp_detail = (s.protocol == 1 || s.protocol == 58) &&
                               (!s.source_ports.is_any() || !s.destination_ports.is_any());
      const bool ported_protocol = s.protocol == kTcp || s.protocol == kUdp || s.protocol == kSctp;
      if (!exact || icmp_detail) {
        // A route or rule would be wider than the policy and let protected traffic out in the
        // clear; the packets go into the TUN device instead and are dropped (bypass-via-tun).
        warn("BYPASS policy " + s.to_string() +
             ": address ranges and ICMP types cannot be expressed as a route or rule; its "
             "traffic enters the TUN device and is dropped as bypass-via-tun");
        break;
      }
      const bool address_only = is_any(s.source) && s.protocol == 0 && s.source_ports.is_any() &&
                                s.destination_ports.is_any();
      if (address_only) {
        done = hold_route(holding, throw_route(s.destination));
        break;
      }
      RoutingRule rule;
      rule.family = s.family();
      rule.priority = options_.bypass_priority;
      rule.table = kMainRouteTable;
      if (!is_any(s.source)) rule.source = s.source;
      if (!is_any(s.destination)) rule.destination = s.destination;
      rule.ip_protocol = s.protocol;
      if (ported_protocol && !s.source_ports.is_any())
        rule.source_ports = rule_ports(s.source_ports);
      if (ported_protocol && !s.destination_ports.is_any()) {
        rule.destination_ports = rule_ports(s.destination_ports);
      }
      if ((ported_protocol && !s.source_ports.is_any() && !rule.source_ports) ||
          (ported_protocol && !s.destination_ports.is_any() && !rule.destination_ports)) {
        warn("BYPASS policy " + s.to_string() +
             ": Linux rules cannot match port 0 or 65535 alone; its traffic enters the TUN "
             "device and is dropped as bypass-via-tun");
        break;
      }
      done = hold_rule(holding, rule);
      break;
    }

    case PolicyAction::kProtect: {
      const bool transport = config.tmpl && config.tmpl->mode == TemplateMode::kTransport;
      if (transport) {
        // ESP goes to the packet's own destination, always inside the remote selector.
        if (!options_.allow_peer_ts) {
          return Error("transport-mode policy " + s.to_string() +
                       ": its ESP packets go to addresses inside the remote selector, which "
                       "routes into the TUN device; that needs allow_peer_ts = yes and a "
                       "socket fwmark (docs/ROUTING.md)");
        }
        if (s.family() == IpFamily::kV4) check_rp_filter("transport-mode policy " + s.to_string());
      } else if (peer && remote_contains(s, *peer)) {
        if (remote_equals(s, *peer)) {
          if (!options_.allow_peer_ts) {
            return Error("policy " + s.to_string() + ": the remote selector equals the peer " +
                         peer->to_string() +
                         " (a host-to-host tunnel); that needs allow_peer_ts = yes and a socket "
                         "fwmark (docs/ROUTING.md)");
          }
          if (peer->is_v4()) check_rp_filter("the host-to-host policy " + s.to_string());
        } else {
          // The exclude route: the peer's own ESP packets must not loop into the TUN device.
          done = hold_route(holding, throw_route(IpPrefix::host(*peer)));
        }
      }
      if (done.ok()) {
        const Result<void> routed = hold_route(holding, tun_route(config));
        if (!routed.ok()) done = routed.error();
      }
      break;
    }
  }
  if (!done.ok()) {
    release(holding);
    return done.error();
  }
  return holding;
}

Result<void> RouteManager::policy_added(const PolicyConfig& policy) {
  if (holdings_.contains(policy.id())) return policy_updated(policy);
  std::optional<IpAddress> peer;
  if (policy.tmpl && policy.tmpl->mode == TemplateMode::kTunnel) peer = policy.tmpl->destination;
  auto holding = acquire(policy, peer);
  if (!holding) return holding.error();
  holdings_.emplace(policy.id(), std::move(*holding));
  return {};
}

Result<void> RouteManager::policy_updated(const PolicyConfig& policy) {
  std::optional<IpAddress> peer;
  if (policy.tmpl && policy.tmpl->mode == TemplateMode::kTunnel) peer = policy.tmpl->destination;
  auto holding = acquire(policy, peer);
  if (!holding) return holding.error();
  auto it = holdings_.find(policy.id());
  if (it != holdings_.end()) {
    release(it->second);
    it->second = std::move(*holding);
  } else {
    holdings_.emplace(policy.id(), std::move(*holding));
  }
  return {};
}

Result<void> RouteManager::policy_removed(const PolicyId& id) {
  auto it = holdings_.find(id);
  if (it == holdings_.end()) return {};
  release(it->second);
  holdings_.erase(it);
  return {};
}

const PolicyConfig* RouteManager::tun_route_user(const std::string& key) const {
  for (const auto& [id, holding] : holdings_) {
    if (holding.config.action == PolicyAction::kBypass) continue;
    for (const std::string& k : holding.route_keys) {
      if (k == key) return &holding.config;
    }
  }
  return nullptr;
}

void RouteManager::replace_route(Shared<Route>& shared, const Route& next) {
  if (next == shared.entry) return;
  if (auto r = control_.delete_route(shared.entry); !r.ok()) warn(r.error().message());
  if (auto r = control_.add_route(next); !r.ok()) {
    warn(r.error().message() + "; keeping " + to_string(shared.entry));
    if (auto back = control_.add_route(shared.entry); !back.ok()) warn(back.error().message());
    return;
  }
  shared.entry = next;
}

void RouteManager::address_added(const IpAddress& address) {
  for (auto& [key, shared] : routes_) {
    if (shared.entry.type != RouteType::kUnicast || shared.entry.preferred_source) continue;
    const PolicyConfig* user = tun_route_user(key);
    if (user == nullptr) continue;
    const TrafficSelector& s = user->selector;
    if (is_any(s.source) || address.family() != s.source.family() || !s.source.contains(address) ||
        (s.source_range && !s.source_range->contains(address))) {
      continue;
    }
    Route next = shared.entry;
    next.preferred_source = address;
    replace_route(shared, next);
  }
}

void RouteManager::address_removed(const IpAddress& address) {
  for (auto& [key, shared] : routes_) {
    if (shared.entry.preferred_source != address) continue;
    const PolicyConfig* user = tun_route_user(key);
    Route next = user != nullptr ? tun_route(*user) : shared.entry;
    if (next.preferred_source == address) next.preferred_source.reset();
    // The kernel may have deleted the route with the address: add it again in any case.
    (void)control_.delete_route(shared.entry);
    shared.entry.preferred_source.reset();
    if (auto r = control_.add_route(next); !r.ok()) {
      warn(r.error().message());
      Route bare = next;
      bare.preferred_source.reset();
      if (auto again = control_.add_route(bare); !again.ok()) warn(again.error().message());
      next = bare;
    }
    shared.entry = next;
  }
}

void RouteManager::addresses_resynced(const std::vector<IpAddress>& present) {
  std::vector<IpAddress> gone;
  for (const auto& [key, shared] : routes_) {
    const auto& source = shared.entry.preferred_source;
    if (source && std::find(present.begin(), present.end(), *source) == present.end()) {
      gone.push_back(*source);
    }
  }
  for (const IpAddress& a : gone) address_removed(a);
  for (const IpAddress& a : present) address_added(a);
}

Result<void> RouteManager::peer_moved(Reqid reqid, const IpAddress& from, const IpAddress& to) {
  if (from == to) return {};
  std::vector<std::pair<Holding*, Holding>> moved;
  for (auto& [id, holding] : holdings_) {
    const PolicyConfig& c = holding.config;
    if (!c.tmpl || c.tmpl->reqid != reqid || c.tmpl->mode != TemplateMode::kTunnel ||
        holding.peer != from) {
      continue;
    }
    auto next = acquire(c, to);
    if (!next) {
      for (auto& [old, fresh] : moved) release(fresh);
      return next.error().with_context("the SA's new peer " + to.to_string() + " cannot be routed");
    }
    moved.emplace_back(&holding, std::move(*next));
  }
  for (auto& [old, fresh] : moved) {
    release(*old);
    *old = std::move(fresh);
  }
  return {};
}

}  // namespace uipsec
