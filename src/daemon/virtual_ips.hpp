// VirtualIps: the daemon's AddressGateway — virtual IPs (address.add / address.delete /
// address.list) on uipsecd's TUN device through io/InterfaceAddresses, what an IKE daemon does
// with an address the peer assigned it (strongSwan's kernel_net add_ip/del_ip). Ours are tagged
// (IFA_PROTO kUipsecRouteProtocol): open() removes those an earlier run left, the destructor
// removes ours (the tagged ones, and those added here on kernels that do not keep the tag).
// RouteManager learns of them through its AddressMonitor like of any other address: a route
// whose local selector holds one gets it as preferred source.
//
// With uipsec.tun_per_virtual_ip (set_device_per_address) each address gets a TUN device of its
// own instead (BASEv1, BASEv2, ...: the BSD/macOS model), one queue of it in each worker's
// TunGroup, which delivers decrypted packets to the device whose address is their destination;
// address.delete takes the device out of the groups and closes it after a QSBR grace period.
//
// Owner: the control thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/qsbr.hpp"
#include "control/address_gateway.hpp"
#include "io/interface_address.hpp"
#include "io/io_counters.hpp"
#include "io/tun_group.hpp"

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

  // Removes every address of ours from the device now (and every device of an address);
  // returns how many.
  Result<std::size_t> remove_all();

  // uipsec.tun_per_virtual_ip.
  struct DevicePerAddress {
    std::string base_name;  // the main device's name: devices are BASEv1, BASEv2... (15 bytes)
    std::uint32_t mtu = 1400;
    bool offload = false;
    bool gro = false;
    // One per worker (not owned, outlive this object); a device gets one queue in each
    // (IFF_MULTI_QUEUE with more than one).
    std::vector<TunGroup*> groups;
    QsbrDomain* domain = nullptr;  // the workers' QSBR domain (grace periods before closing)
    // Each queue's counters, for `uipsec stats` ("tun-NAME", "tun-NAME-q1"...), while it lives;
    // `device` is the device's interface with its first queue, 0 with the others.
    std::function<void(const std::string& seam, const IoCounters& counters, InterfaceIndex device)>
        counters_added;
    std::function<void(const IoCounters& counters)> counters_removed;
  };
  // From now on, every address added gets a device of its own. Precondition: no address added.
  void set_device_per_address(DevicePerAddress options) { per_address_ = std::move(options); }
  // The device of `address` (uipsec.tun_per_virtual_ip); "" when none.
  std::string device_of(const IpAddress& address) const;

 private:
  VirtualIps(InterfaceAddresses netlink, InterfaceIndex ifindex, std::string device, Warn warn)
      : netlink_(std::move(netlink)),
        ifindex_(ifindex),
        device_(std::move(device)),
        warn_(std::move(warn)) {}
  InterfaceAddress entry(const IpAddress& address) const;
  struct OwnDevice {
    std::string name;
    InterfaceIndex ifindex;
    unsigned number;
    std::vector<const IoCounters*> counters;
  };
  Result<void> add_device(const IpAddress& address);
  // Out of the groups, a grace period, closed (the kernel deletes it with its addresses).
  void remove_devices(const std::vector<IpAddress>& addresses);

  InterfaceAddresses netlink_;
  InterfaceIndex ifindex_;
  std::string device_;
  Warn warn_;
  std::set<IpAddress> added_;  // by this run, for kernels that drop the tag
  std::optional<DevicePerAddress> per_address_;
  std::map<IpAddress, OwnDevice> devices_;
};

}  // namespace uipsec
