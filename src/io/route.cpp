#include "io/route.hpp"

#include <net/if.h>

#include <cstdio>

namespace uipsec {

namespace {

std::string device_text(InterfaceIndex ifindex) {
  char name[IF_NAMESIZE] = {};
  if (ifindex.value() != 0 && ::if_indextoname(ifindex.value(), name) != nullptr) {
    return std::string("dev ") + name;
  }
  return "ifindex " + std::to_string(ifindex.value());
}

std::string hex(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%x", value);
  return text;
}

}  // namespace

std::string to_string(const Route& route) {
  std::string text;
  if (route.type == RouteType::kThrow) {
    text = "throw " + route.destination.to_string();
  } else {
    text = route.destination.to_string() + " " + device_text(route.ifindex);
  }
  text += " table " + std::to_string(route.table) + " proto " + std::to_string(route.protocol);
  if (route.preferred_source) text += " src " + route.preferred_source->to_string();
  if (route.metric != 0) text += " metric " + std::to_string(route.metric);
  return text;
}

std::string to_string(const RoutingRule& rule) {
  std::string text = "priority " + std::to_string(rule.priority);
  if (rule.invert) text += " not";
  if (rule.source) text += " from " + rule.source->to_string();
  if (rule.destination) text += " to " + rule.destination->to_string();
  if (rule.ip_protocol != 0) text += " ipproto " + std::to_string(rule.ip_protocol);
  const auto ports = [&](const char* name, const std::optional<RulePortRange>& range) {
    if (range) {
      text += std::string(" ") + name + " " + std::to_string(range->first) + "-" +
              std::to_string(range->last);
    }
  };
  ports("sport", rule.source_ports);
  ports("dport", rule.destination_ports);
  if (rule.fwmark) text += " fwmark " + hex(rule.fwmark->value) + "/" + hex(rule.fwmark->mask);
  text += " table " + std::to_string(rule.table) + " proto " + std::to_string(rule.protocol) +
          (rule.family == IpFamily::kV4 ? " (IPv4)" : " (IPv6)");
  return text;
}

}  // namespace uipsec
