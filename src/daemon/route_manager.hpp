// RouteManager: the routes and rules that steer traffic into (and past) the TUN device, as
// strongSwan's kernel-libipsec router installs them, plus what it leaves out (docs/ROUTING.md):
//   - outbound PROTECT and DISCARD: a route for the destination prefix via the TUN device in
//     table 220 (DISCARD so the packet path drops and counts it as kPolicyDiscard), with the
//     preferred source set to a local address inside the policy's source selector when the host
//     has one;
//   - exclude routes: when a PROTECT policy's remote selector contains its peer (the tunnel
//     destination), a throw route for the peer's /32 or /128 in table 220, so uipsecd's own ESP
//     packets leave through the normal routes; a remote selector equal to the peer (host to
//     host) is refused unless allow_peer_ts, which then relies on a socket fwmark and a rule
//     that skips marked packets;
//   - outbound BYPASS: address-only as a throw route in table 220, port- or protocol-specific
//     as a rule ahead of table 220 (priority bypass_priority, lookup main);
//   - the rules at priority 220 (one per family), with an optional [not] fwmark selector.
// Every route and rule is shared by reference count and tagged with uipsec's routing-protocol
// number; only entries carrying that tag are ever removed, so strongSwan's survive.
//
// Owner: the control thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "io/route.hpp"
#include "io/route_table.hpp"
#include "policy/policy.hpp"

namespace uipsec {

// What RouteManager needs of the host; RtnetlinkRouteControl implements it, tests record calls.
class RouteControl {
 public:
  virtual ~RouteControl() = default;
  virtual Result<void> add_route(const Route& route) = 0;
  virtual Result<void> delete_route(const Route& route) = 0;
  virtual Result<void> add_rule(const RoutingRule& rule) = 0;
  virtual Result<void> delete_rule(const RoutingRule& rule) = 0;
  virtual Result<std::size_t> flush_routes(std::uint32_t table) = 0;
  virtual Result<std::size_t> flush_rules(std::uint32_t priority, std::uint32_t table) = 0;
  // The addresses configured on this host's interfaces (candidates for a preferred source).
  virtual Result<std::vector<IpAddress>> local_addresses() = 0;
  // net.ipv4.conf.all.rp_filter (0 off, 1 strict, 2 loose); nullopt when unreadable.
  virtual std::optional<int> ipv4_rp_filter() = 0;
};

// RouteControl over rtnetlink (RouteTable), getifaddrs() and /proc/sys.
class RtnetlinkRouteControl final : public RouteControl {
 public:
  explicit RtnetlinkRouteControl(RouteTable table) : table_(std::move(table)) {}
  Result<void> add_route(const Route& r) override { return table_.add_route(r); }
  Result<void> delete_route(const Route& r) override { return table_.delete_route(r); }
  Result<void> add_rule(const RoutingRule& r) override { return table_.add_rule(r); }
  Result<void> delete_rule(const RoutingRule& r) override { return table_.delete_rule(r); }
  Result<std::size_t> flush_routes(std::uint32_t table) override {
    return table_.flush_routes(table);
  }
  Result<std::size_t> flush_rules(std::uint32_t priority, std::uint32_t table) override {
    return table_.flush_rules(priority, table);
  }
  Result<std::vector<IpAddress>> local_addresses() override;
  std::optional<int> ipv4_rp_filter() override;

 private:
  RouteTable table_;
};

// The main routing table (RT_TABLE_MAIN), which BYPASS rules look up.
inline constexpr std::uint32_t kMainRouteTable = 254;

class RouteManager {
 public:
  struct Options {
    InterfaceIndex tun_ifindex;
    std::uint32_t table = kDefaultRouteTable;
    std::uint32_t rule_priority = kDefaultRulePriority;
    // Rules for port/protocol-specific BYPASS policies; must be below rule_priority.
    std::uint32_t bypass_priority = kDefaultRulePriority - 1;
    // The fwmark selector of the rules at rule_priority: with `invert`, "not fwmark V/M" (skip
    // packets carrying uipsecd's socket mark), without it "fwmark V/M" (only marked packets).
    std::optional<FirewallMark> rule_mark;
    bool rule_mark_invert = false;
    // Permit a remote selector equal to the peer (host to host); start() refuses it unless the
    // socket mark is set and the rule skips packets carrying it.
    bool allow_peer_ts = false;
    std::optional<std::uint32_t> socket_mark;
    // Where warnings go (the daemon's log); may be empty.
    std::function<void(const std::string&)> warn;
  };

