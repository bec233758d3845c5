// InterfaceAddresses: addresses added to and removed from an interface over rtnetlink (libmnl) —
// what an IKE daemon does with a virtual IP the peer assigned (strongSwan's kernel_net_t
// add_ip/del_ip; kernel-libipsec puts it on its TUN device). Ours carry the routing-protocol tag
// kUipsecRouteProtocol in IFA_PROTO (Linux >= 6.1 keeps and reports it; older kernels ignore
// it), so that a later run finds what an earlier one left and flushes only that. It also reads
// an interface's drop counters (what `ip -s link` shows). Never runs `ip`.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "io/interface_index.hpp"
#include "io/netlink_message.hpp"
#include "io/route.hpp"
#include "io/rtnetlink_socket.hpp"

struct mnl_socket;

namespace uipsec {

struct InterfaceAddress {
  InterfaceIndex ifindex;
  IpAddress address;
  std::uint8_t prefix_length = 32;  // a virtual IP: 32 or 128 (the subnet's route is not ours)
  std::uint8_t protocol = kUipsecRouteProtocol;  // IFA_PROTO; 0 when the kernel reports none
  friend bool operator==(const InterfaceAddress&, const InterfaceAddress&) = default;
};

// "198.18.50.1/32 dev 7 proto 85"
std::string to_string(const InterfaceAddress& address);

// RTM_NEWADDR (NLM_F_CREATE | NLM_F_EXCL) or RTM_DELADDR for `address`, into `buffer`
// (kNetlinkRequestBytes, aligned for nlmsghdr). IPv6 addresses get IFA_F_NODAD: usable at once.
nlmsghdr* build_interface_address_request(void* buffer, std::uint16_t type, std::uint32_t seq,
                                          const InterfaceAddress& address);
// An RTM_NEWADDR/RTM_DELADDR entry with its IFA_PROTO; nullopt when `message` is not one or is
// malformed. `message` must hold nlmsg_len bytes rounded up to 4 (walk_netlink guarantees it).
std::optional<InterfaceAddress> parse_interface_address(const nlmsghdr* message);

// Owner: one thread (the control thread). Changes need CAP_NET_ADMIN; listing works without.
class InterfaceAddresses {
 public:
  static Result<InterfaceAddresses> open();

  // Adding an address the interface has already succeeds (whoever added it); deleting one it
  // does not have succeeds too.
  Result<void> add(const InterfaceAddress& address);
  Result<void> remove(const InterfaceAddress& address);
  // Every IPv4 and IPv6 address of `ifindex`, whoever added it.
  Result<std::vector<InterfaceAddress>> list(InterfaceIndex ifindex);
  // Removes the addresses of `ifindex` tagged `protocol`; returns how many.
  Result<std::size_t> flush(InterfaceIndex ifindex, std::uint8_t protocol = kUipsecRouteProtocol);
  // The kernel's drop counters of interface `ifindex` (no capability needed).
  Result<LinkDrops> link_drops(InterfaceIndex ifindex);

 private:
  explicit InterfaceAddresses(RtnetlinkSocket socket) : socket_(std::move(socket)) {}
  // Sends `request`, reads to its acknowledgement; `on_data` sees each dump entry. The result
  // is the kernel's errno (0: success).
  Result<int> transact(const nlmsghdr* request, const std::string& doing,
                       const std::function<void(const nlmsghdr*)>& on_data, std::string& why);

  RtnetlinkSocket socket_;
  std::uint32_t seq_ = 1;
};

}  // namespace uipsec
