// Raw ESP socket: setup on the control path, batched receive and send on the packet path.
//
// receive_batch: acquire buffers -> one recvmmsg (MSG_DONTWAIT) -> per packet: IPv4: the IP
//   header read (source, destination, TOS) and pulled off the front (raw_ipv4_payload); IPv6:
//   sender from msg_name, destination from IPV6_PKTINFO, Traffic Class from IPV6_TCLASS ->
//   receive-queue drops from SO_RXQ_OVFL -> return unused buffers.
// send_batch: per packet: destination sockaddr from meta.remote (port 0), source cmsg from
//   meta.local (IP_PKTINFO / IPV6_PKTINFO), TOS cmsg from meta.tos (when not 0) -> sendmmsg of
//   up to kMaxBatch messages, again from the first unsent one after a partial send; a message
//   that fails alone is counted and skipped; "send buffer full" drops the rest.
// No allocation, logging or exceptions per packet: the message arrays are allocated once.
//
// The cmsg helpers repeat udp_socket.cpp's (source, TOS, failure counting); they can move to a
// shared file once the changes under way in udp_socket.cpp have landed.
#include "io/raw_esp_socket.hpp"

#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/system_error.hpp"
#include "io/receive_room.hpp"
#include "io/socket_address.hpp"
#include "io/socket_cmsg.hpp"
#include "wire/ipv4_header.hpp"

