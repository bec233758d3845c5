#include "io/netlink_message.hpp"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace uipsec {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

struct alignas(nlmsghdr) Buffer {
  std::uint8_t bytes[4096] = {};
};

// The kernel answers a dump with the same layout the builders write, as RTM_NEWROUTE /
// RTM_NEWRULE; so building an add request and parsing it is a faithful round trip.
TEST(NetlinkMessage, RouteRoundTrips) {
  Route v4;
  v4.destination = *IpPrefix::parse("198.18.20.0/24");
  v4.ifindex = InterfaceIndex(7);
  v4.preferred_source = ip("198.18.0.1");
  Route v6;
  v6.destination = *IpPrefix::parse("2001:db8:20::/64");
  v6.ifindex = InterfaceIndex(8);
  v6.table = 1000;  // beyond rtm_table's 8 bits: RTA_TABLE carries it
  v6.metric = 512;
  for (const Route& route : {v4, v6}) {
    Buffer b;
    const nlmsghdr* message = build_route_request(b.bytes, RTM_NEWROUTE, 9, route);
    EXPECT_EQ(message->nlmsg_seq, 9u);
    EXPECT_EQ(message->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(message));
    EXPECT_EQ(rtm->rtm_protocol, kUipsecRouteProtocol);
    EXPECT_EQ(rtm->rtm_type, RTN_UNICAST);
    EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_LINK);
    const std::optional<Route> parsed = parse_route(message);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, route) << to_string(*parsed);
  }
}

TEST(NetlinkMessage, RouteDeleteMatchesAnyScopeAndType) {
  Route route;
  route.destination = *IpPrefix::parse("198.18.20.0/24");
  Buffer b;
  const nlmsghdr* message = build_route_request(b.bytes, RTM_DELROUTE, 1, route);
  EXPECT_EQ(message->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(message));
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_NOWHERE);
  EXPECT_EQ(rtm->rtm_type, RTN_UNSPEC);
  EXPECT_EQ(rtm->rtm_protocol, kUipsecRouteProtocol) << "the kernel deletes only our protocol's";
}

TEST(NetlinkMessage, RuleRoundTrips) {
  RoutingRule plain;
  RoutingRule marked;
  marked.family = IpFamily::kV6;
  marked.priority = 221;
  marked.table = 4242;
  marked.fwmark = FirewallMark{0x1, 0xff};
  marked.invert = true;
  for (const RoutingRule& rule : {plain, marked}) {
    Buffer b;
    const nlmsghdr* message = build_rule_request(b.bytes, RTM_NEWRULE, 3, rule);
    const auto* frh = static_cast<const fib_rule_hdr*>(mnl_nlmsg_get_payload(message));
    EXPECT_EQ(frh->action, FR_ACT_TO_TBL);
    EXPECT_EQ((frh->flags & FIB_RULE_INVERT) != 0, rule.invert);
    const std::optional<RoutingRule> parsed = parse_rule(message);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, rule) << to_string(*parsed);
  }
  EXPECT_EQ(to_string(marked), "priority 221 not fwmark 0x1/0xff table 4242 proto 85 (IPv6)");
}

