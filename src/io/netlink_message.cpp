// Building rtnetlink requests with libmnl and parsing the kernel's answers defensively.
#include "io/netlink_message.hpp"

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <limits>

namespace uipsec {

namespace {

std::uint8_t address_family(IpFamily family) {
  return family == IpFamily::kV4 ? AF_INET : AF_INET6;
}

std::optional<IpFamily> family_of(std::uint8_t af) {
  if (af == AF_INET) return IpFamily::kV4;
  if (af == AF_INET6) return IpFamily::kV6;
  return std::nullopt;
}

nlmsghdr* start(void* buffer, std::uint16_t type, std::uint16_t flags, std::uint32_t seq) {
  std::memset(buffer, 0, kNetlinkRequestBytes);
  nlmsghdr* header = mnl_nlmsg_put_header(buffer);
  header->nlmsg_type = type;
  header->nlmsg_flags = flags;
  header->nlmsg_seq = seq;
  return header;
}

void put_address(nlmsghdr* header, std::uint16_t type, const IpAddress& address) {
  mnl_attr_put(header, type, address.size(), address.data());
}

// Attributes of one message, indexed by type, each checked for the size its type needs.
template <std::size_t kMax>
struct Attributes {
  const nlattr* table[kMax + 1] = {};
  const nlattr* operator[](std::size_t type) const { return table[type]; }
};

template <std::size_t kMax>
int collect_attribute(const nlattr* attribute, void* data) {
  auto* attributes = static_cast<Attributes<kMax>*>(data);
  const auto type = mnl_attr_get_type(attribute);
  if (type <= kMax) attributes->table[type] = attribute;
  return MNL_CB_OK;
}

// Parses the attributes behind a fixed header of `header_size` bytes; false when the message is
// shorter than that header or an attribute runs past the end.
template <std::size_t kMax>
bool parse_attributes(const nlmsghdr* message, std::size_t header_size,
                      Attributes<kMax>& attributes) {
  if (message->nlmsg_len < NLMSG_LENGTH(header_size)) return false;
  return mnl_attr_parse(message, static_cast<unsigned>(header_size), collect_attribute<kMax>,
                        &attributes) >= MNL_CB_STOP;
}

bool read_u32(const nlattr* attribute, std::uint32_t& out) {
  if (attribute == nullptr) return true;
  if (mnl_attr_get_payload_len(attribute) < sizeof(std::uint32_t)) return false;
  std::memcpy(&out, mnl_attr_get_payload(attribute), sizeof(out));
  return true;
}

bool read_address(const nlattr* attribute, IpFamily family, std::optional<IpAddress>& out) {
  if (attribute == nullptr) return true;
  const std::size_t size = family == IpFamily::kV4 ? 4 : 16;
  if (mnl_attr_get_payload_len(attribute) != size) return false;
  out = IpAddress::from_bytes(family,
                              static_cast<const std::uint8_t*>(mnl_attr_get_payload(attribute)));
  return true;
}

// NLMSGERR_ATTR_MSG from the TLVs that follow an error code at payload offset `offset`.
std::string extended_ack_text(const nlmsghdr* message, std::size_t offset) {
  if ((message->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return {};
  Attributes<NLMSGERR_ATTR_MAX> attributes;
  if (message->nlmsg_len < NLMSG_LENGTH(offset)) return {};
  if (mnl_attr_parse(message, static_cast<unsigned>(offset), collect_attribute<NLMSGERR_ATTR_MAX>,
                     &attributes) < MNL_CB_STOP) {
    return {};
  }
  const nlattr* text = attributes[NLMSGERR_ATTR_MSG];
  if (text == nullptr) return {};
  const auto* chars = static_cast<const char*>(mnl_attr_get_payload(text));
  return std::string(chars, strnlen(chars, mnl_attr_get_payload_len(text)));
}

}  // namespace

nlmsghdr* build_route_request(void* buffer, std::uint16_t type, std::uint32_t seq,
                              const Route& route) {
  const bool add = type == RTM_NEWROUTE;
  nlmsghdr* header = start(
      buffer, type,
      static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0)),
      seq);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(rtmsg)));
  rtm->rtm_family = address_family(route.destination.family());
  rtm->rtm_dst_len = route.destination.length();
  rtm->rtm_table = route.table < 256 ? static_cast<std::uint8_t>(route.table)
                                     : static_cast<std::uint8_t>(RT_TABLE_UNSPEC);
  rtm->rtm_protocol = route.protocol;
  // A device route without gateway has link scope, a throw route global scope (as iproute2
  // sets them); a delete matches any scope and type.
  const bool is_throw = route.type == RouteType::kThrow;
  rtm->rtm_scope = !add ? RT_SCOPE_NOWHERE : is_throw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm->rtm_type = !add ? RTN_UNSPEC : is_throw ? RTN_THROW : RTN_UNICAST;
  put_address(header, RTA_DST, route.destination.address());
  mnl_attr_put_u32(header, RTA_TABLE, route.table);
  if (route.ifindex.value() != 0 && !is_throw) {
    mnl_attr_put_u32(header, RTA_OIF, route.ifindex.value());
  }
  if (route.preferred_source) put_address(header, RTA_PREFSRC, *route.preferred_source);
  if (route.metric != 0) mnl_attr_put_u32(header, RTA_PRIORITY, route.metric);
  return header;
}

