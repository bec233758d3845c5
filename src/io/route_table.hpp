// RouteTable: adds, removes and lists routes and policy-routing rules through rtnetlink
// (libmnl), IPv4 and IPv6, and flushes exactly the entries that carry our routing-protocol tag
// (kUipsecRouteProtocol) — so the routes and rules strongSwan keeps in the same table 220 and at
// the same priority 220 survive. Never runs `ip`.
//
// Idempotence: adding a route that exists identically (same destination, device, table,
// protocol, source; metric when one is given) succeeds; adding one whose key (destination,
// table, metric) is taken by a different route fails with "File exists" and says what is there.
// Adding a rule the kernel considers present succeeds (the kernel's comparison ignores the
// protocol and the "not" flag, so that rule may be someone else's; it is then left alone by
// flush_rules). Deleting what is not there succeeds (a route leaves with its device).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "io/netlink_message.hpp"
#include "io/route.hpp"
#include "io/rtnetlink_socket.hpp"

struct mnl_socket;

namespace uipsec {

// Owner: one thread (the control thread). Needs CAP_NET_ADMIN to change anything; listing
// works without.
class RouteTable {
 public:
  // Opens a NETLINK_ROUTE socket (extended acks on, so errors carry the kernel's reason).
  static Result<RouteTable> open();

  Result<void> add_route(const Route& route);
  Result<void> delete_route(const Route& route);
  // Every route of `family` in `table`, whoever added it.
  Result<std::vector<Route>> list_routes(IpFamily family, std::uint32_t table);
  // Deletes the IPv4 and IPv6 routes in `table` tagged `protocol`; returns how many.
  Result<std::size_t> flush_routes(std::uint32_t table,
                                   std::uint8_t protocol = kUipsecRouteProtocol);

  // The kernel matches a delete on the attributes given: a rule without fwmark deletes the
  // first rule of ours with that priority and table, marked or not.
  Result<void> add_rule(const RoutingRule& rule);
  Result<void> delete_rule(const RoutingRule& rule);
  // Every rule of `family`, whoever added it, in the kernel's order.
  Result<std::vector<RoutingRule>> list_rules(IpFamily family);
  // Deletes the IPv4 and IPv6 rules at `priority` looking up `table` and tagged `protocol`
  // (FRA_PROTOCOL, Linux >= 4.17); returns how many.
  Result<std::size_t> flush_rules(std::uint32_t priority, std::uint32_t table,
                                  std::uint8_t protocol = kUipsecRouteProtocol);

  // True when the kernel filters route dumps by table (NETLINK_GET_STRICT_CHK, Linux >= 4.20).
  bool filters_dumps() const { return strict_dumps_; }

 private:
  RouteTable(RtnetlinkSocket socket, bool strict_dumps)
      : socket_(std::move(socket)), strict_dumps_(strict_dumps) {}

  std::uint32_t next_seq() { return seq_++; }
  // Sends `request` and reads until its acknowledgement (or a dump's end), handing every data
  // message to `on_data`. An Error means no usable answer; the kernel's verdict is the ack.
  Result<WalkResult> transact(const nlmsghdr* request, std::string_view doing,
                              const std::function<void(const nlmsghdr*)>& on_data);
  // A change request: success when the kernel acknowledges it or answers `tolerated_error`.
  Result<void> change(const nlmsghdr* request, const std::string& doing, int tolerated_error);

  RtnetlinkSocket socket_;
  // NETLINK_GET_STRICT_CHK: the kernel filters dumps by table (else we filter what it sends).
  bool strict_dumps_;
  std::uint32_t seq_ = 1;
};

}  // namespace uipsec
