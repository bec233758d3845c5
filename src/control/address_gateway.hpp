// AddressGateway: what the control server needs from uipsecd to manage virtual IPs on its TUN
// device (docs/CONTROL_PROTOCOL.md, "Virtual IPs"): what an IKE daemon does with an address the
// peer assigned it (strongSwan's kernel_net add_ip/del_ip). The daemon implements it
// (daemon/virtual_ips.hpp) over rtnetlink.
//
// Thread: the control thread.
#pragma once

#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "control/codec.hpp"

namespace uipsec {

class AddressGateway {
 public:
  virtual ~AddressGateway() = default;
  // Puts `address` (/32 or /128) on the TUN device, tagged as ours; one it has already succeeds.
  virtual Result<void> add_address(const IpAddress& address) = 0;
  // Takes `address` off the TUN device; refused when it is not there or was not added by uipsec.
  virtual Result<void> remove_address(const IpAddress& address) = 0;
  // Every address of the TUN device, ours or not.
  virtual Result<std::vector<DeviceAddress>> list_addresses() = 0;
};

}  // namespace uipsec
