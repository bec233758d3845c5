#include "xfrm/xfrm_selector.hpp"

#include "wire/ip_protocol.hpp"

namespace uipsec::xfrm {

namespace {

constexpr std::uint8_t kDccp = 33;

bool is_icmp(std::uint8_t protocol) {
  return protocol == ip_protocol::kIcmp || protocol == ip_protocol::kIcmpv6;
}

// The protocols iproute2 lets sport and dport select (DCCP is refused later by the selector's
// own validation: uipsec's packet parser does not read DCCP ports).
bool takes_ports(std::uint8_t protocol) {
  return protocol == ip_protocol::kTcp || protocol == ip_protocol::kUdp ||
         protocol == ip_protocol::kSctp || protocol == ip_protocol::kUdpLite || protocol == kDccp;
}

std::string range_text(const PortRange& r) {
  if (r.first == r.last) return std::to_string(r.first);
  return std::to_string(r.first) + "-" + std::to_string(r.last);
}

}  // namespace

bool SelectorBuilder::is_word(std::string_view keyword) {
  for (std::string_view w :
       {"src", "dst", "proto", "sport", "dport", "type", "code", "dev", "key"}) {
    if (keyword == w) return true;
  }
  return false;
}

Result<void> SelectorBuilder::take(std::string_view keyword, ArgumentReader& reader) {
  auto duplicate = [&](bool seen) -> Result<void> {
    if (seen) return error("duplicate '" + std::string(keyword) + "'");
    return {};
  };
  const std::string name = context_ + std::string(keyword);
  if (keyword == "src" || keyword == "dst") {
    auto& slot = keyword == "src" ? source_ : destination_;
    UIPSEC_TRY(duplicate(slot.has_value()));
    auto side = read_side(name, reader);
    if (!side) return side.error();
    slot = *side;
    return {};
  }
  if (keyword == "proto") {
    UIPSEC_TRY(duplicate(protocol_.has_value()));
    auto text = reader.value(name, "a protocol name or number");
    if (!text) return text.error();
    const auto protocol = parse_protocol(*text);
    if (!protocol) {
      return error(
          "proto: expected a protocol (tcp, udp, icmp, ipv6-icmp, sctp, udplite, any, or "
          "a number 0..255), got " +
          quote(*text));
    }
    protocol_ = *protocol;
    return {};
  }
  if (keyword == "sport" || keyword == "dport") {
    auto& slot = keyword == "sport" ? sport_ : dport_;
    UIPSEC_TRY(duplicate(slot.has_value()));
    auto port = read_number(reader, name, 65535, "a port number 0..65535");
    if (!port) return port.error();
    slot = static_cast<std::uint16_t>(*port);
    return {};
  }
  if (keyword == "type" || keyword == "code") {
    auto& slot = keyword == "type" ? type_ : code_;
    UIPSEC_TRY(duplicate(slot.has_value()));
    auto value = read_number(reader, name, 255,
                             keyword == "type" ? "an ICMP type 0..255" : "an ICMP code 0..255");
    if (!value) return value.error();
    slot = static_cast<std::uint16_t>(*value);
    return {};
  }
  if (keyword == "dev") {
    return error("dev: selecting by interface is not implemented by uipsec");
  }
  if (keyword == "key") {
    return error("key: GRE key selectors are not implemented by uipsec");
  }
  return error("'" + std::string(keyword) + "' is not a selector word");
}

Result<SelectorBuilder::Side> SelectorBuilder::read_side(const std::string& name,
                                                         ArgumentReader& reader) const {
  // A range has a '-' between two addresses; neither IPv4 nor IPv6 addresses contain one.
  if (reader.at_end() || reader.peek().find('-') == std::string_view::npos) {
    auto prefix = read_prefix(reader, name);
    if (!prefix) return prefix.error();
    return Side{*prefix, std::nullopt};
  }
  auto text = reader.value(name, "an address range FIRST-LAST");
  if (!text) return text.error();
  // IpAddress::parse would stop at a NUL and accept what comes before it.
  auto range = text->find('\0') == std::string_view::npos
                   ? AddressRange::parse(*text)
                   : Result<AddressRange>(
                         Error("expected an address range FIRST-LAST, got " + quote(*text)));
  if (!range) return Error(name + ": " + range.error().message());
  TrafficSelector scratch;
  scratch.set_source(*range);
  return Side{scratch.source, scratch.source_range};
}

Result<TrafficSelector> SelectorBuilder::build(IpFamily family) const {
  if (source_) {
    family = source_->family();
  } else if (destination_) {
    family = destination_->family();
  }
  TrafficSelector selector = TrafficSelector::any(family);
  if (source_) {
    selector.source = source_->prefix;
    selector.source_range = source_->range;
  }
  if (destination_) {
    selector.destination = destination_->prefix;
    selector.destination_range = destination_->range;
  }
  selector.protocol = protocol_.value_or(0);
  const std::string proto_text =
      protocol_ ? ", got proto " + protocol_name(*protocol_) : ", got no proto";
  if ((sport_ || dport_) && !takes_ports(selector.protocol)) {
    return error("sport and dport need proto tcp, udp, sctp, udplite or dccp" + proto_text);
  }
  if ((type_ || code_) && !is_icmp(selector.protocol)) {
    return error("type and code need proto icmp or ipv6-icmp" + proto_text);
  }
  // As on Linux, port 0 selects any port; an ICMP type or code of 0 is a value.
  if (sport_ && *sport_ != 0) selector.source_ports = PortRange::single(*sport_);
  if (dport_ && *dport_ != 0) selector.destination_ports = PortRange::single(*dport_);
  if (type_) selector.source_ports = PortRange::single(*type_);
  if (code_) selector.destination_ports = PortRange::single(*code_);
  return selector;
}

std::string format_selector(const TrafficSelector& selector) {
  std::vector<std::string> words;
  append_selector_arguments(selector, words);
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

void append_selector_arguments(const TrafficSelector& selector, std::vector<std::string>& out) {
  auto side = [](const IpPrefix& prefix, const std::optional<AddressRange>& range) {
    return range ? range->to_string() : prefix.to_string();
  };
  out.insert(out.end(), {"src", side(selector.source, selector.source_range), "dst",
                         side(selector.destination, selector.destination_range)});
  if (selector.protocol != 0) out.insert(out.end(), {"proto", protocol_name(selector.protocol)});
  const bool icmp = is_icmp(selector.protocol);
  if (!selector.source_ports.is_any()) {
    out.insert(out.end(), {icmp ? "type" : "sport", range_text(selector.source_ports)});
  }
  if (!selector.destination_ports.is_any()) {
    out.insert(out.end(), {icmp ? "code" : "dport", range_text(selector.destination_ports)});
  }
}

}  // namespace uipsec::xfrm
