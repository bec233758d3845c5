// Socket options and cmsgs shared by UdpSocket and RawEspSocket (see socket_cmsg.hpp).
#include "io/socket_cmsg.hpp"

#include <cerrno>

#include "base/system_error.hpp"

namespace uipsec {

Result<void> set_int_option(int fd, int level, int name, int value, const std::string& doing,
                            const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return system_error(doing + ": cannot set " + what, errno);
  }
  return {};
}

int set_socket_buffer(int fd, int force_name, int name, int bytes) {
  if (::setsockopt(fd, SOL_SOCKET, force_name, &bytes, sizeof(bytes)) != 0) {
    (void)::setsockopt(fd, SOL_SOCKET, name, &bytes, sizeof(bytes));  // capped, never fails
  }
  int granted = 0;
  socklen_t length = sizeof(granted);
  (void)::getsockopt(fd, SOL_SOCKET, name, &granted, &length);
  return granted;
}

Result<void> enable_path_mtu_reports(int fd, int family, bool dual_stack,
                                     const std::string& doing) {
  if (family == AF_INET || dual_stack) {
    UIPSEC_TRY(set_int_option(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_WANT, doing,
                              "IP_MTU_DISCOVER"));
    UIPSEC_TRY(set_int_option(fd, IPPROTO_IP, IP_RECVERR, 1, doing, "IP_RECVERR"));
  }
  if (family == AF_INET6) {
    UIPSEC_TRY(set_int_option(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_WANT, doing,
                              "IPV6_MTU_DISCOVER"));
    UIPSEC_TRY(set_int_option(fd, IPPROTO_IPV6, IPV6_RECVERR, 1, doing, "IPV6_RECVERR"));
  }
  return {};
}

}  // namespace uipsec
