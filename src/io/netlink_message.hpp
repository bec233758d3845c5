// rtnetlink messages for routes and rules (RFC 3549; <linux/rtnetlink.h>, <linux/fib_rules.h>):
// pure builders of requests, and parsers of what the kernel sends back — dump entries, an
// interface's drop counters and acknowledgements with their extended-ack text. The parsers treat
// their input as untrusted: they check every length and never read outside the buffer
// (netlink_dump_fuzz.cpp).
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/bytes.hpp"
#include "io/interface_index.hpp"
#include "io/route.hpp"

namespace uipsec {

// A buffer large enough for any request built here.
inline constexpr std::size_t kNetlinkRequestBytes = 512;

// Builders: write one request into `buffer` (kNetlinkRequestBytes, aligned for nlmsghdr) and
// return its header; nlmsg_len is the length to send. The caller sets nothing else.
//
// RTM_NEWROUTE (NLM_F_CREATE | NLM_F_EXCL) or RTM_DELROUTE for `route`; a delete names the
// route by destination, table, protocol and, when set, device, source and metric.
nlmsghdr* build_route_request(void* buffer, std::uint16_t type, std::uint32_t seq,
                              const Route& route);
// RTM_NEWRULE (NLM_F_CREATE | NLM_F_EXCL) or RTM_DELRULE for `rule`.
nlmsghdr* build_rule_request(void* buffer, std::uint16_t type, std::uint32_t seq,
                             const RoutingRule& rule);
// RTM_GETROUTE dump of one family's routes in `table` (a filter the kernel honours when the
// socket has NETLINK_GET_STRICT_CHK; otherwise it sends every table).
nlmsghdr* build_route_dump_request(void* buffer, std::uint32_t seq, IpFamily family,
                                   std::uint32_t table);
// RTM_GETRULE dump of one family's rules.
nlmsghdr* build_rule_dump_request(void* buffer, std::uint32_t seq, IpFamily family);

// Parsers of single messages; nullopt when `message` is not of that type or is malformed.
// `message` must point to at least nlmsg_len bytes rounded up to 4 (walk_netlink guarantees it).
//
// An RTM_NEWROUTE entry of a dump. Cached clones (RTM_F_CLONED), families other than IPv4
// and IPv6, and types other than unicast and throw (local, broadcast, blackhole...: never
// uipsec's) give nullopt.
std::optional<Route> parse_route(const nlmsghdr* message);
// An RTM_NEWRULE entry of a dump (only the fields RoutingRule models).
std::optional<RoutingRule> parse_rule(const nlmsghdr* message);

// An address added to (RTM_NEWADDR) or removed from (RTM_DELADDR) an interface, as the kernel
// announces it to RTMGRP_IPV4_IFADDR / RTMGRP_IPV6_IFADDR listeners and in address dumps.
struct AddressChange {
  bool added = true;
  IpAddress address;  // IFA_LOCAL (IPv4: the local end of point-to-point links), else IFA_ADDRESS
  std::uint8_t prefix_length = 0;
  InterfaceIndex ifindex;
  friend bool operator==(const AddressChange&, const AddressChange&) = default;
};
std::optional<AddressChange> parse_address_change(const nlmsghdr* message);
// RTM_GETADDR dump of one family's addresses.
nlmsghdr* build_address_dump_request(void* buffer, std::uint32_t seq, IpFamily family);

// The drop counters of a network interface, from an RTM_NEWLINK message's IFLA_STATS64
// (struct rtnl_link_stats64; `ip -s link` shows the same).
struct LinkDrops {
  InterfaceIndex ifindex;
  // Packets the kernel dropped on their way in from the device (for a TUN device: what its
  // reader wrote) and on their way out to it (for a TUN device: what had no room in the queue
  // its reader reads, or found no reader).
  std::uint64_t rx_dropped = 0;
  std::uint64_t tx_dropped = 0;
  friend bool operator==(const LinkDrops&, const LinkDrops&) = default;
};
// RTM_GETLINK of the interface `ifindex` (NLM_F_ACK: the answer is one RTM_NEWLINK, then the
// acknowledgement).
nlmsghdr* build_link_request(void* buffer, std::uint32_t seq, InterfaceIndex ifindex);
// An RTM_NEWLINK message with IFLA_STATS64; nullopt when it is not one, is malformed, or
// carries no 64-bit statistics.
std::optional<LinkDrops> parse_link_drops(const nlmsghdr* message);

// The outcome of an NLMSG_ERROR message: `error` is 0 for success or a positive errno;
// `message` is the kernel's extended-ack text ("Invalid prefsrc address"), empty when none.
struct NetlinkAck {
  int error = 0;
  std::string message;
};
std::optional<NetlinkAck> parse_ack(const nlmsghdr* message);

// What walk_netlink found in one received buffer.
enum class WalkStatus : std::uint8_t {
  kMore,       // only data messages so far; receive again
  kDone,       // NLMSG_DONE or an NLMSG_ERROR (see `ack`) ended the reply
  kMalformed,  // a header or an error message was cut short or inconsistent
};
struct WalkResult {
  WalkStatus status = WalkStatus::kMore;
  NetlinkAck ack;            // set when an NLMSG_ERROR ended the reply (or NLMSG_DONE carried one)
  bool interrupted = false;  // NLM_F_DUMP_INTR: the tables changed during the dump
};

// Walks the messages in `bytes` that answer request `seq` (others are skipped) and calls
// `on_data` for every message that is neither NLMSG_NOOP, NLMSG_DONE nor NLMSG_ERROR.
WalkResult walk_netlink(ByteSpan bytes, std::uint32_t seq,
                        const std::function<void(const nlmsghdr*)>& on_data);
// The same for multicast announcements (RTM_NEWADDR...): every message, whatever its sequence
// number (the kernel copies that of the request that caused the change).
WalkResult walk_announcements(ByteSpan bytes, const std::function<void(const nlmsghdr*)>& on_data);

}  // namespace uipsec
