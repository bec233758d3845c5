// VirtualIps: the daemon's AddressGateway — virtual IPs (address.add / address.delete /
// address.list) on uipsecd's TUN device through io/InterfaceAddresses, what an IKE daemon does
// with an address the peer assigned it (strongSwan's kernel_net add_ip/del_ip). Ours are tagged
// (IFA_PROTO kUipsecRouteProtocol): open() removes those an earlier run left, the destructor
// removes ours (the tagged ones, and those added here on kernels that do not keep the tag).
// RouteManager learns of them through its AddressMonitor like of any other address: a route
// whose local selector holds one gets it as preferred source.
//
// Owner: the control thread.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "control/address_gateway.hpp"
#include "io/interface_address.hpp"

namespace uipsec {

class VirtualIps final : public AddressGateway {
 public:
  using Warn = std::function<void(const std::string&)>;
  // `device` names the interface in messages. Errors: the rtnetlink socket cannot be opened. A
  // leftover that cannot be removed is only a warning.
  static Result<std::unique_ptr<VirtualIps>> open(InterfaceIndex ifindex, std::string device,
                                                  Warn warn);
  ~VirtualIps() override;
  VirtualIps(const VirtualIps&) = delete;
  VirtualIps& operator=(const VirtualIps&) = delete;

  Result<void> add_address(const IpAddress& address) override;
  Result<void> remove_address(const IpAddress& address) override;
  Result<std::vector<DeviceAddress>> list_addresses() override;

  // Removes every address of ours from the device now; returns how many.
  Result<std::size_t> remove_all();

 private:
  VirtualIps(InterfaceAddresses netlink, InterfaceIndex ifindex, std::string device, Warn warn)
      : netlink_(std::move(netlink)),
        ifindex_(ifindex),
        device_(std::move(device)),
        warn_(std::move(warn)) {}
  InterfaceAddress entry(const IpAddress& address) const;

  InterfaceAddresses netlink_;
  InterfaceIndex ifindex_;
  std::string device_;
  Warn warn_;
  std::set<IpAddress> added_;  // by this run, for kernels that drop the tag
};

}  // namespace uipsec