namespace uipsec {

namespace {

constexpr std::uint8_t kEspProtocol = 50;

int socket_family(IpFamily family) { return family == IpFamily::kV4 ? AF_INET : AF_INET6; }
const char* family_name(IpFamily family) { return family == IpFamily::kV4 ? "IPv4" : "IPv6"; }

// The source cmsg for a packet from `local` (0: none asked for; -1: not of this socket's family).
int source_control(const IpAddress& local, IpFamily family, ControlBuffer& control) {
  if (local.is_unspecified()) return 0;
  if (local.family() != family) return -1;
  std::memset(control.bytes, 0, sizeof(control.bytes));
  auto* cmsg = reinterpret_cast<cmsghdr*>(control.bytes);
  if (family == IpFamily::kV4) {
    cmsg->cmsg_level = IPPROTO_IP;
    cmsg->cmsg_type = IP_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info;
    std::memset(&info, 0, sizeof(info));
    std::memcpy(&info.ipi_spec_dst, local.data(), 4);
    std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
    return static_cast<int>(CMSG_SPACE(sizeof(in_pktinfo)));
  }
  cmsg->cmsg_level = IPPROTO_IPV6;
  cmsg->cmsg_type = IPV6_PKTINFO;
  cmsg->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info;
  std::memset(&info, 0, sizeof(info));
  std::memcpy(&info.ipi6_addr, local.data(), 16);
  std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
  return static_cast<int>(CMSG_SPACE(sizeof(in6_pktinfo)));
}

// Appends the IP_TOS / IPV6_TCLASS cmsg (an int) behind `used` bytes; returns the new length.
int append_tos_control(ControlBuffer& control, int used, IpFamily family, std::uint8_t tos) {
  auto* cmsg = reinterpret_cast<cmsghdr*>(control.bytes + used);
  std::memset(cmsg, 0, CMSG_SPACE(sizeof(int)));
  cmsg->cmsg_level = family == IpFamily::kV4 ? IPPROTO_IP : IPPROTO_IPV6;
  cmsg->cmsg_type = family == IpFamily::kV4 ? IP_TOS : IPV6_TCLASS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  const int value = tos;
  std::memcpy(CMSG_DATA(cmsg), &value, sizeof(value));
  return used + static_cast<int>(CMSG_SPACE(sizeof(int)));
}

bool is_would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

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

// Whether a packet to `remote` can leave through a socket of `family`.
bool reachable(const Endpoint& remote, IpFamily family) {
  return remote.address.family() == family && !remote.address.is_unspecified();
}

}  // namespace

std::optional<RawIpv4Payload> raw_ipv4_payload(ByteSpan received) {
  const std::optional<Ipv4Header> header = parse_ipv4_header(received);
  if (!header || header->protocol != kEspProtocol || header->is_fragment()) return std::nullopt;
  RawIpv4Payload out;
  out.offset = header->header_length;
  out.length = header->total_length - header->header_length;
  out.tos = header->tos;
  out.source = header->src;
  out.destination = header->dst;
  return out;
}

struct RawEspSocket::ReceiveSlots {
  std::array<mmsghdr, kMaxBatch> messages;
  std::array<iovec, kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> names;
  std::array<ControlBuffer, kMaxBatch> control;
  std::array<PacketBuffer*, kMaxBatch> buffers;
};

struct RawEspSocket::SendSlots {
  std::array<mmsghdr, kMaxBatch> messages;
  std::array<iovec, kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> names;
  std::array<ControlBuffer, kMaxBatch> control;
};

RawEspSocket::RawEspSocket(UniqueFd fd, Endpoint local)
    : fd_(std::move(fd)),
      local_(local),
      rx_(std::make_unique<ReceiveSlots>()),
      tx_(std::make_unique<SendSlots>()) {}

RawEspSocket::~RawEspSocket() = default;

Result<std::unique_ptr<RawEspSocket>> RawEspSocket::open(const RawEspSocketOptions& options) {
  const IpFamily family = options.family;
  const std::string doing =
      std::string("cannot open the raw ") + family_name(family) + " ESP socket (IP protocol 50)";
  if (options.buffer_bytes <= 0) {
    return Error(doing + ": the socket buffer size must be positive, got " +
                 std::to_string(options.buffer_bytes));
  }
  UniqueFd fd(
      ::socket(socket_family(family), SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kEspProtocol));
  if (!fd) {
    const int error = errno;
    return system_error(doing, error,
                        error == EPERM || error == EACCES ? "needs CAP_NET_RAW"
                        : error == EAFNOSUPPORT           ? "the kernel has no IPv6"
                                                          : "");
  }
  if (options.send_only) {
    // A classic BPF program of one instruction, "return 0": no packet is queued.
    sock_filter drop_all{BPF_RET | BPF_K, 0, 0, 0};
    const sock_fprog program{1, &drop_all};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) != 0) {
      return system_error(doing + ": cannot attach the send-only filter", errno);
    }
  } else if (family == IpFamily::kV6) {
    // IPv4 takes addresses and TOS from the header it receives; IPv6 needs them as cmsgs.
    UIPSEC_TRY(
        set_int_option(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, doing, "IPV6_RECVPKTINFO"));
    UIPSEC_TRY(
        set_int_option(fd.get(), IPPROTO_IPV6, IPV6_RECVTCLASS, 1, doing, "IPV6_RECVTCLASS"));
  }
  UIPSEC_TRY(set_int_option(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, 1, doing, "SO_RXQ_OVFL"));
  if (options.path_mtu) {
    UIPSEC_TRY(enable_path_mtu_reports(fd.get(), socket_family(family), false, doing));
  }
  if (options.mark) {
    const int mark = static_cast<int>(*options.mark);
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
      const int error = errno;
      return system_error(doing + ": cannot set SO_MARK " + std::to_string(*options.mark), error,
                          error == EPERM ? "needs CAP_NET_ADMIN" : "");
    }
  }
  const int receive_bytes =
      set_socket_buffer(fd.get(), SO_RCVBUFFORCE, SO_RCVBUF, options.buffer_bytes);
  const int send_bytes =
      set_socket_buffer(fd.get(), SO_SNDBUFFORCE, SO_SNDBUF, options.buffer_bytes);

  static constexpr std::uint8_t kAny[16] = {};
  const Endpoint local{IpAddress::from_bytes(family, kAny), 0};
  std::unique_ptr<RawEspSocket> s(new RawEspSocket(std::move(fd), local));
  s->receive_buffer_bytes_ = receive_bytes;
  s->send_buffer_bytes_ = send_bytes;
  s->path_mtu_ = options.path_mtu;
  return s;
}

std::size_t RawEspSocket::error_queue_fds(std::span<int> out) const {
  if (!path_mtu_ || out.empty()) return 0;
  out[0] = fd_.get();
  return 1;
}

