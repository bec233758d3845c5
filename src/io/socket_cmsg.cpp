// Socket options and cmsgs shared by UdpSocket and RawEspSocket (see socket_cmsg.hpp).
#include "io/socket_cmsg.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/system_error.hpp"
#include "io/receive_room.hpp"

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

Result<void> set_socket_mark(int fd, std::uint32_t mark, const std::string& doing) {
  const int value = static_cast<int>(mark);
  if (::setsockopt(fd, SOL_SOCKET, SO_MARK, &value, sizeof(value)) != 0) {
    const int error = errno;
    return system_error(doing + ": cannot set SO_MARK " + std::to_string(mark), error,
                        error == EPERM ? "needs CAP_NET_ADMIN" : "");
  }
  return {};
}

Result<void> send_message(int fd, const sockaddr_storage& name, socklen_t name_length,
                          ByteSpan payload, ControlBuffer& control, int control_length,
                          const std::string& doing) {
  iovec iov{const_cast<std::uint8_t*>(payload.data()), payload.size()};
  mmsghdr message;
  prepare_send(message, const_cast<sockaddr_storage&>(name), name_length, &iov, 1, control,
               control_length);
  ssize_t n;
  do {
    n = ::sendmsg(fd, &message.msg_hdr, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int error = errno;
    return system_error(doing, error,
                        is_would_block(error) ? "the socket's send buffer is full" : "");
  }
  return {};
}

int source_control(const IpAddress& local, const IpAddress& remote, int socket_family,
                   ControlBuffer& control) {
  if (local.is_unspecified()) return 0;
  if (local.family() != remote.family()) return -1;
  std::memset(control.bytes, 0, sizeof(control.bytes));
  auto* cmsg = reinterpret_cast<cmsghdr*>(control.bytes);
  if (local.is_v4()) {
    cmsg->cmsg_level = IPPROTO_IP;
    cmsg->cmsg_type = IP_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info;
    std::memset(&info, 0, sizeof(info));
    std::memcpy(&info.ipi_spec_dst, local.data(), 4);
    std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
    return static_cast<int>(CMSG_SPACE(sizeof(in_pktinfo)));
  }
  if (socket_family != AF_INET6) return -1;
  cmsg->cmsg_level = IPPROTO_IPV6;
  cmsg->cmsg_type = IPV6_PKTINFO;
  cmsg->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info;
  std::memset(&info, 0, sizeof(info));
  std::memcpy(&info.ipi6_addr, local.data(), 16);
  std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
  return static_cast<int>(CMSG_SPACE(sizeof(in6_pktinfo)));
}

int append_tos_control(ControlBuffer& control, int used, const IpAddress& remote,
                       std::uint8_t tos) {
  auto* cmsg = reinterpret_cast<cmsghdr*>(control.bytes + used);
  std::memset(cmsg, 0, CMSG_SPACE(sizeof(int)));
  cmsg->cmsg_level = remote.is_v4() ? IPPROTO_IP : IPPROTO_IPV6;
  cmsg->cmsg_type = remote.is_v4() ? IP_TOS : IPV6_TCLASS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  const int value = tos;
  std::memcpy(CMSG_DATA(cmsg), &value, sizeof(value));
  return used + static_cast<int>(CMSG_SPACE(sizeof(int)));
}

void count_send_failure(IoCounters& counters, int error) {
  counters.note_errno(error);
  switch (error) {
    case ENOBUFS:
      counters.tx_queue_full.add();
      break;
    case EMSGSIZE:
      counters.tx_too_big.add();
      break;
    case EAFNOSUPPORT:
    case EINVAL:
    case EADDRNOTAVAIL:
    case ENETUNREACH:
    case EHOSTUNREACH:
      counters.tx_unreachable.add();
      break;
    default:
      counters.tx_errors.add();  // EPERM: a firewall rule; others
      break;
  }
}

void note_overflow_count(std::uint32_t dropped_so_far, std::uint32_t& seen, IoCounters& counters) {
  const std::uint32_t delta = dropped_so_far - seen;
  if (delta != 0 && delta < 0x80000000u) {
    counters.rx_kernel_drops.add(delta);
    seen = dropped_so_far;
  }
}

void prepare_receive(mmsghdr& message, sockaddr_storage& name, iovec& iov, ControlBuffer& control) {
  msghdr& h = message.msg_hdr;
  h.msg_name = &name;
  h.msg_namelen = sizeof(sockaddr_storage);
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = control.bytes;
  h.msg_controllen = kControlBytes;
  h.msg_flags = 0;
  message.msg_len = 0;
}

void prepare_send(mmsghdr& message, sockaddr_storage& name, socklen_t name_length, iovec* iov,
                  std::size_t iov_count, ControlBuffer& control, int control_length) {
  msghdr& h = message.msg_hdr;
  h.msg_name = &name;
  h.msg_namelen = name_length;
  h.msg_iov = iov;
  h.msg_iovlen = iov_count;
  h.msg_control = control_length > 0 ? control.bytes : nullptr;
  h.msg_controllen = static_cast<std::size_t>(control_length > 0 ? control_length : 0);
  h.msg_flags = 0;
  message.msg_len = 0;
}

bool account_sent(const SentMessages& r, std::size_t rest, std::size_t& sent, std::uint64_t& bytes,
                  IoCounters& counters) {
  sent += r.datagrams;
  bytes += r.bytes;
  if (!r.queue_full) return true;
  counters.tx_queue_full.add(r.unsent + rest);
  counters.note_errno(r.error);
  return false;
}

std::size_t receive_messages(int fd, mmsghdr* messages, std::size_t count, IoCounters& counters) {
  int received;
  do {
    received = ::recvmmsg(fd, messages, static_cast<unsigned>(count), MSG_DONTWAIT, nullptr);
  } while (received < 0 && errno == EINTR);
  if (received >= 0) return static_cast<std::size_t>(received);
  const int error = errno;
  if (!is_would_block(error)) {
    counters.rx_errors.add();
    counters.note_errno(error);
  }
  return 0;
}

std::size_t ReceiveSlots::receive(int fd, PacketPool& pool, std::size_t want,
                                  IoCounters& counters) {
  want = std::min({want, pool.available(), kMaxBatch});
  if (want == 0) return 0;
  for (std::size_t i = 0; i < want; ++i) {
    PacketBuffer* b = pool.acquire();  // cannot fail: want <= available()
    buffers[i] = b;
    iov[i] = {b->data(), receive_room(*b)};
    prepare_receive(messages[i], names[i], iov[i], control[i]);
  }
  const std::size_t received = receive_messages(fd, messages.data(), want, counters);
  // Unused buffers go back last-acquired first, so the pool's hot end stays hot.
  for (std::size_t i = want; i-- > received;) pool.release(buffers[i]);
  return received;
}

}  // namespace uipsec
