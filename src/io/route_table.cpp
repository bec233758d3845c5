// Routes and rules over rtnetlink with libmnl: one request at a time, each acknowledged
// (NLM_F_ACK) so every failure comes back with the kernel's errno and extended-ack text.
#include "io/route_table.hpp"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "base/system_error.hpp"

namespace uipsec {

namespace {

// Large enough for a dump datagram of the kernel (it fills up to 32 KiB when we offer that).
constexpr std::size_t kReceiveBytes = 32 * 1024;
constexpr int kDumpAttempts = 3;

Error kernel_error(const std::string& doing, const NetlinkAck& ack) {
  std::string message = doing + ": " + errno_text(ack.error);
  if (!ack.message.empty()) message += " (kernel: " + ack.message + ")";
  return Error(std::move(message));
}

std::string family_text(IpFamily family) { return family == IpFamily::kV4 ? "IPv4" : "IPv6"; }

// Same route as far as a caller of add_route cares: a metric of 0 means "the kernel's default".
bool same_route(const Route& wanted, const Route& present) {
  return wanted.type == present.type && wanted.destination == present.destination &&
         (wanted.type == RouteType::kThrow || wanted.ifindex == present.ifindex) &&
         wanted.table == present.table && wanted.protocol == present.protocol &&
         wanted.preferred_source == present.preferred_source &&
         (wanted.metric == 0 || wanted.metric == present.metric);
}

}  // namespace

Result<RouteTable> RouteTable::open() {
  RtnetlinkOptions options;
  options.extended_acks = true;
  auto socket = open_rtnetlink(options);
  if (!socket) return socket.error();
  int one = 1;
  const bool strict =
      mnl_socket_setsockopt(socket->get(), NETLINK_GET_STRICT_CHK, &one, sizeof(one)) == 0;
  return RouteTable(std::move(*socket), strict);
}

Result<WalkResult> RouteTable::transact(const nlmsghdr* request, std::string_view doing,
                                        const std::function<void(const nlmsghdr*)>& on_data) {
  if (mnl_socket_sendto(socket_.get(), request, request->nlmsg_len) < 0) {
    return system_error(std::string(doing) + ": cannot send to rtnetlink", errno);
  }
  std::vector<std::uint8_t> buffer(kReceiveBytes);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error(std::string(doing) + ": cannot receive from rtnetlink", errno);
    }
    WalkResult walk = walk_netlink(ByteSpan(buffer.data(), static_cast<std::size_t>(n)),
                                   request->nlmsg_seq, on_data);
    if (walk.status == WalkStatus::kMalformed) {
      return Error(std::string(doing) + ": malformed rtnetlink reply");
    }
    if (walk.status == WalkStatus::kDone) return walk;
  }
}

Result<void> RouteTable::change(const nlmsghdr* request, const std::string& doing,
                                int tolerated_error) {
  auto walk = transact(request, doing, [](const nlmsghdr*) {});
  if (!walk.ok()) return walk.error();
  if (walk->ack.error == 0 || walk->ack.error == tolerated_error) return {};
  return kernel_error(doing, walk->ack);
}

Result<void> RouteTable::add_route(const Route& route) {
  const std::string doing = "add route " + to_string(route);
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
  const nlmsghdr* request = build_route_request(buffer, RTM_NEWROUTE, next_seq(), route);
  auto walk = transact(request, doing, [](const nlmsghdr*) {});
  if (!walk.ok()) return walk.error();
  if (walk->ack.error == 0) return {};
  if (walk->ack.error != EEXIST) return kernel_error(doing, walk->ack);

  // Taken: fine if it is this very route, else say what is in the way.
  auto present = list_routes(route.destination.family(), route.table);
  if (!present.ok()) return kernel_error(doing, walk->ack);
  for (const Route& r : *present) {
    if (same_route(route, r)) return {};
  }
  for (const Route& r : *present) {
    if (r.destination == route.destination) {
      return Error(doing + ": " + errno_text(EEXIST) + " (table " + std::to_string(route.table) +
                   " has a different route there: " + to_string(r) + ")");
    }
  }
  return kernel_error(doing, walk->ack);
}