void RawEspSocket::note_overflow_count(std::uint32_t dropped_so_far) {
  // As UdpSocket: the kernel's counter only grows (modulo 2^32).
  const std::uint32_t delta = dropped_so_far - overflow_count_;
  if (delta != 0 && delta < 0x80000000u) {
    counters_.rx_kernel_drops.add(delta);
    overflow_count_ = dropped_so_far;
  }
}

void RawEspSocket::parse_control(msghdr& h, std::optional<IpAddress>& destination,
                                 std::uint8_t& tos) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
        c->cmsg_len >= CMSG_LEN(sizeof(std::uint32_t))) {
      std::uint32_t dropped;
      std::memcpy(&dropped, CMSG_DATA(c), sizeof(dropped));
      note_overflow_count(dropped);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      destination = IpAddress::from_bytes(IpFamily::kV6,
                                          reinterpret_cast<const std::uint8_t*>(&info.ipi6_addr));
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
               c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int tclass = 0;
      std::memcpy(&tclass, CMSG_DATA(c), sizeof(tclass));
      tos = static_cast<std::uint8_t>(tclass);
    }
  }
}

bool RawEspSocket::finish_received(PacketBuffer& b, msghdr& h) {
  std::optional<IpAddress> destination;
  std::uint8_t tos = 0;
  parse_control(h, destination, tos);
  if (family() == IpFamily::kV4) {
    const std::optional<RawIpv4Payload> payload = raw_ipv4_payload(b.span());
    if (!payload) return false;
    b.pull_front(payload->offset);
    b.truncate(payload->length);
    b.meta.remote = Endpoint{payload->source, 0};
    b.meta.local = Endpoint{payload->destination, 0};
    b.meta.tos = payload->tos;
  } else {
    const std::optional<Endpoint> remote =
        from_sockaddr(reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
    if (!remote || remote->address.family() != IpFamily::kV6) return false;
    b.meta.remote = Endpoint{remote->address, 0};
    b.meta.local = Endpoint{destination ? *destination : local_.address, 0};
    b.meta.tos = tos;
  }
  b.meta.encapsulation = Encapsulation::kNone;
  return true;
}

std::size_t RawEspSocket::receive_batch(PacketPool& pool, PacketBatch& batch) {
  const std::size_t want = std::min(kMaxBatch - batch.size, pool.available());
  if (want == 0) return 0;
  ReceiveSlots& rx = *rx_;
  for (std::size_t i = 0; i < want; ++i) {
    PacketBuffer* b = pool.acquire();  // cannot fail: want <= available()
    rx.buffers[i] = b;
    rx.iov[i] = {b->data(), receive_room(*b)};
    msghdr& h = rx.messages[i].msg_hdr;
    h.msg_name = &rx.names[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &rx.iov[i];
    h.msg_iovlen = 1;
    h.msg_control = rx.control[i].bytes;
    h.msg_controllen = kControlBytes;
    h.msg_flags = 0;
    rx.messages[i].msg_len = 0;
  }
  int received;
  do {
    received = ::recvmmsg(fd_.get(), rx.messages.data(), static_cast<unsigned>(want), MSG_DONTWAIT,
                          nullptr);
  } while (received < 0 && errno == EINTR);
  if (received < 0) {
    const int error = errno;
    if (!is_would_block(error)) {
      counters_.rx_errors.add();
      counters_.note_errno(error);
    }
    received = 0;
  }

  std::size_t appended = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(received); ++i) {
    PacketBuffer* b = rx.buffers[i];
    msghdr& h = rx.messages[i].msg_hdr;
    const std::size_t length = rx.messages[i].msg_len;
    if ((h.msg_flags & MSG_TRUNC) != 0 || length > rx.iov[i].iov_len) {
      std::optional<IpAddress> unused_destination;
      std::uint8_t unused_tos = 0;
      parse_control(h, unused_destination, unused_tos);  // SO_RXQ_OVFL counts even so
      counters_.rx_truncated.add();
      pool.release(b);
      continue;
    }
    b->push_back(length);
    if (!finish_received(*b, h)) {
      counters_.rx_errors.add();
      pool.release(b);
      continue;
    }
    batch.push(b);
    ++appended;
    bytes += b->size();
  }
  // Unused buffers go back last-acquired first, so the pool's hot end stays hot.
  for (std::size_t i = want; i-- > static_cast<std::size_t>(received);) pool.release(rx.buffers[i]);
  counters_.rx_packets.add(appended);
  counters_.rx_bytes.add(bytes);
  return appended;
}

std::size_t RawEspSocket::send_batch(std::span<PacketBuffer* const> packets) {
  SendSlots& tx = *tx_;
  const int family_code = socket_family(family());
  std::size_t sent = 0;
  std::uint64_t bytes = 0;
  std::size_t next = 0;
  while (next < packets.size()) {
    std::size_t count = 0;
    for (; next < packets.size() && count < kMaxBatch; ++next) {
      PacketBuffer* p = packets[next];
      const Endpoint remote{p->meta.remote.address, 0};
      const socklen_t name_length =
          reachable(remote, family()) ? to_sockaddr(remote, family_code, tx.names[count]) : 0;
      int control_length = name_length != 0
                               ? source_control(p->meta.local.address, family(), tx.control[count])
                               : -1;
      if (control_length < 0) {
        counters_.tx_unreachable.add();
        continue;
      }
      if (p->meta.tos != 0) {
        control_length =
            append_tos_control(tx.control[count], control_length, family(), p->meta.tos);
      }
      tx.iov[count] = {p->data(), p->size()};
      msghdr& h = tx.messages[count].msg_hdr;
      h.msg_name = &tx.names[count];
      h.msg_namelen = name_length;
      h.msg_iov = &tx.iov[count];
      h.msg_iovlen = 1;
      h.msg_control = control_length > 0 ? tx.control[count].bytes : nullptr;
      h.msg_controllen = static_cast<std::size_t>(control_length);
      h.msg_flags = 0;
      tx.messages[count].msg_len = 0;
      ++count;
    }
    std::size_t done = 0;
    while (done < count) {
      const int n = ::sendmmsg(fd_.get(), tx.messages.data() + done,
                               static_cast<unsigned>(count - done), MSG_DONTWAIT);
      if (n > 0) {
        for (std::size_t i = done; i < done + static_cast<std::size_t>(n); ++i) {
          bytes += tx.messages[i].msg_len;
        }
        sent += static_cast<std::size_t>(n);
        done += static_cast<std::size_t>(n);
        continue;
      }
      const int error = n < 0 ? errno : EIO;
      if (error == EINTR) continue;
      if (is_would_block(error)) {
        // The send buffer is full: drop the rest of the batch now and let the kernel drain.
        counters_.tx_queue_full.add((count - done) + (packets.size() - next));
        counters_.note_errno(error);
        counters_.tx_packets.add(sent);
        counters_.tx_bytes.add(bytes);
        return sent;
      }
      count_send_failure(counters_, error);  // the first unsent message failed alone
      ++done;
    }
  }
  counters_.tx_packets.add(sent);
  counters_.tx_bytes.add(bytes);
  return sent;
}

Result<void> RawEspSocket::send_to(const Endpoint& from, const Endpoint& to, ByteSpan payload) {
  const std::string doing =
      "cannot send " + std::to_string(payload.size()) + " bytes of raw ESP to " +
      to.address.to_string() +
      (from.address.is_unspecified() ? std::string() : " from " + from.address.to_string());
  const Endpoint remote{to.address, 0};
  sockaddr_storage name;
  const socklen_t name_length =
      reachable(remote, family()) ? to_sockaddr(remote, socket_family(family()), name) : 0;
  if (name_length == 0) return Error(doing + ": not an address this socket can reach");
  ControlBuffer control;
  const int control_length = source_control(from.address, family(), control);
  if (control_length < 0) {
    return Error(doing + ": the source and destination address families differ");
  }
  iovec iov{const_cast<std::uint8_t*>(payload.data()), payload.size()};
  msghdr h;
  std::memset(&h, 0, sizeof(h));
  h.msg_name = &name;
  h.msg_namelen = name_length;
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = control_length > 0 ? control.bytes : nullptr;
  h.msg_controllen = static_cast<std::size_t>(control_length);
  ssize_t n;
  do {
    n = ::sendmsg(fd_.get(), &h, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int error = errno;
    return system_error(doing, error,
                        is_would_block(error) ? "the socket's send buffer is full" : "");
  }
  return {};
}

}  // namespace uipsec