nlmsghdr* build_rule_request(void* buffer, std::uint16_t type, std::uint32_t seq,
                             const RoutingRule& rule) {
  const bool add = type == RTM_NEWRULE;
  nlmsghdr* header = start(
      buffer, type,
      static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0)),
      seq);
  auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_put_extra_header(header, sizeof(fib_rule_hdr)));
  frh->family = address_family(rule.family);
  frh->table = rule.table < 256 ? static_cast<std::uint8_t>(rule.table)
                                : static_cast<std::uint8_t>(RT_TABLE_UNSPEC);
  frh->action = FR_ACT_TO_TBL;
  frh->flags = rule.invert ? FIB_RULE_INVERT : 0;
  mnl_attr_put_u32(header, FRA_PRIORITY, rule.priority);
  mnl_attr_put_u32(header, FRA_TABLE, rule.table);
  mnl_attr_put_u8(header, FRA_PROTOCOL, rule.protocol);
  if (rule.fwmark) {
    mnl_attr_put_u32(header, FRA_FWMARK, rule.fwmark->value);
    mnl_attr_put_u32(header, FRA_FWMASK, rule.fwmark->mask);
  }
  if (rule.source) {
    frh->src_len = rule.source->length();
    put_address(header, FRA_SRC, rule.source->address());
  }
  if (rule.destination) {
    frh->dst_len = rule.destination->length();
    put_address(header, FRA_DST, rule.destination->address());
  }
  if (rule.ip_protocol != 0) mnl_attr_put_u8(header, FRA_IP_PROTO, rule.ip_protocol);
  const auto put_ports = [&](std::uint16_t attribute, const std::optional<RulePortRange>& range) {
    if (!range) return;
    const fib_rule_port_range ports{range->first, range->last};
    mnl_attr_put(header, attribute, sizeof(ports), &ports);
  };
  put_ports(FRA_SPORT_RANGE, rule.source_ports);
  put_ports(FRA_DPORT_RANGE, rule.destination_ports);
  return header;
}

nlmsghdr* build_route_dump_request(void* buffer, std::uint32_t seq, IpFamily family,
                                   std::uint32_t table) {
  nlmsghdr* header =
      start(buffer, RTM_GETROUTE, static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_DUMP), seq);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(rtmsg)));
  rtm->rtm_family = address_family(family);
  rtm->rtm_table =
      table < 256 ? static_cast<std::uint8_t>(table) : static_cast<std::uint8_t>(RT_TABLE_UNSPEC);
  mnl_attr_put_u32(header, RTA_TABLE, table);
  return header;
}

nlmsghdr* build_rule_dump_request(void* buffer, std::uint32_t seq, IpFamily family) {
  nlmsghdr* header =
      start(buffer, RTM_GETRULE, static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_DUMP), seq);
  auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_put_extra_header(header, sizeof(fib_rule_hdr)));
  frh->family = address_family(family);
  return header;
}

