#include "daemon/virtual_ips.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <utility>

#include "io/linux_tun.hpp"

namespace uipsec {

namespace {

std::uint8_t host_length(const IpAddress& address) { return address.is_v4() ? 32 : 128; }

// net.ipv4.conf.NAME.rp_filter (0 off, 1 strict, 2 loose); nullopt when unreadable.
std::optional<int> rp_filter(const std::string& name) {
  std::ifstream file("/proc/sys/net/ipv4/conf/" + name + "/rp_filter");
  int value = 0;
  if (!(file >> value)) return std::nullopt;
  return value;
}

// A per-address device receives what its routes send out through the main device, so strict
// reverse-path filtering (the kernel applies max(all, device)) drops it: a device that inherited
// 1 from `default` is made loose; when `all` is strict only the administrator can help.
void loosen_rp_filter(const std::string& name, const VirtualIps::Warn& warn) {
  const std::optional<int> all = rp_filter("all");
  const std::optional<int> device = rp_filter(name);
  if (!device || !all) return;
  if (*device == 1 && *all != 1) {
    std::ofstream file("/proc/sys/net/ipv4/conf/" + name + "/rp_filter");
    file << 2;
    file.flush();
    if (file && rp_filter(name) == 2) return;
  }
  if (std::max(*all, rp_filter(name).value_or(*device)) == 1) {
    warn("strict reverse-path filtering on " + name +
         " drops the IPv4 packets uipsecd delivers there (their replies route through the "
         "main device): sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf." +
         name + ".rp_filter=2");
  }
}

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

std::string VirtualIps::device_of(const IpAddress& address) const {
  const auto found = devices_.find(address);
  return found == devices_.end() ? std::string() : found->second.name;
}

Result<void> VirtualIps::add_device(const IpAddress& address) {
  const DevicePerAddress& o = *per_address_;
  if (devices_.size() >= TunGroup::kMaxMembers) {
    return Error("cannot add " + address.to_string() + ": at most " +
                 std::to_string(TunGroup::kMaxMembers) +
                 " virtual IPs with uipsec.tun_per_virtual_ip = yes (each has a TUN device)");
  }
  unsigned number = 1;
  for (bool taken = true; taken; ++number) {
    taken = false;
    for (const auto& [_, device] : devices_) taken = taken || device.number == number;
    if (!taken) break;
  }
  const std::string suffix = "v" + std::to_string(number);
  const std::string name = o.base_name.substr(0, 15 - suffix.size()) + suffix;
  const std::string doing = "cannot give " + address.to_string() + " its TUN device " + name;
  auto first = LinuxTun::create(name, o.mtu, o.offload, o.gro, o.groups.size() > 1);
  if (!first) return first.error().with_context(doing);
  const InterfaceIndex ifindex = (*first)->ifindex();
  std::vector<std::unique_ptr<TunDevice>> queues;
  queues.push_back(std::move(*first));
  while (queues.size() < o.groups.size()) {
    auto queue = static_cast<LinuxTun&>(*queues.front()).open_queue(o.gro);
    if (!queue) return queue.error().with_context(doing);
    queues.push_back(std::move(*queue));
  }
  if (auto r = netlink_.add(
          InterfaceAddress{ifindex, address, host_length(address), kUipsecRouteProtocol});
      !r) {
    return r.error().with_context(doing);
  }
  if (address.is_v4()) loosen_rp_filter(name, warn_);
  OwnDevice device{name, ifindex, number, {}};
  for (const auto& queue : queues) device.counters.push_back(&queue->counters());
  for (std::size_t k = 0; k < o.groups.size(); ++k) {
    if (auto r = o.groups[k]->add(address, std::move(queues[k])); !r) {
      std::vector<std::unique_ptr<TunDevice>> added;
      for (std::size_t j = 0; j < k; ++j) added.push_back(o.groups[j]->unlink(address));
      o.domain->synchronize();
      return r.error().with_context(doing);
    }
  }
  for (std::size_t k = 0; k < device.counters.size(); ++k) {
    if (o.counters_added) {
      o.counters_added("tun-" + name + (k == 0 ? "" : "-q" + std::to_string(k)),
                       *device.counters[k], k == 0 ? ifindex : InterfaceIndex{});
    }
  }
  devices_.emplace(address, std::move(device));
  return {};
}

void VirtualIps::remove_devices(const std::vector<IpAddress>& addresses) {
  std::vector<std::unique_ptr<TunDevice>> closing;
  for (const IpAddress& address : addresses) {
    const auto found = devices_.find(address);
    if (found == devices_.end()) continue;
    for (TunGroup* group : per_address_->groups) closing.push_back(group->unlink(address));
    for (const IoCounters* counters : found->second.counters) {
      if (per_address_->counters_removed) per_address_->counters_removed(*counters);
    }
    devices_.erase(found);
  }
  if (closing.empty()) return;
  per_address_->domain->synchronize();  // no worker uses them any more: close them
}

Result<void> VirtualIps::add_address(const IpAddress& address) {
  if (per_address_) return devices_.contains(address) ? Result<void>() : add_device(address);
  if (auto r = netlink_.add(entry(address)); !r) {
    return r.error().with_context("cannot add " + address.to_string() + " to " + device_);
  }
  added_.insert(address);
  return {};
}

Result<void> VirtualIps::remove_address(const IpAddress& address) {
  if (devices_.contains(address)) {
    remove_devices({address});
    return {};
  }
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
  for (const auto& [address, device] : devices_) {
    auto on_device = netlink_.list(device.ifindex);
    if (!on_device) {
      return on_device.error().with_context("cannot list the addresses of " + device.name);
    }
    for (const auto& a : *on_device) {
      if (a.address == address) out.push_back(DeviceAddress{a.address, a.prefix_length, true});
    }
  }
  return out;
}

Result<std::size_t> VirtualIps::remove_all() {
  // The devices of addresses first: closing them takes their addresses with them.
  std::vector<IpAddress> with_devices;
  for (const auto& [address, _] : devices_) with_devices.push_back(address);
  remove_devices(with_devices);
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
  return count + with_devices.size();
}

}  // namespace uipsec
