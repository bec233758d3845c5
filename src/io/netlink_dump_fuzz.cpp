// Fuzzes the parsers of what the kernel sends on the rtnetlink socket: a received datagram of
// route, rule and address entries, an interface's counters, acknowledgements and dump ends.
#include <linux/rtnetlink.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "io/interface_address.hpp"
#include "io/netlink_message.hpp"

namespace {

void check_route(const uipsec::Route& route) {
  // Whatever parses must rebuild into a request that parses to the same route.
  alignas(nlmsghdr) std::uint8_t buffer[uipsec::kNetlinkRequestBytes];
  const nlmsghdr* again = uipsec::build_route_request(buffer, RTM_NEWROUTE, 1, route);
  const auto reparsed = uipsec::parse_route(again);
  if (!reparsed || !(*reparsed == route)) __builtin_trap();
}

void check_rule(const uipsec::RoutingRule& rule) {
  alignas(nlmsghdr) std::uint8_t buffer[uipsec::kNetlinkRequestBytes];
  const nlmsghdr* again = uipsec::build_rule_request(buffer, RTM_NEWRULE, 1, rule);
  const auto reparsed = uipsec::parse_rule(again);
  if (!reparsed || !(*reparsed == rule)) __builtin_trap();
  (void)uipsec::to_string(rule);
}

void check_address(const uipsec::InterfaceAddress& address) {
  // An address that parses rebuilds into a request that parses to the same address.
  alignas(nlmsghdr) std::uint8_t buffer[uipsec::kNetlinkRequestBytes];
  const nlmsghdr* again = uipsec::build_interface_address_request(buffer, RTM_NEWADDR, 1, address);
  const auto reparsed = uipsec::parse_interface_address(again);
  if (!reparsed || reparsed->address != address.address ||
      reparsed->prefix_length != address.prefix_length || reparsed->ifindex != address.ifindex) {
    __builtin_trap();
  }
  (void)uipsec::to_string(address);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A received datagram sits in an aligned buffer; so does this copy.
  std::vector<std::uint32_t> aligned((size + 3) / 4);
  if (size != 0) std::memcpy(aligned.data(), data, size);
  const uipsec::ByteSpan bytes(reinterpret_cast<const std::uint8_t*>(aligned.data()), size);
  // Answer to the request whose sequence number the first header carries.
  std::uint32_t seq = 0;
  if (size >= sizeof(nlmsghdr)) seq = reinterpret_cast<const nlmsghdr*>(aligned.data())->nlmsg_seq;
  const uipsec::WalkResult walk = uipsec::walk_netlink(bytes, seq, [](const nlmsghdr* message) {
    if (auto route = uipsec::parse_route(message)) check_route(*route);
    if (auto rule = uipsec::parse_rule(message)) check_rule(*rule);
    (void)uipsec::parse_ack(message);
    if (auto change = uipsec::parse_address_change(message)) (void)change->address.to_string();
    if (auto address = uipsec::parse_interface_address(message)) check_address(*address);
    if (auto drops = uipsec::parse_link_drops(message)) {
      if (drops->ifindex.value() == 0) __builtin_trap();
    }
  });
  if (walk.status == uipsec::WalkStatus::kDone && walk.ack.error < 0) __builtin_trap();
  return 0;
}