Result<void> RouteTable::delete_route(const Route& route) {
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
  const nlmsghdr* request = build_route_request(buffer, RTM_DELROUTE, next_seq(), route);
  return change(request, "delete route " + to_string(route), ESRCH);
}

Result<std::vector<Route>> RouteTable::list_routes(IpFamily family, std::uint32_t table) {
  const std::string doing =
      "list " + family_text(family) + " routes in table " + std::to_string(table);
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    std::vector<Route> routes;
    alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
    const nlmsghdr* request = build_route_dump_request(buffer, next_seq(), family, table);
    auto walk = transact(request, doing, [&](const nlmsghdr* message) {
      std::optional<Route> route = parse_route(message);
      // Without strict dumps the kernel sends every table; a kernel without IPv6 may answer
      // an IPv6 dump with everything it has.
      if (route && route->table == table && route->destination.family() == family) {
        routes.push_back(std::move(*route));
      }
    });
    if (!walk.ok()) return walk.error();
    // A table that was never used does not exist yet; a kernel without IPv6 has no IPv6 table.
    if (walk->ack.error == ENOENT || walk->ack.error == EAFNOSUPPORT) return std::vector<Route>{};
    if (walk->ack.error != 0) return kernel_error(doing, walk->ack);
    if (!walk->interrupted) return routes;
  }
  return Error(doing + ": the routing table kept changing during the dump; try again");
}

Result<std::size_t> RouteTable::flush_routes(std::uint32_t table, std::uint8_t protocol) {
  std::size_t deleted = 0;
  for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    auto routes = list_routes(family, table);
    if (!routes.ok()) return routes.error();
    for (const Route& route : *routes) {
      if (route.protocol != protocol) continue;
      UIPSEC_TRY(delete_route(route));
      ++deleted;
    }
  }
  return deleted;
}

Result<void> RouteTable::add_rule(const RoutingRule& rule) {
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
  const nlmsghdr* request = build_rule_request(buffer, RTM_NEWRULE, next_seq(), rule);
  return change(request, "add rule " + to_string(rule), EEXIST);
}

Result<void> RouteTable::delete_rule(const RoutingRule& rule) {
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
  const nlmsghdr* request = build_rule_request(buffer, RTM_DELRULE, next_seq(), rule);
  return change(request, "delete rule " + to_string(rule), ENOENT);
}

Result<std::vector<RoutingRule>> RouteTable::list_rules(IpFamily family) {
  const std::string doing = "list " + family_text(family) + " routing rules";
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    std::vector<RoutingRule> rules;
    alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes];
    const nlmsghdr* request = build_rule_dump_request(buffer, next_seq(), family);
    auto walk = transact(request, doing, [&](const nlmsghdr* message) {
      std::optional<RoutingRule> rule = parse_rule(message);
      if (rule && rule->family == family) rules.push_back(*rule);
    });
    if (!walk.ok()) return walk.error();
    if (walk->ack.error == EAFNOSUPPORT) return std::vector<RoutingRule>{};
    if (walk->ack.error != 0) return kernel_error(doing, walk->ack);
    if (!walk->interrupted) return rules;
  }
  return Error(doing + ": the rules kept changing during the dump; try again");
}

Result<std::size_t> RouteTable::flush_rules(std::uint32_t priority, std::uint32_t table,
                                            std::uint8_t protocol) {
  std::size_t deleted = 0;
  for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    auto rules = list_rules(family);
    if (!rules.ok()) return rules.error();
    for (const RoutingRule& rule : *rules) {
      if (rule.priority != priority || rule.table != table || rule.protocol != protocol) continue;
      UIPSEC_TRY(delete_rule(rule));
      ++deleted;
    }
  }
  return deleted;
}

}  // namespace uipsec