std::optional<Route> parse_route(const nlmsghdr* message) {
  if (message->nlmsg_type != RTM_NEWROUTE) return std::nullopt;
  Attributes<RTA_MAX> attributes;
  if (!parse_attributes(message, sizeof(rtmsg), attributes)) return std::nullopt;
  rtmsg rtm;
  std::memcpy(&rtm, mnl_nlmsg_get_payload(message), sizeof(rtm));
  const std::optional<IpFamily> family = family_of(rtm.rtm_family);
  if (!family || (rtm.rtm_flags & RTM_F_CLONED) != 0) return std::nullopt;
  // Only the types uipsec installs (local, broadcast, blackhole... are someone else's).
  if (rtm.rtm_type != RTN_UNICAST && rtm.rtm_type != RTN_THROW) return std::nullopt;
  if (rtm.rtm_dst_len > (*family == IpFamily::kV4 ? 32 : 128)) return std::nullopt;

  std::optional<IpAddress> destination;
  std::optional<IpAddress> source;
  std::uint32_t table = rtm.rtm_table;
  std::uint32_t ifindex = 0;
  std::uint32_t metric = 0;
  if (!read_address(attributes[RTA_DST], *family, destination) ||
      !read_address(attributes[RTA_PREFSRC], *family, source) ||
      !read_u32(attributes[RTA_TABLE], table) || !read_u32(attributes[RTA_OIF], ifindex) ||
      !read_u32(attributes[RTA_PRIORITY], metric)) {
    return std::nullopt;
  }
  if (!destination && rtm.rtm_dst_len != 0) return std::nullopt;  // a prefix without address
  Route route;
  route.type = rtm.rtm_type == RTN_THROW ? RouteType::kThrow : RouteType::kUnicast;
  // IPv6 hangs routes without a device (throw) on the loopback device; they have none.
  if (route.type == RouteType::kThrow) ifindex = 0;
  route.destination = destination ? IpPrefix(*destination, rtm.rtm_dst_len)
                                  : IpPrefix::any(*family);  // a default route has no RTA_DST
  route.ifindex = InterfaceIndex(ifindex);
  route.table = table;
  route.protocol = rtm.rtm_protocol;
  route.preferred_source = source;
  route.metric = metric;
  return route;
}

std::optional<RoutingRule> parse_rule(const nlmsghdr* message) {
  if (message->nlmsg_type != RTM_NEWRULE) return std::nullopt;
  Attributes<FRA_MAX> attributes;
  if (!parse_attributes(message, sizeof(fib_rule_hdr), attributes)) return std::nullopt;
  fib_rule_hdr frh;
  std::memcpy(&frh, mnl_nlmsg_get_payload(message), sizeof(frh));
  const std::optional<IpFamily> family = family_of(frh.family);
  if (!family) return std::nullopt;

  RoutingRule rule;
  rule.family = *family;
  rule.table = frh.table;
  rule.priority = 0;  // a rule without FRA_PRIORITY has priority 0
  rule.protocol = 0;  // RTPROT_UNSPEC unless FRA_PROTOCOL says otherwise
  rule.invert = (frh.flags & FIB_RULE_INVERT) != 0;
  if (!read_u32(attributes[FRA_TABLE], rule.table) ||
      !read_u32(attributes[FRA_PRIORITY], rule.priority)) {
    return std::nullopt;
  }
  if (const nlattr* protocol = attributes[FRA_PROTOCOL]; protocol != nullptr) {
    if (mnl_attr_get_payload_len(protocol) < 1) return std::nullopt;
    rule.protocol = *static_cast<const std::uint8_t*>(mnl_attr_get_payload(protocol));
  }
  if (attributes[FRA_FWMARK] != nullptr || attributes[FRA_FWMASK] != nullptr) {
    FirewallMark mark;
    if (!read_u32(attributes[FRA_FWMARK], mark.value) ||
        !read_u32(attributes[FRA_FWMASK], mark.mask)) {
      return std::nullopt;
    }
    rule.fwmark = mark;
  }
  const std::uint8_t max_length = *family == IpFamily::kV4 ? 32 : 128;
  if (frh.src_len > max_length || frh.dst_len > max_length) return std::nullopt;
  std::optional<IpAddress> source;
  std::optional<IpAddress> destination;
  if (!read_address(attributes[FRA_SRC], *family, source) ||
      !read_address(attributes[FRA_DST], *family, destination)) {
    return std::nullopt;
  }
  if (source) rule.source = IpPrefix(*source, frh.src_len);
  if (destination) rule.destination = IpPrefix(*destination, frh.dst_len);
  if (const nlattr* protocol = attributes[FRA_IP_PROTO]; protocol != nullptr) {
    if (mnl_attr_get_payload_len(protocol) < 1) return std::nullopt;
    rule.ip_protocol = *static_cast<const std::uint8_t*>(mnl_attr_get_payload(protocol));
  }
  const auto read_ports = [](const nlattr* attribute, std::optional<RulePortRange>& out) {
    if (attribute == nullptr) return true;
    if (mnl_attr_get_payload_len(attribute) < sizeof(fib_rule_port_range)) return false;
    fib_rule_port_range ports;
    std::memcpy(&ports, mnl_attr_get_payload(attribute), sizeof(ports));
    out = RulePortRange{ports.start, ports.end};
    return true;
  };
  if (!read_ports(attributes[FRA_SPORT_RANGE], rule.source_ports) ||
      !read_ports(attributes[FRA_DPORT_RANGE], rule.destination_ports)) {
    return std::nullopt;
  }
  return rule;
}

