// AddressMonitor: the host's IPv4 and IPv6 addresses over rtnetlink (libmnl) — a dump of what
// is configured now, and the RTM_NEWADDR / RTM_DELADDR announcements that follow, so routes
// whose preferred source appears (or goes) later can be fixed up.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "io/netlink_message.hpp"
#include "io/rtnetlink_socket.hpp"

struct mnl_socket;

namespace uipsec {

// Owner: one thread (the control thread). Needs no privilege.
class AddressMonitor {
 public:
  // Opens a NETLINK_ROUTE socket (non-blocking) subscribed to RTMGRP_IPV4_IFADDR and
  // RTMGRP_IPV6_IFADDR.
  static Result<AddressMonitor> open();

  // For an event loop: readable when announcements are pending.
  int fd() const;

  // Reads every pending announcement and hands each to `on_change`. Returns false when the
  // kernel dropped announcements (ENOBUFS: the socket buffer overflowed): the caller should
  // re-read the whole list with addresses().
  Result<bool> read(const std::function<void(const AddressChange&)>& on_change);

  // Every address configured now (a dump on a socket of its own).
  static Result<std::vector<IpAddress>> addresses();

 private:
  explicit AddressMonitor(RtnetlinkSocket socket) : socket_(std::move(socket)) {}

  RtnetlinkSocket socket_;
};

}  // namespace uipsec
