#include "policy/traffic_selector.hpp"

#include "wire/ip_protocol.hpp"
#include "wire/transport_header.hpp"

namespace uipsec {

namespace {

bool is_icmp(std::uint8_t protocol) {
  return protocol == ip_protocol::kIcmp || protocol == ip_protocol::kIcmpv6;
}

std::string range_text(const PortRange& r) {
  if (r.first == r.last) return std::to_string(r.first);
  return std::to_string(r.first) + "-" + std::to_string(r.last);
}

}  // namespace

TrafficSelector TrafficSelector::any(IpFamily family) {
  TrafficSelector ts;
  ts.source = IpPrefix::any(family);
  ts.destination = IpPrefix::any(family);
  return ts;
}

bool TrafficSelector::matches(const IpPacketInfo& packet) const {
  if (packet.family != family()) return false;
  if (!source.contains(packet.src) || !destination.contains(packet.dst)) return false;
  if (protocol == 0) return true;
  if (packet.protocol != protocol) return false;
  if (source_ports.is_any() && destination_ports.is_any()) return true;
  if (is_icmp(protocol)) {
    return packet.icmp_known && source_ports.contains(packet.icmp_type) &&
           destination_ports.contains(packet.icmp_code);
  }
  return packet.ports_known && source_ports.contains(packet.src_port) &&
         destination_ports.contains(packet.dst_port);
}

Result<void> TrafficSelector::validate() const {
  if (source.family() != destination.family()) {
    return Error("selector: source " + source.to_string() + " and destination " +
                 destination.to_string() + " are of different address families");
  }
  for (const PortRange* r : {&source_ports, &destination_ports}) {
    if (r->first > r->last) {
      return Error("selector: port range " + std::to_string(r->first) + "-" +
                   std::to_string(r->last) + " is empty");
    }
  }
  if ((!source_ports.is_any() || !destination_ports.is_any()) && !protocol_has_ports(protocol) &&
      !is_icmp(protocol)) {
    return Error(
        "selector: ports need a protocol with ports (tcp, udp, sctp, udplite) or ICMP "
        "(type/code), got proto " +
        std::to_string(protocol));
  }
  if (is_icmp(protocol) && ((!source_ports.is_any() && source_ports.last > 255) ||
                            (!destination_ports.is_any() && destination_ports.last > 255))) {
    return Error("selector: ICMP type and code are 0..255");
  }
  return {};
}

std::string TrafficSelector::to_string() const {
  std::string out = source.to_string() + " -> " + destination.to_string();
  if (protocol != 0) out += " proto " + std::to_string(protocol);
  const bool icmp = is_icmp(protocol);
  if (!source_ports.is_any()) out += (icmp ? " type " : " sport ") + range_text(source_ports);
  if (!destination_ports.is_any())
    out += (icmp ? " code " : " dport ") + range_text(destination_ports);
  return out;
}

}  // namespace uipsec