std::optional<AddressChange> parse_address_change(const nlmsghdr* message) {
  if (message->nlmsg_type != RTM_NEWADDR && message->nlmsg_type != RTM_DELADDR) {
    return std::nullopt;
  }
  Attributes<IFA_MAX> attributes;
  if (!parse_attributes(message, sizeof(ifaddrmsg), attributes)) return std::nullopt;
  ifaddrmsg ifa;
  std::memcpy(&ifa, mnl_nlmsg_get_payload(message), sizeof(ifa));
  const std::optional<IpFamily> family = family_of(ifa.ifa_family);
  if (!family || ifa.ifa_prefixlen > (*family == IpFamily::kV4 ? 32 : 128)) return std::nullopt;
  std::optional<IpAddress> local;
  std::optional<IpAddress> address;
  if (!read_address(attributes[IFA_LOCAL], *family, local) ||
      !read_address(attributes[IFA_ADDRESS], *family, address)) {
    return std::nullopt;
  }
  if (!local && !address) return std::nullopt;
  AddressChange change;
  change.added = message->nlmsg_type == RTM_NEWADDR;
  change.address = local ? *local : *address;
  change.prefix_length = ifa.ifa_prefixlen;
  change.ifindex = InterfaceIndex(ifa.ifa_index);
  return change;
}

nlmsghdr* build_address_dump_request(void* buffer, std::uint32_t seq, IpFamily family) {
  nlmsghdr* header =
      start(buffer, RTM_GETADDR, static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_DUMP), seq);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifaddrmsg)));
  ifa->ifa_family = address_family(family);
  return header;
}

nlmsghdr* build_link_request(void* buffer, std::uint32_t seq, InterfaceIndex ifindex) {
  nlmsghdr* header =
      start(buffer, RTM_GETLINK, static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK), seq);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(ifindex.value());
  return header;
}

std::optional<LinkDrops> parse_link_drops(const nlmsghdr* message) {
  if (message->nlmsg_type != RTM_NEWLINK) return std::nullopt;
  Attributes<IFLA_MAX> attributes;
  if (!parse_attributes(message, sizeof(ifinfomsg), attributes)) return std::nullopt;
  const nlattr* stats = attributes[IFLA_STATS64];
  // Older kernels send a shorter struct; the drop counters sit in its first part.
  constexpr std::size_t kNeeded =
      offsetof(rtnl_link_stats64, tx_dropped) + sizeof(rtnl_link_stats64::tx_dropped);
  if (stats == nullptr || mnl_attr_get_payload_len(stats) < kNeeded) return std::nullopt;
  ifinfomsg ifi;
  std::memcpy(&ifi, mnl_nlmsg_get_payload(message), sizeof(ifi));
  if (ifi.ifi_index <= 0) return std::nullopt;
  const auto* payload = static_cast<const std::uint8_t*>(mnl_attr_get_payload(stats));
  LinkDrops drops;
  drops.ifindex = InterfaceIndex(static_cast<std::uint32_t>(ifi.ifi_index));
  std::memcpy(&drops.rx_dropped, payload + offsetof(rtnl_link_stats64, rx_dropped),
              sizeof(drops.rx_dropped));
  std::memcpy(&drops.tx_dropped, payload + offsetof(rtnl_link_stats64, tx_dropped),
              sizeof(drops.tx_dropped));
  return drops;
}

