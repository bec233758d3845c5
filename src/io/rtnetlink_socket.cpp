// Opening a rtnetlink socket (see rtnetlink_socket.hpp).
#include "io/rtnetlink_socket.hpp"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "base/system_error.hpp"

namespace uipsec {

void MnlSocketCloser::operator()(mnl_socket* socket) const { mnl_socket_close(socket); }

Result<RtnetlinkSocket> open_rtnetlink(const RtnetlinkOptions& options) {
  RtnetlinkSocket socket(
      mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0)));
  if (!socket) return system_error("cannot open a rtnetlink socket", errno);
  if (mnl_socket_bind(socket.get(), options.groups, MNL_SOCKET_AUTOPID) < 0) {
    return system_error(options.bind_doing, errno);
  }
  if (options.extended_acks) {
    int one = 1;
    (void)mnl_socket_setsockopt(socket.get(), NETLINK_EXT_ACK, &one, sizeof(one));
    (void)mnl_socket_setsockopt(socket.get(), NETLINK_CAP_ACK, &one, sizeof(one));
  }
  return socket;
}

}  // namespace uipsec
