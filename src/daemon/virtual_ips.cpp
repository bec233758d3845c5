#include "daemon/virtual_ips.hpp"

#include <utility>

namespace uipsec {

namespace {

std::uint8_t host_length(const IpAddress& address) { return address.is_v4() ? 32 : 128; }

}  // namespace

Result<std::unique_ptr<VirtualIps>> VirtualIps::open(InterfaceIndex ifindex, std::string device,
                                                     Warn warn) {
  auto netlink = InterfaceAddresses::open();
  if (!netlink) return netlink.error().with_context("virtual IPs");
  std::unique_ptr<VirtualIps> ips(
      new VirtualIps(std::move(*netlink), ifindex, std::move(device), std::move(warn)));
  auto flushed = ips->netlink_.flush(ifindex);
  if (!flushed) {
    ips->warn_("cannot remove the virtual IPs an earlier run left on " + ips->device_ + ": " +
               flushed.error().message());
  } else if (*flushed > 0) {
    ips->warn_("removed " + std::to_string(*flushed) + " virtual IP(s) an earlier run left on " +
               ips->device_);
  }
  return ips;
}

VirtualIps::~VirtualIps() {
  if (auto removed = remove_all(); !removed) {
    warn_("cannot remove the virtual IPs on " + device_ + ": " + removed.error().message());
  }
}

InterfaceAddress VirtualIps::entry(const IpAddress& address) const {
  return InterfaceAddress{ifindex_, address, host_length(address), kUipsecRouteProtocol};
}

Result<void> VirtualIps::add_address(const IpAddress& address) {
  if (auto r = netlink_.add(entry(address)); !r) {
    return r.error().with_context("cannot add " + address.to_string() + " to " + device_);
  }
  added_.insert(address);
  return {};
}

Result<void> VirtualIps::remove_address(const IpAddress& address) {
  auto present = netlink_.list(ifindex_);
  if (!present) return present.error().with_context("cannot list the addresses of " + device_);
  const InterfaceAddress* found = nullptr;
  for (const auto& a : *present) {
    if (a.address == address && a.prefix_length == host_length(address)) found = &a;
  }
  const std::string name =
      address.to_string() + "/" + std::to_string(static_cast<unsigned>(host_length(address)));
  if (found == nullptr) return Error(name + " is not on " + device_);
  if (found->protocol != kUipsecRouteProtocol && !added_.contains(address)) {
    return Error(name + " on " + device_ + " was not added by uipsec; not removing it");
  }
  if (auto r = netlink_.remove(*found); !r) {
    return r.error().with_context("cannot remove " + name + " from " + device_);
  }
  added_.erase(address);
  return {};
}

Result<std::vector<DeviceAddress>> VirtualIps::list_addresses() {
  auto present = netlink_.list(ifindex_);
  if (!present) return present.error().with_context("cannot list the addresses of " + device_);
  std::vector<DeviceAddress> out;
  out.reserve(present->size());
  for (const auto& a : *present) {
    out.push_back(DeviceAddress{a.address, a.prefix_length,
                                a.protocol == kUipsecRouteProtocol || added_.contains(a.address)});
  }
  return out;
}

Result<std::size_t> VirtualIps::remove_all() {
  auto flushed = netlink_.flush(ifindex_);
  if (!flushed) return flushed.error();
  std::size_t count = *flushed;
  // Kernels before 6.1 do not keep the tag: what this run added goes by address.
  if (count == 0 && !added_.empty()) {
    auto present = netlink_.list(ifindex_);
    if (!present) return present.error();
    for (const auto& a : *present) {
      if (!added_.contains(a.address)) continue;
      UIPSEC_TRY(netlink_.remove(a));
      ++count;
    }
  }
  added_.clear();
  return count;
}

}  // namespace uipsec