TEST(NetlinkMessage, DumpRequestsAskForOneFamily) {
  Buffer b;
  const nlmsghdr* routes = build_route_dump_request(b.bytes, 5, IpFamily::kV6, 220);
  EXPECT_EQ(routes->nlmsg_type, RTM_GETROUTE);
  EXPECT_EQ(routes->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(static_cast<const rtmsg*>(mnl_nlmsg_get_payload(routes))->rtm_family, AF_INET6);
  const nlmsghdr* rules = build_rule_dump_request(b.bytes, 6, IpFamily::kV4);
  EXPECT_EQ(rules->nlmsg_type, RTM_GETRULE);
  EXPECT_EQ(rules->nlmsg_len, NLMSG_LENGTH(sizeof(fib_rule_hdr)))
      << "strict dumps want no attributes";
}

// An NLMSG_ERROR as the kernel sends it, with NETLINK_CAP_ACK (only the request's header is
// echoed) or without, and an NLMSGERR_ATTR_MSG text.
std::vector<std::uint8_t> error_message(int error, std::uint32_t seq, bool capped,
                                        const char* text) {
  std::vector<std::uint8_t> bytes(1024, 0);
  nlmsghdr* header = mnl_nlmsg_put_header(bytes.data());
  header->nlmsg_type = NLMSG_ERROR;
  header->nlmsg_seq = seq;
  header->nlmsg_flags =
      static_cast<std::uint16_t>((capped ? NLM_F_CAPPED : 0) | (text ? NLM_F_ACK_TLVS : 0));
  auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(header, sizeof(nlmsgerr)));
  err->error = -error;
  err->msg.nlmsg_len = capped ? sizeof(nlmsghdr) : sizeof(nlmsghdr) + 20;
  err->msg.nlmsg_seq = seq;
  if (!capped) mnl_nlmsg_put_extra_header(header, 20);  // the echoed request's payload
  if (text) mnl_attr_put_strz(header, NLMSGERR_ATTR_MSG, text);
  bytes.resize(header->nlmsg_len);
  return bytes;
}

TEST(NetlinkMessage, AcksCarryErrnoAndTheKernelsReason) {
  for (bool capped : {true, false}) {
    auto bytes = error_message(EINVAL, 4, capped, "Invalid prefsrc address");
    auto ack = parse_ack(reinterpret_cast<const nlmsghdr*>(bytes.data()));
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->error, EINVAL);
    EXPECT_EQ(ack->message, "Invalid prefsrc address") << (capped ? "capped" : "full echo");
  }
  auto ok = error_message(0, 4, true, nullptr);
  auto ack = parse_ack(reinterpret_cast<const nlmsghdr*>(ok.data()));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->error, 0);
  EXPECT_EQ(ack->message, "");
}

TEST(NetlinkMessage, WalksADumpAndStopsAtItsEnd) {
  std::vector<std::uint8_t> stream;
  Route route;
  route.destination = *IpPrefix::parse("198.18.20.0/24");
  route.ifindex = InterfaceIndex(3);
  for (std::uint32_t seq : {7u, 8u, 7u}) {  // the 8 answers another request: skipped
    Buffer b;
    nlmsghdr* message = build_route_request(b.bytes, RTM_NEWROUTE, seq, route);
    stream.insert(stream.end(), b.bytes, b.bytes + NLMSG_ALIGN(message->nlmsg_len));
  }
  Buffer done;
  nlmsghdr* end = mnl_nlmsg_put_header(done.bytes);
  end->nlmsg_type = NLMSG_DONE;
  end->nlmsg_seq = 7;
  *static_cast<int*>(mnl_nlmsg_put_extra_header(end, sizeof(int))) = 0;
  stream.insert(stream.end(), done.bytes, done.bytes + end->nlmsg_len);

  int routes = 0;
  WalkResult walk = walk_netlink(stream, 7, [&](const nlmsghdr* m) {
    if (parse_route(m)) ++routes;
  });
  EXPECT_EQ(walk.status, WalkStatus::kDone);
  EXPECT_EQ(walk.ack.error, 0);
  EXPECT_EQ(routes, 2);

  // Without the end: more to come.
  walk = walk_netlink(ByteSpan(stream.data(), stream.size() - end->nlmsg_len), 7,
                      [](const nlmsghdr*) {});
  EXPECT_EQ(walk.status, WalkStatus::kMore);
  // Cut inside a message: malformed.
  walk = walk_netlink(ByteSpan(stream.data(), 30), 7, [](const nlmsghdr*) {});
  EXPECT_EQ(walk.status, WalkStatus::kMalformed);
}

