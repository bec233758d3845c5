// Route and RoutingRule: the entries uipsec puts into the kernel's policy routing so protected
// traffic enters the TUN device — routes in table 220, a rule at priority 220 that looks them
// up (the numbers strongSwan uses too) — and the routing-protocol tag that marks them as ours.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/ip_address.hpp"
#include "io/interface_index.hpp"

namespace uipsec {

// The routing-protocol number (rtm_protocol of routes, FRA_PROTOCOL of rules) that tags every
// route and rule uipsec installs, so uipsec can find and remove exactly its own entries and
// leave those of others — strongSwan uses the same table and priority. 85 is ASCII 'U'. It is
// not a kernel RTPROT_* value (<linux/rtnetlink.h>: 0-4, 8-18, 42, 99, 186-192), not in
// iproute2's /etc/iproute2/rt_protos, and not among numbers known to be taken by other
// daemons (FRR 186-198, Calico 80, BIRD 12); the kernel interprets none from 4 (static) up.
// `ip route show table 220 proto 85` lists our routes.
inline constexpr std::uint8_t kUipsecRouteProtocol = 85;
// Defaults for the table of protected routes and the priority of the rule that looks it up.
inline constexpr std::uint32_t kDefaultRouteTable = 220;
inline constexpr std::uint32_t kDefaultRulePriority = 220;

// What a route does with the packets it matches (rtm_type).
enum class RouteType : std::uint8_t {
  kUnicast,  // RTN_UNICAST: out through `ifindex`
  // RTN_THROW: stop looking in this table and go on with the next rule — the "exclude route"
  // that keeps traffic to the IPsec peer (and BYPASS traffic) out of table 220.
  kThrow,
};

// A unicast route to `destination` through an interface, without gateway (the TUN device is
// point to point): `ip route add DESTINATION dev IFINDEX table TABLE proto PROTOCOL [src SRC]`;
// or a throw route (`ip route add throw DESTINATION table TABLE proto PROTOCOL`, no device).
struct Route {
  RouteType type = RouteType::kUnicast;
  IpPrefix destination;
  InterfaceIndex ifindex;  // 0 in dumps of routes without a single device (multipath, blackhole)
  std::uint32_t table = kDefaultRouteTable;
  std::uint8_t protocol = kUipsecRouteProtocol;
  // The source address the kernel picks for locally originated packets on this route (our
  // virtual IP); it must be an address of this host.
  std::optional<IpAddress> preferred_source;
  // RTA_PRIORITY; 0 lets the kernel choose (0 for IPv4, 1024 for IPv6).
  std::uint32_t metric = 0;

  friend bool operator==(const Route&, const Route&) = default;
};

// A firewall mark to match under a mask: `fwmark VALUE/MASK`.
struct FirewallMark {
  std::uint32_t value = 0;
  std::uint32_t mask = 0xffffffff;
  friend bool operator==(const FirewallMark&, const FirewallMark&) = default;
};

// An inclusive range of TCP/UDP/SCTP ports (struct fib_rule_port_range). Linux accepts only
// 1 <= first <= last <= 65534 ("Invalid sport range" otherwise).
struct RulePortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  friend bool operator==(const RulePortRange&, const RulePortRange&) = default;
};

// A policy-routing rule that looks up `table`:
// `ip rule add [not] [from SRC] [to DST] [ipproto P] [sport A-B] [dport C-D] [fwmark VALUE/MASK]
//  priority PRIORITY table TABLE proto PROTOCOL`.
struct RoutingRule {
  IpFamily family = IpFamily::kV4;
  std::uint32_t priority = kDefaultRulePriority;
  std::uint32_t table = kDefaultRouteTable;
  std::uint8_t protocol = kUipsecRouteProtocol;
  std::optional<FirewallMark> fwmark;
  // FIB_RULE_INVERT: the rule applies to packets that do NOT match its selectors, e.g.
  // "not fwmark 0x1" keeps the tunnel's own marked ESP packets out of table 220. Without a
  // selector an inverted rule matches nothing.
  bool invert = false;
  // Packet selectors (FRA_SRC/FRA_DST, FRA_IP_PROTO, FRA_SPORT_RANGE/FRA_DPORT_RANGE; ports and
  // protocol need Linux >= 4.17). Absent: any.
  std::optional<IpPrefix> source;
  std::optional<IpPrefix> destination;
  std::uint8_t ip_protocol = 0;  // 0: any
  std::optional<RulePortRange> source_ports;
  std::optional<RulePortRange> destination_ports;

  friend bool operator==(const RoutingRule&, const RoutingRule&) = default;
};

// "198.18.20.0/24 dev ipsec0 table 220 proto 85 src 198.18.0.1" (the device by name when it
// exists, else "ifindex N"), "throw 198.18.0.2/32 table 220 proto 85", as `ip route` would show
// it.
std::string to_string(const Route& route);
// "priority 220 not fwmark 0x1/0xffffffff table 220 proto 85 (IPv4)"; selectors as
// "from 198.18.10.0/24 to 198.18.20.0/24 ipproto 6 sport 1-2 dport 22-22".
std::string to_string(const RoutingRule& rule);

}  // namespace uipsec
