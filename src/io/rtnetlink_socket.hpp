// RtnetlinkSocket: a NETLINK_ROUTE socket (libmnl, rtnetlink(7)), opened and bound the same way
// for RouteTable, InterfaceAddresses and AddressMonitor.
#pragma once

#include <memory>

#include "base/result.hpp"

struct mnl_socket;

namespace uipsec {

struct MnlSocketCloser {
  void operator()(mnl_socket* socket) const;
};
// Owns the socket; closes it on destruction.
using RtnetlinkSocket = std::unique_ptr<mnl_socket, MnlSocketCloser>;

struct RtnetlinkOptions {
  // Multicast groups to join (RTMGRP_*; 0: none, for requests and dumps only).
  unsigned groups = 0;
  bool nonblocking = false;
  // NETLINK_EXT_ACK and NETLINK_CAP_ACK (the kernel's error text, short acks): optional
  // features, older kernels lack them and still work.
  bool extended_acks = false;
  // What a failed bind says (a subscription says what it subscribes to).
  const char* bind_doing = "cannot bind a rtnetlink socket";
};

// Opens (SOCK_CLOEXEC) and binds a rtnetlink socket. Errors: "cannot open a rtnetlink socket:
// ..." or `bind_doing`: ..., with the errno text.
Result<RtnetlinkSocket> open_rtnetlink(const RtnetlinkOptions& options = {});

}  // namespace uipsec