TEST(NetlinkMessage, DumpEndCarriesAFailedDumpsError) {
  std::vector<std::uint8_t> bytes(256, 0);
  nlmsghdr* end = mnl_nlmsg_put_header(bytes.data());
  end->nlmsg_type = NLMSG_DONE;
  end->nlmsg_seq = 2;
  end->nlmsg_flags = NLM_F_MULTI | NLM_F_ACK_TLVS;
  *static_cast<int*>(mnl_nlmsg_put_extra_header(end, sizeof(int))) = -ENOENT;
  mnl_attr_put_strz(end, NLMSGERR_ATTR_MSG, "ipv4: FIB table does not exist");
  bytes.resize(end->nlmsg_len);
  WalkResult walk = walk_netlink(bytes, 2, [](const nlmsghdr*) {});
  EXPECT_EQ(walk.status, WalkStatus::kDone);
  EXPECT_EQ(walk.ack.error, ENOENT);
  EXPECT_EQ(walk.ack.message, "ipv4: FIB table does not exist");
}

TEST(NetlinkMessage, RefusesMalformedEntries) {
  Route route;
  route.destination = *IpPrefix::parse("198.18.20.0/24");
  Buffer b;
  nlmsghdr* message = build_route_request(b.bytes, RTM_NEWROUTE, 1, route);
  // An IPv4 route whose RTA_DST holds 16 bytes.
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_get_payload(message));
  rtm->rtm_family = AF_INET6;
  rtm->rtm_dst_len = 24;
  EXPECT_TRUE(parse_route(message) == std::nullopt) << "4-byte RTA_DST in an IPv6 route";
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 33;
  EXPECT_FALSE(parse_route(message));
  rtm->rtm_dst_len = 24;
  rtm->rtm_flags = RTM_F_CLONED;
  EXPECT_FALSE(parse_route(message)) << "cache entries are not routes";
  rtm->rtm_flags = 0;
  message->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg) - 1);
  EXPECT_FALSE(parse_route(message)) << "shorter than its fixed header";
  message->nlmsg_type = RTM_NEWRULE;
  EXPECT_FALSE(parse_route(message));
  EXPECT_FALSE(parse_rule(message));
  EXPECT_FALSE(parse_ack(message));
}

