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
// The cmsgs, message arrays and failure counting are UdpSocket's too (io/socket_cmsg.hpp).
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
  if (options.mark) UIPSEC_TRY(set_socket_mark(fd.get(), *options.mark, doing));
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

void RawEspSocket::parse_control(msghdr& h, std::optional<IpAddress>& destination,
                                 std::uint8_t& tos) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
        c->cmsg_len >= CMSG_LEN(sizeof(std::uint32_t))) {
      std::uint32_t dropped;
      std::memcpy(&dropped, CMSG_DATA(c), sizeof(dropped));
      note_overflow_count(dropped, overflow_count_, counters_);
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
  ReceiveSlots& rx = *rx_;
  const std::size_t received = rx.receive(fd_.get(), pool, kMaxBatch - batch.size, counters_);
  std::size_t appended = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < received; ++i) {
    PacketBuffer* b = rx.buffers[i];
    msghdr& h = rx.messages[i].msg_hdr;
    if (rx.truncated(i)) {
      std::optional<IpAddress> unused_destination;
      std::uint8_t unused_tos = 0;
      parse_control(h, unused_destination, unused_tos);  // SO_RXQ_OVFL counts even so
      counters_.rx_truncated.add();
      pool.release(b);
      continue;
    }
    b->push_back(rx.messages[i].msg_len);
    if (!finish_received(*b, h)) {
      counters_.rx_errors.add();
      pool.release(b);
      continue;
    }
    batch.push(b);
    ++appended;
    bytes += b->size();
  }
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
      const int control_length = name_length != 0
                                     ? send_control(p->meta.local.address, remote.address,
                                                    p->meta.tos, family_code, tx.control[count])
                                     : -1;
      if (control_length < 0) {
        counters_.tx_unreachable.add();
        continue;
      }
      tx.iov[count] = {p->data(), p->size()};
      prepare_send(tx.messages[count], tx.names[count], name_length, &tx.iov[count], 1,
                   tx.control[count], control_length);
      tx.datagrams[count] = 1;
      ++count;
    }
    const SentMessages r = send_messages(fd_.get(), tx, count, [this](std::size_t, int error) {
      count_send_failure(counters_, error);  // the first unsent message failed alone
      return std::pair<std::size_t, std::uint64_t>{0, 0};
    });
    if (!account_sent(r, packets.size() - next, sent, bytes, counters_)) break;
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
  const int control_length =
      source_control(from.address, to.address, socket_family(family()), control);
  if (control_length < 0) {
    return Error(doing + ": the source and destination address families differ");
  }
  return send_message(fd_.get(), name, name_length, payload, control, control_length, doing);
}

}  // namespace uipsec