  RouteManager(RouteControl& control, Options options)
      : control_(control), options_(std::move(options)) {}

  // Checks the options (allow_peer_ts needs a socket mark that the rule skips), removes what an
  // earlier run left (our tag only), adds the rules for both families, and warns when
  // allow_peer_ts meets strict reverse-path filtering.
  Result<void> start();
  // Removes every route and rule of ours.
  Result<void> stop();

  // Whether `policy` needs routing entries: outbound PROTECT, BYPASS and DISCARD.
  static bool routes(const PolicyConfig& policy);
  // Installs what `policy` needs (or counts one more user). Errors leave nothing behind: a
  // remote selector equal to the peer without allow_peer_ts, a conflict, the kernel's refusal.
  Result<void> policy_added(const PolicyConfig& policy);
  // Replaces the entries of the policy with `policy`'s id: new ones first, so a failure leaves
  // the old ones in place.
  Result<void> policy_updated(const PolicyConfig& policy);
  // Drops the policy's users; the last user of an entry removes it.
  Result<void> policy_removed(const PolicyId& id);
  // An SA of `reqid` moved from peer `from` to `to` (update_sa): the exclude routes of the
  // tunnel-mode PROTECT policies of that reqid towards `from` follow. Nothing changes on error.
  Result<void> peer_moved(Reqid reqid, const IpAddress& from, const IpAddress& to);

  // An address appeared on this host (AddressMonitor): routes without a preferred source that
  // serve a policy whose local selector holds it get it as their source.
  void address_added(const IpAddress& address);
  // An address went (IPv4 deletes the routes that used it as their source): those routes are
  // installed again with another local address inside the selector, or none.
  void address_removed(const IpAddress& address);
  // After lost announcements: `present` is every address the host has now.
  void addresses_resynced(const std::vector<IpAddress>& present);

  std::size_t route_count() const { return routes_.size(); }
  std::size_t rule_count() const { return rules_.size(); }

 private:
  // What one policy holds: keys into routes_ and rules_.
  struct Holding {
    PolicyConfig config;
    std::optional<IpAddress> peer;  // tunnel destination, possibly moved by peer_moved
    std::vector<std::string> route_keys;
    std::vector<std::string> rule_keys;
  };
  template <class T>
  struct Shared {
    T entry;
    std::size_t users = 0;
  };

  // Computes and installs `config`'s entries with `peer` as its tunnel destination.
  Result<Holding> acquire(const PolicyConfig& config, std::optional<IpAddress> peer);
  void release(const Holding& holding);
  Result<void> hold_route(Holding& holding, const Route& route);
  Result<void> hold_rule(Holding& holding, const RoutingRule& rule);
  Route tun_route(const PolicyConfig& config);
  Route throw_route(const IpPrefix& destination) const;
  void warn(const std::string& message) const;
  // The PROTECT or DISCARD policy a route into the TUN device serves (the first holder).
  const PolicyConfig* tun_route_user(const std::string& key) const;
  // Swaps an installed route for `next` (same key); keeps the old one if `next` is refused.
  void replace_route(Shared<Route>& shared, const Route& next);
  void check_rp_filter(const std::string& why);

  RouteControl& control_;
  Options options_;
  std::map<std::string, Shared<Route>> routes_;  // to_string(route) minus source -> route
  std::map<std::string, Shared<RoutingRule>> rules_;
  std::unordered_map<PolicyId, Holding> holdings_;
  bool rp_filter_warned_ = false;
};

}  // namespace uipsec
