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

std::string side_text(const IpPrefix& prefix, const std::optional<AddressRange>& range) {
  return range ? range->to_string() : prefix.to_string();
}

void set_side(const AddressRange& range, IpPrefix& prefix, std::optional<AddressRange>& out) {
  prefix = range.covering_prefix();
  if (range.as_prefix()) {
    out.reset();
  } else {
    out = range;
  }
}

Result<void> validate_side(const char* name, const IpPrefix& prefix,
                           const std::optional<AddressRange>& range) {
  if (!range) return {};
  if (auto r = range->validate(); !r)
    return Error(std::string("selector: ") + name + ": " + r.error().message());
  if (range->family() != prefix.family() || range->covering_prefix() != prefix) {
    return Error(std::string("selector: ") + name + " range " + range->to_string() +
                 " does not go with its covering prefix " + prefix.to_string() + " (expected " +
                 range->covering_prefix().to_string() + ")");
  }
  if (range->as_prefix()) {
    return Error(std::string("selector: ") + name + " range " + range->to_string() +
                 " is the prefix " + prefix.to_string() + "; give it as a prefix");
  }
  return {};
}

}  // namespace

TrafficSelector TrafficSelector::any(IpFamily family) {
  TrafficSelector ts;
  ts.source = IpPrefix::any(family);
  ts.destination = IpPrefix::any(family);
  return ts;
}

void TrafficSelector::set_source(const AddressRange& range) {
  set_side(range, source, source_range);
}

void TrafficSelector::set_destination(const AddressRange& range) {
  set_side(range, destination, destination_range);
}

bool TrafficSelector::matches(const IpPacketInfo& packet) const {
  if (packet.family != family()) return false;
  if (!source.contains(packet.src) || !destination.contains(packet.dst)) return false;
  if (source_range && !source_range->contains(packet.src)) return false;
  if (destination_range && !destination_range->contains(packet.dst)) return false;
  return matches_upper_layer(protocol, source_ports, destination_ports, packet);
}

bool TrafficSelector::matches_upper_layer(std::uint8_t protocol, const PortRange& source_ports,
                                          const PortRange& destination_ports,
                                          const IpPacketInfo& packet) {
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
  UIPSEC_TRY(validate_side("source", source, source_range));
  UIPSEC_TRY(validate_side("destination", destination, destination_range));
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
  std::string out =
      side_text(source, source_range) + " -> " + side_text(destination, destination_range);
  if (protocol != 0) out += " proto " + std::to_string(protocol);
  const bool icmp = is_icmp(protocol);
  if (!source_ports.is_any()) out += (icmp ? " type " : " sport ") + range_text(source_ports);
  if (!destination_ports.is_any())
    out += (icmp ? " code " : " dport ") + range_text(destination_ports);
  return out;
}

}  // namespace uipsec

std::size_t std::hash<uipsec::TrafficSelector>::operator()(
    const uipsec::TrafficSelector& s) const noexcept {
  const std::hash<uipsec::IpAddress> address;
  std::size_t h = address(s.source.address()) * 31 + s.source.length();
  h = h * 1000003 ^ (address(s.destination.address()) * 31 + s.destination.length());
  h = h * 1000003 ^ (std::size_t{s.protocol} << 32 | std::size_t{s.source_ports.first} << 16 |
                     s.source_ports.last);
  h = h * 1000003 ^ (std::size_t{s.destination_ports.first} << 16 | s.destination_ports.last);
  for (const auto* range : {&s.source_range, &s.destination_range}) {
    if (*range) h = h * 1000003 ^ (address((*range)->first) * 31 + address((*range)->last));
  }
  return h;
}