// Datagrams a real kernel (6.18) sent for `ip route`/`ip rule` dumps of a namespace holding
// table 220 entries (see fuzz_corpus/netlink_dump_fuzz): the parser must read the kernel's own
// encoding, not just ours.
std::vector<std::uint32_t> captured(const char* name, std::size_t& size) {
  std::ifstream in(std::string(UIPSEC_NETLINK_CORPUS) + "/" + name, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  size = bytes.size();
  std::vector<std::uint32_t> aligned((bytes.size() + 3) / 4);
  if (!bytes.empty()) std::memcpy(aligned.data(), bytes.data(), bytes.size());
  return aligned;
}

TEST(NetlinkMessage, ParsesWhatTheKernelSends) {
  std::size_t size = 0;
  auto v4 = captured("routes_v4", size);
  ASSERT_GT(size, 0u);
  std::vector<Route> routes;
  WalkResult walk = walk_netlink(ByteSpan(reinterpret_cast<std::uint8_t*>(v4.data()), size), 7,
                                 [&](const nlmsghdr* m) {
                                   if (auto r = parse_route(m); r && r->table == 220)
                                     routes.push_back(*r);
                                 });
  EXPECT_EQ(walk.status, WalkStatus::kMore) << "the dump's end came in the next datagram";
  ASSERT_EQ(routes.size(), 2u);
  std::sort(routes.begin(), routes.end(), [](const Route& a, const Route& b) {
    return a.destination.address() < b.destination.address();
  });
  EXPECT_EQ(routes[0].destination, *IpPrefix::parse("198.18.20.0/24"));
  EXPECT_EQ(routes[0].protocol, kUipsecRouteProtocol);
  EXPECT_EQ(routes[0].preferred_source, ip("198.18.0.1"));
  EXPECT_NE(routes[0].ifindex.value(), 0u);
  EXPECT_EQ(routes[1].destination, *IpPrefix::parse("198.18.21.0/24"));
  EXPECT_EQ(routes[1].protocol, RTPROT_STATIC);
  EXPECT_EQ(routes[1].metric, 5u);

  auto v6 = captured("routes_v6", size);
  routes.clear();
  walk_netlink(ByteSpan(reinterpret_cast<std::uint8_t*>(v6.data()), size), 8,
               [&](const nlmsghdr* m) {
                 if (auto r = parse_route(m); r && r->table == 220) routes.push_back(*r);
               });
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].destination, *IpPrefix::parse("2001:db8:20::/64"));
  EXPECT_EQ(routes[0].metric, 1024u) << "IPv6's default metric";

  auto rules = captured("rules_v4", size);
  std::vector<RoutingRule> parsed;
  walk = walk_netlink(ByteSpan(reinterpret_cast<std::uint8_t*>(rules.data()), size), 9,
                      [&](const nlmsghdr* m) {
                        if (auto r = parse_rule(m)) parsed.push_back(*r);
                      });
  EXPECT_EQ(walk.status, WalkStatus::kDone);
  RoutingRule plain;
  RoutingRule not_marked;
  not_marked.priority = 219;
  not_marked.fwmark = FirewallMark{0x1, 0xff};
  not_marked.invert = true;
  EXPECT_TRUE(std::find(parsed.begin(), parsed.end(), plain) != parsed.end());
  EXPECT_TRUE(std::find(parsed.begin(), parsed.end(), not_marked) != parsed.end());
  EXPECT_EQ(parsed.size(), 5u) << "local, 219, 220, main, default";

  auto ack = captured("ack_invalid_prefsrc", size);
  walk = walk_netlink(ByteSpan(reinterpret_cast<std::uint8_t*>(ack.data()), size), 12,
                      [](const nlmsghdr*) {});
  EXPECT_EQ(walk.status, WalkStatus::kDone);
  EXPECT_EQ(walk.ack.error, EINVAL);
  EXPECT_EQ(walk.ack.message, "Invalid prefsrc address");

  auto missing = captured("dump_error_missing_table", size);
  walk = walk_netlink(ByteSpan(reinterpret_cast<std::uint8_t*>(missing.data()), size), 11,
                      [](const nlmsghdr*) {});
  EXPECT_EQ(walk.status, WalkStatus::kDone);
  EXPECT_EQ(walk.ack.error, ENOENT);
  EXPECT_NE(walk.ack.message.find("FIB table does not exist"), std::string::npos);

  // RTM_GETLINK of a fresh TUN device (`ip tuntap add`, up, nothing sent), sequence 77.
  auto link = captured("link_tun_with_stats", size);
  std::vector<LinkDrops> links;
  walk = walk_netlink(ByteSpan(reinterpret_cast<std::uint8_t*>(link.data()), size), 77,
                      [&](const nlmsghdr* m) {
                        if (auto d = parse_link_drops(m)) links.push_back(*d);
                      });
  EXPECT_EQ(walk.status, WalkStatus::kDone);
  EXPECT_EQ(walk.ack.error, 0);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_NE(links[0].ifindex.value(), 0u);
  EXPECT_EQ(links[0].rx_dropped, 0u);
  EXPECT_EQ(links[0].tx_dropped, 0u);
}

