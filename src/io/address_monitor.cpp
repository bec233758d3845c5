// Address announcements over rtnetlink: a multicast subscription for changes, a dump for the
// present state. Every datagram goes through walk_netlink and parse_address_change, which treat
// it as untrusted (netlink_dump_fuzz.cpp).
#include "io/address_monitor.hpp"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "base/system_error.hpp"

namespace uipsec {

namespace {

constexpr std::size_t kReceiveBytes = 32 * 1024;

}  // namespace

Result<AddressMonitor> AddressMonitor::open() {
  RtnetlinkOptions options;
  options.groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  options.nonblocking = true;
  options.bind_doing = "cannot subscribe to address changes (rtnetlink)";
  auto socket = open_rtnetlink(options);
  if (!socket) return socket.error();
  return AddressMonitor(std::move(*socket));
}

int AddressMonitor::fd() const { return mnl_socket_get_fd(socket_.get()); }

Result<bool> AddressMonitor::read(const std::function<void(const AddressChange&)>& on_change) {
  std::vector<std::uint8_t> buffer(kReceiveBytes);
  bool complete = true;
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return complete;
      if (errno == ENOBUFS) {
        complete = false;
        continue;
      }
      return system_error("cannot receive address changes", errno);
    }
    (void)walk_announcements(ByteSpan(buffer.data(), static_cast<std::size_t>(n)),
                             [&](const nlmsghdr* message) {
                               if (auto change = parse_address_change(message)) on_change(*change);
                             });
  }
}

Result<std::vector<IpAddress>> AddressMonitor::addresses() {
  auto opened = open_rtnetlink();
  if (!opened) return opened.error();
  RtnetlinkSocket socket = std::move(*opened);
  std::vector<IpAddress> addresses;
  std::vector<std::uint8_t> buffer(kReceiveBytes);
  std::uint32_t seq = 1;
  for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    alignas(nlmsghdr) std::uint8_t request_buffer[kNetlinkRequestBytes];
    const nlmsghdr* request = build_address_dump_request(request_buffer, seq, family);
    if (mnl_socket_sendto(socket.get(), request, request->nlmsg_len) < 0) {
      return system_error("cannot ask rtnetlink for the addresses", errno);
    }
    for (;;) {
      const ssize_t n = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return system_error("cannot receive the addresses from rtnetlink", errno);
      }
      const WalkResult walk = walk_netlink(ByteSpan(buffer.data(), static_cast<std::size_t>(n)),
                                           seq, [&](const nlmsghdr* m) {
                                             if (auto change = parse_address_change(m))
                                               addresses.push_back(change->address);
                                           });
      if (walk.status == WalkStatus::kMalformed) return Error("malformed rtnetlink address dump");
      if (walk.status == WalkStatus::kDone) {
        // A kernel without IPv6 refuses that family's dump.
        if (walk.ack.error != 0 && walk.ack.error != EAFNOSUPPORT) {
          return Error("address dump: " + errno_text(walk.ack.error));
        }
        break;
      }
    }
    ++seq;
  }
  return addresses;
}

}  // namespace uipsec