std::optional<NetlinkAck> parse_ack(const nlmsghdr* message) {
  if (message->nlmsg_type == NLMSG_DONE) {
    // A dump's end; the kernel puts an error code (and extended-ack TLVs) here when the dump
    // failed part-way.
    NetlinkAck ack;
    if (message->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
      int code;
      std::memcpy(&code, mnl_nlmsg_get_payload(message), sizeof(code));
      if (code < 0 && code != std::numeric_limits<int>::min()) {
        ack.error = -code;
      } else if (code != 0) {
        ack.error = EPROTO;
      }
      ack.message = extended_ack_text(message, sizeof(int));
    }
    return ack;
  }
  if (message->nlmsg_type != NLMSG_ERROR) return std::nullopt;
  if (message->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return std::nullopt;
  nlmsgerr error;
  std::memcpy(&error, mnl_nlmsg_get_payload(message), sizeof(error));
  NetlinkAck ack;
  // error.error is 0 or -errno; anything else is a protocol error (INT_MIN has no negation).
  if (error.error == 0) {
    ack.error = 0;
  } else if (error.error < 0 && error.error != std::numeric_limits<int>::min()) {
    ack.error = -error.error;
  } else {
    ack.error = EPROTO;
  }
  // The TLVs follow the echoed request: only its header when the kernel capped it, else all of
  // it. The echoed length is the kernel's word; check it against what we hold.
  std::size_t offset = sizeof(nlmsgerr);
  if ((message->nlmsg_flags & NLM_F_CAPPED) == 0) {
    const std::size_t echoed = error.msg.nlmsg_len;
    if (echoed < sizeof(nlmsghdr)) return ack;
    offset = (sizeof(nlmsgerr) - sizeof(nlmsghdr) + echoed + 3) & ~std::size_t{3};
  }
  if (message->nlmsg_len >= NLMSG_LENGTH(offset)) ack.message = extended_ack_text(message, offset);
  return ack;
}

namespace {

// walk_netlink for one sequence number, or (nullopt) for every message: multicast
// announcements carry the number of whatever request caused them, if any.
WalkResult walk(ByteSpan bytes, std::optional<std::uint32_t> seq,
                const std::function<void(const nlmsghdr*)>& on_data) {
  WalkResult result;
  // nlmsghdr needs 4-byte alignment; a received buffer is aligned, a fuzzer's may not be.
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(nlmsghdr) != 0) {
    result.status = WalkStatus::kMalformed;
    return result;
  }
  // Not libmnl's mnl_nlmsg_ok/next: they compare nlmsg_len as a signed int, so a length of
  // 2^31 or more passes their check. Every message, padding included, must lie inside `bytes`
  // (the attribute parsers read up to the aligned end).
  std::size_t offset = 0;
  while (bytes.size() - offset >= sizeof(nlmsghdr)) {
    const auto* message = reinterpret_cast<const nlmsghdr*>(bytes.data() + offset);
    const std::size_t length = message->nlmsg_len;
    const std::size_t aligned = (length + 3) & ~std::size_t{3};
    if (length < sizeof(nlmsghdr) || aligned > bytes.size() - offset) {
      result.status = WalkStatus::kMalformed;
      return result;
    }
    if (!seq || message->nlmsg_seq == *seq) {
      if ((message->nlmsg_flags & NLM_F_DUMP_INTR) != 0) result.interrupted = true;
      if (message->nlmsg_type == NLMSG_ERROR || message->nlmsg_type == NLMSG_DONE) {
        const std::optional<NetlinkAck> ack = parse_ack(message);
        if (!ack) {
          result.status = WalkStatus::kMalformed;
          return result;
        }
        result.ack = *ack;
        result.status = WalkStatus::kDone;
        return result;
      }
      if (message->nlmsg_type != NLMSG_NOOP) on_data(message);
    }
    offset += aligned;
  }
  // Bytes left that do not form a whole header: the datagram was cut short.
  if (offset != bytes.size()) result.status = WalkStatus::kMalformed;
  return result;
}

}  // namespace

WalkResult walk_netlink(ByteSpan bytes, std::uint32_t seq,
                        const std::function<void(const nlmsghdr*)>& on_data) {
  return walk(bytes, seq, on_data);
}

WalkResult walk_announcements(ByteSpan bytes, const std::function<void(const nlmsghdr*)>& on_data) {
  return walk(bytes, std::nullopt, on_data);
}

}  // namespace uipsec