TEST(NetlinkMessage, AddressAnnouncementsParseAndMalformedOnesDoNot) {
  alignas(nlmsghdr) std::uint8_t buffer[kNetlinkRequestBytes] = {};
  nlmsghdr* header = mnl_nlmsg_put_header(buffer);
  header->nlmsg_type = RTM_NEWADDR;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = 24;
  ifa->ifa_index = 3;
  const IpAddress peer = ip("198.18.40.9");
  const IpAddress local = ip("198.18.40.1");
  mnl_attr_put(header, IFA_ADDRESS, 4, peer.data());
  mnl_attr_put(header, IFA_LOCAL, 4, local.data());
  auto change = parse_address_change(header);
  ASSERT_TRUE(change);
  EXPECT_TRUE(change->added);
  EXPECT_EQ(change->address, local) << "IFA_LOCAL is ours on a point-to-point link";
  EXPECT_EQ(change->prefix_length, 24);
  EXPECT_EQ(change->ifindex, InterfaceIndex(3));

  header->nlmsg_type = RTM_DELADDR;
  ASSERT_TRUE(parse_address_change(header));
  EXPECT_FALSE(parse_address_change(header)->added);

  ifa->ifa_prefixlen = 33;
  EXPECT_FALSE(parse_address_change(header)) << "a prefix longer than the family allows";
  ifa->ifa_prefixlen = 24;
  ifa->ifa_family = AF_INET6;
  EXPECT_FALSE(parse_address_change(header)) << "IPv4-sized addresses in an IPv6 message";
  header->nlmsg_type = RTM_NEWROUTE;
  EXPECT_FALSE(parse_address_change(header));

  alignas(nlmsghdr) std::uint8_t dump[kNetlinkRequestBytes];
  const nlmsghdr* request = build_address_dump_request(dump, 9, IpFamily::kV6);
  EXPECT_EQ(request->nlmsg_type, RTM_GETADDR);
  EXPECT_NE(request->nlmsg_flags & NLM_F_DUMP, 0);
  EXPECT_EQ(static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(request))->ifa_family, AF_INET6);
}

// An RTM_NEWLINK message of interface `ifindex` with no attributes yet, in `buffer`.
nlmsghdr* link_message(Buffer& buffer, int ifindex) {
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.bytes);
  header->nlmsg_type = RTM_NEWLINK;
  static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)))->ifi_index =
      ifindex;
  return header;
}

TEST(NetlinkMessage, LinkRequestNamesOneInterfaceAndItsAnswerGivesTheDrops) {
  alignas(nlmsghdr) std::uint8_t request_buffer[kNetlinkRequestBytes];
  const nlmsghdr* request = build_link_request(request_buffer, 5, InterfaceIndex(7));
  EXPECT_EQ(request->nlmsg_type, RTM_GETLINK);
  EXPECT_EQ(request->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK) << "one interface, not a dump";
  EXPECT_EQ(request->nlmsg_seq, 5u);
  EXPECT_EQ(static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(request))->ifi_index, 7);

  // The answer as the kernel sends it: RTM_NEWLINK, other attributes, IFLA_STATS64.
  Buffer buffer;
  nlmsghdr* header = link_message(buffer, 7);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(header));
  mnl_attr_put_strz(header, IFLA_IFNAME, "utun0");
  rtnl_link_stats64 stats{};
  stats.rx_dropped = 3;
  stats.tx_dropped = 1234567890123;
  stats.tx_packets = 99;
  mnl_attr_put(header, IFLA_STATS64, sizeof(stats), &stats);
  const auto drops = parse_link_drops(header);
  ASSERT_TRUE(drops);
  EXPECT_EQ(*drops, (LinkDrops{InterfaceIndex(7), 3, 1234567890123}));

  header->nlmsg_type = RTM_NEWADDR;
  EXPECT_FALSE(parse_link_drops(header)) << "not a link message";
  header->nlmsg_type = RTM_NEWLINK;
  ifi->ifi_index = 0;
  EXPECT_FALSE(parse_link_drops(header)) << "no interface";
  ifi->ifi_index = 7;

  // Statistics too short to hold tx_dropped, and none at all.
  Buffer short_buffer;
  nlmsghdr* cut = link_message(short_buffer, 7);
  mnl_attr_put(cut, IFLA_STATS64, offsetof(rtnl_link_stats64, tx_dropped), &stats);
  EXPECT_FALSE(parse_link_drops(cut));
  Buffer bare_buffer;
  nlmsghdr* bare = link_message(bare_buffer, 7);
  EXPECT_FALSE(parse_link_drops(bare));
  bare->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg) - 1);
  EXPECT_FALSE(parse_link_drops(bare)) << "shorter than its fixed header";
}

}  // namespace
}  // namespace uipsec
