// ESP-in-UDP socket: setup on the control path, batched receive and send on the packet path.
//
// receive_batch: acquire buffers -> one recvmmsg (MSG_DONTWAIT) -> per datagram: sender from
//   msg_name, local address from the IP_PKTINFO / IPV6_PKTINFO cmsg, the outer TOS byte from
//   IP_TOS / IPV6_TCLASS, receive-queue drops from SO_RXQ_OVFL -> return unused buffers.
//   With UDP_GRO: recvmmsg into kGroSlots buffers of 64 KiB owned by the socket -> each message
//   cut at its UDP_GRO gso_size into pool buffers (one datagram each) -> what does not fit the
//   batch or the pool is handed out by the next call before anything new is received.
//   Once a gso_size has been seen (a TCP flow's trains all have one), receive_scattered skips
//   that copy: each message's iovecs are pool buffers of exactly that many bytes, so every
//   datagram of a train lands in a buffer of its own; a message cut differently (another
//   gso_size, a single datagram longer than it) is gathered into a slot and cut from there.
// send_batch: per packet: destination sockaddr from meta.remote, source cmsg from meta.local,
//   TOS cmsg from meta.tos (when not 0);
//   with GSO, the following packets of equal size to the same peer join it as further iovecs
//   of one message with a UDP_SEGMENT cmsg (a train; the last may be shorter) -> sendmmsg of up
//   to kMaxBatch messages, again from the first unsent one after a partial send; a message that
//   fails alone is counted and skipped; "send buffer full" drops the rest; a train the kernel
//   refuses goes out datagram by datagram: with EIO/ENOPROTOOPT (no checksum offload on the
//   egress device, no UDP GSO) GSO stays off for good, with EMSGSIZE or EINVAL (a segment
//   larger than the path MTU the kernel learned — it fragments single datagrams but not GSO
//   segments; Linux 6.x says EMSGSIZE, older kernels EINVAL) it is off for the next
//   kGsoBackoffBatches batches and then tried again.
// No allocation, logging or exceptions per datagram: the message arrays are allocated once.
#include "io/udp_socket.hpp"

#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "base/system_error.hpp"
#include "io/receive_room.hpp"
#include "io/socket_address.hpp"
#include "io/socket_cmsg.hpp"

namespace uipsec {

namespace {

// A send: the source (at most IPV6_PKTINFO), the TOS / Traffic Class, and UDP_SEGMENT.
static_assert(kControlBytes >= CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) +
                                   CMSG_SPACE(sizeof(std::uint16_t)));

// UDP_SEGMENT limits: UDP_MAX_SEGMENTS was 64 before Linux 5.x raised it to 128 (take the lower),
// and one send carries at most 65535 - 20 (IPv4) - 8 (UDP) bytes of payload.
constexpr std::size_t kUdpGsoMaxSegments = 64;
constexpr std::size_t kUdpGsoMaxBytes = 65535 - 20 - 8;

// Appends a UDP_SEGMENT cmsg (the kernel reads a uint16) carrying `segment_size` behind the
// `used` bytes of `control`; returns the new length.
int append_segment_control(ControlBuffer& control, int used, std::uint16_t segment_size) {
  auto* cmsg = reinterpret_cast<cmsghdr*>(control.bytes + used);
  std::memset(cmsg, 0, CMSG_SPACE(sizeof(std::uint16_t)));
  cmsg->cmsg_level = SOL_UDP;
  cmsg->cmsg_type = UDP_SEGMENT;
  cmsg->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
  std::memcpy(CMSG_DATA(cmsg), &segment_size, sizeof(segment_size));
  return used + static_cast<int>(CMSG_SPACE(sizeof(std::uint16_t)));
}

// Whether `next` may join a UDP_SEGMENT train that starts with `first` and holds `datagrams`
// datagrams of `bytes` in all so far: same endpoints, not longer than the first, no datagram
// after a shorter one (the kernel cuts at the first one's size, so only the last may be short),
// and within the kernel's limits on segments and on the UDP payload of one send.
bool joins_train(const PacketBuffer& first, const PacketBuffer& last, const PacketBuffer& next,
                 std::size_t datagrams, std::size_t bytes) {
  return datagrams < kUdpGsoMaxSegments && bytes + next.size() <= kUdpGsoMaxBytes &&
         next.size() <= first.size() && last.size() == first.size() &&
         next.meta.remote == first.meta.remote &&
         next.meta.local.address == first.meta.local.address && next.meta.tos == first.meta.tos;
}

bool reachable(const Endpoint& remote) {
  return remote.port != 0 && !remote.address.is_unspecified();
}

std::string endpoint_text(const Endpoint& e) {
  return e.address.is_v6() ? "[" + e.address.to_string() + "]:" + std::to_string(e.port)
                           : e.address.to_string() + ":" + std::to_string(e.port);
}

}  // namespace

// UDP_GRO: the kernel may hand over up to 64 KiB of coalesced datagrams in one message, so
// these messages land in a few large buffers of the socket's own (not the pool's), and are cut
// into pool buffers from there; what does not fit the batch waits for the next call.
struct UdpSocket::GroSlots {
  struct Message {
    std::size_t length = 0;        // bytes received
    std::size_t offset = 0;        // bytes handed out so far
    std::size_t segment_size = 0;  // UDP_GRO gso_size; 0: one datagram
    Endpoint remote;
    Endpoint local;
    std::uint8_t tos = 0;  // IP_TOS / IPV6_TCLASS
  };
  std::unique_ptr<std::uint8_t[]> storage =
      std::make_unique<std::uint8_t[]>(kGroSlots * kGroBufferSize);
  std::array<mmsghdr, kGroSlots> messages;
  std::array<iovec, kGroSlots> iov;
  std::array<sockaddr_storage, kGroSlots> names;
  std::array<ControlBuffer, kGroSlots> control;
  std::array<Message, kGroSlots> received;
  std::size_t count = 0;  // messages from the last recvmmsg
  std::size_t next = 0;   // the first not fully handed out
  // receive_scattered: the pool buffers behind the messages' iovecs, message after message.
  std::array<iovec, kMaxBatch> scatter_iov;
  std::array<PacketBuffer*, kMaxBatch> scatter_buffers;
};

UdpSocket::UdpSocket(UniqueFd fd, int family, Endpoint local)
    : fd_(std::move(fd)),
      family_(family),
      local_(local),
      rx_(std::make_unique<ReceiveSlots>()),
      tx_(std::make_unique<SendSlots>()) {}

namespace {

// The reuseport group's selector: for UDP the program sees the datagram from its payload on
// (the kernel pulls the UDP header first), so `ld [0]` is the ESP SPI, the non-ESP marker (0)
// or, for a one-byte keepalive, an out-of-bounds load that ends the program with 0.
Result<void> attach_spi_steering(int fd, unsigned group, const std::string& doing) {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, group),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  sock_fprog program{static_cast<unsigned short>(std::size(code)), code};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof(program)) != 0) {
    return system_error(doing + ": cannot attach the SPI steering program", errno);
  }
  return {};
}

}  // namespace

UdpSocket::~UdpSocket() = default;

Result<std::unique_ptr<UdpSocket>> UdpSocket::open(const UdpSocketOptions& options) {
  std::optional<IpAddress> address;
  if (options.address) address = unmap_v4(*options.address);
  const std::string where =
      address ? endpoint_text({*address, options.port}) : "port " + std::to_string(options.port);
  const std::string doing = "cannot open UDP socket on " + where;
  if (options.buffer_bytes <= 0) {
    return Error(doing + ": the socket buffer size must be positive, got " +
                 std::to_string(options.buffer_bytes));
  }

  int family = address && address->is_v4() ? AF_INET : AF_INET6;
  UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd && !address && errno == EAFNOSUPPORT) {
    family = AF_INET;  // a kernel without IPv6: serve IPv4 only
    fd.reset(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  }
  if (!fd) return system_error(doing, errno);

  // Deliberately absent: setsockopt(IPPROTO_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP). On a kernel
  // with ESP support that option diverts every ESP datagram on this socket into the kernel's
  // XFRM stack, where no SA exists; uipsec does ESP itself and must see the datagrams.
  if (family == AF_INET6) {
    UIPSEC_TRY(
        set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, address ? 1 : 0, doing, "IPV6_V6ONLY"));
    UIPSEC_TRY(
        set_int_option(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, doing, "IPV6_RECVPKTINFO"));
  }
  if (family == AF_INET || !address) {
    UIPSEC_TRY(set_int_option(fd.get(), IPPROTO_IP, IP_PKTINFO, 1, doing, "IP_PKTINFO"));
    // The outer TOS of each datagram (its ECN field matters: RFC 6040 decapsulation).
    UIPSEC_TRY(set_int_option(fd.get(), IPPROTO_IP, IP_RECVTOS, 1, doing, "IP_RECVTOS"));
  }
  if (family == AF_INET6) {
    UIPSEC_TRY(
        set_int_option(fd.get(), IPPROTO_IPV6, IPV6_RECVTCLASS, 1, doing, "IPV6_RECVTCLASS"));
  }
  UIPSEC_TRY(set_int_option(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, 1, doing, "SO_RXQ_OVFL"));
  if (options.path_mtu) UIPSEC_TRY(enable_path_mtu_reports(fd.get(), family, !address, doing));
  if (options.steer_group > 1) {
    UIPSEC_TRY(set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, doing, "SO_REUSEPORT"));
    if (options.steer_index == 0)
      UIPSEC_TRY(attach_spi_steering(fd.get(), options.steer_group, doing));
  }
  if (options.mark) UIPSEC_TRY(set_socket_mark(fd.get(), *options.mark, doing));
  const int receive_bytes =
      set_socket_buffer(fd.get(), SO_RCVBUFFORCE, SO_RCVBUF, options.buffer_bytes);
  const int send_bytes =
      set_socket_buffer(fd.get(), SO_SNDBUFFORCE, SO_SNDBUF, options.buffer_bytes);

  sockaddr_storage bind_address;
  static constexpr std::uint8_t kAnyV6[16] = {};
  const IpAddress any =
      family == AF_INET6 ? IpAddress::from_bytes(IpFamily::kV6, kAnyV6) : IpAddress();
  const Endpoint bind_endpoint{address ? *address : any, options.port};
  const socklen_t bind_length = to_sockaddr(bind_endpoint, family, bind_address);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&bind_address), bind_length) != 0) {
    const int error = errno;
    std::string hint;
    if (error == EADDRINUSE) {
      hint = "another process uses UDP port " + std::to_string(options.port) +
             " — an IKE daemon (charon, pluto) or a second uipsecd? `ss -uanp 'sport = :" +
             std::to_string(options.port) + "'` shows which";
    } else if (error == EADDRNOTAVAIL) {
      hint = "the address is not configured on any interface of this host";
    } else if (error == EACCES) {
      hint = "ports below 1024 need CAP_NET_BIND_SERVICE";
    }
    return system_error(doing, error, hint);
  }
  sockaddr_storage bound;
  socklen_t bound_length = sizeof(bound);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return system_error(doing + ": cannot read the bound address", errno);
  }
  const std::optional<Endpoint> local =
      from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_length);
  if (!local) return Error(doing + ": the kernel reported a bound address of another family");

  std::unique_ptr<UdpSocket> s(new UdpSocket(std::move(fd), family, *local));
  s->path_mtu_ = options.path_mtu;
  s->receive_buffer_bytes_ = receive_bytes;
  s->send_buffer_bytes_ = send_bytes;
  if (options.gro) {
    int on = 1;
    if (::setsockopt(s->fd_.get(), SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0) {
      s->gro_slots_ = std::make_unique<GroSlots>();
      s->gro_ = true;
    }
  }
  if (options.gso) {
    // The option exists (Linux 4.18) if the kernel can read it back.
    int segment = 0;
    socklen_t length = sizeof(segment);
    s->gso_ = ::getsockopt(s->fd_.get(), SOL_UDP, UDP_SEGMENT, &segment, &length) == 0;
  }
  return s;
}

std::size_t UdpSocket::error_queue_fds(std::span<int> out) const {
  if (!path_mtu_ || out.empty()) return 0;
  out[0] = fd_.get();
  return 1;
}

UdpSocket::ReceivedControl UdpSocket::parse_control(msghdr& h) {
  // SO_RXQ_OVFL arrives on datagrams that were queued after a drop; count it even when this
  // datagram itself is unusable.
  ReceivedControl out;
  bool have_v4_info = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
        c->cmsg_len >= CMSG_LEN(sizeof(std::uint32_t))) {
      std::uint32_t dropped;
      std::memcpy(&dropped, CMSG_DATA(c), sizeof(dropped));
      note_overflow_count(dropped, overflow_count_, counters_);
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      out.destination = IpAddress::from_bytes(
          IpFamily::kV4, reinterpret_cast<const std::uint8_t*>(&info.ipi_addr));
      have_v4_info = true;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo)) && !have_v4_info) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      out.destination = unmap_v4(IpAddress::from_bytes(
          IpFamily::kV6, reinterpret_cast<const std::uint8_t*>(&info.ipi6_addr)));
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS &&
               c->cmsg_len >= CMSG_LEN(sizeof(std::uint8_t))) {
      out.tos = *CMSG_DATA(c);  // one byte on receipt
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
               c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int tclass = 0;
      std::memcpy(&tclass, CMSG_DATA(c), sizeof(tclass));
      out.tos = static_cast<std::uint8_t>(tclass);
    } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
               c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int segment = 0;  // the kernel writes an int: gso_size of the coalesced datagrams
      std::memcpy(&segment, CMSG_DATA(c), sizeof(segment));
      out.segment_size = segment > 0 && segment <= 0xffff ? static_cast<std::size_t>(segment) : 0;
    }
  }
  return out;
}

std::size_t UdpSocket::receive_batch(PacketPool& pool, PacketBatch& batch) {
  return gro_ ? receive_coalesced(pool, batch) : receive_plain(pool, batch);
}

std::size_t UdpSocket::receive_coalesced(PacketPool& pool, PacketBatch& batch) {
  GroSlots& gro = *gro_slots_;
  std::size_t appended = 0;
  std::uint64_t bytes = 0;
  const std::uint32_t drops_before = overflow_count_;
  // A recvmmsg that filled fewer slots than it had found the queue empty: calling it again in
  // this pass would only return EAGAIN (a system call per wake-up saved; new datagrams make the
  // socket readable again).
  bool drained = false;
  for (;;) {
    // Hand out what the last recvmmsg left, datagram by datagram, into pool buffers.
    bool stalled = false;
    while (gro.next < gro.count && !stalled) {
      GroSlots::Message& m = gro.received[gro.next];
      const std::uint8_t* data = gro.storage.get() + gro.next * kGroBufferSize;
      while (m.offset < m.length) {
        if (batch.full()) {
          stalled = true;
          break;
        }
        PacketBuffer* b = pool.acquire();
        if (b == nullptr) {
          stalled = true;
          break;
        }
        const std::size_t rest = m.length - m.offset;
        const std::size_t n = m.segment_size != 0 ? std::min(m.segment_size, rest) : rest;
        if (n > receive_room(*b)) {
          // Every segment but the last has this size: none of them fits.
          pool.release(b);
          counters_.rx_truncated.add();
          m.offset = m.length;
          break;
        }
        std::memcpy(b->data(), data + m.offset, n);
        b->push_back(n);
        b->meta.remote = m.remote;
        b->meta.local = m.local;
        b->meta.tos = m.tos;  // GRO coalesces only datagrams of one TOS
        b->meta.encapsulation = Encapsulation::kEspInUdp;
        batch.push(b);
        ++appended;
        bytes += n;
        m.offset += n;
      }
      if (m.offset >= m.length) ++gro.next;
    }
    if (stalled || drained || batch.full() || pool.available() == 0) break;

    // Everything handed out. Straight into pool buffers when the segment size is known and the
    // batch and the pool have room for whole messages; what was cut differently is in the
    // slots now, for the loop above.
    if (const std::size_t per_message = scatter_buffers_per_message();
        per_message != 0 && scatter_pause_ == 0) {
      const std::size_t messages = std::min(
          {kGroSlots, (kMaxBatch - batch.size) / per_message, pool.available() / per_message});
      if (messages != 0) {
        const std::size_t received =
            receive_scattered(pool, batch, messages, per_message, appended, bytes);
        if (received == 0) break;
        drained = received < messages;
        continue;
      }
      // No room for a whole message: this batch goes first (receiving into the slots now would
      // only copy the next messages). An empty batch with a pool this short takes the slots.
      if (batch.size != 0) break;
    }

    // Into the slots: receive the next messages, each up to 64 KiB.
    for (std::size_t i = 0; i < kGroSlots; ++i) {
      gro.iov[i] = {gro.storage.get() + i * kGroBufferSize, kGroBufferSize};
      prepare_receive(gro.messages[i], gro.names[i], gro.iov[i], gro.control[i]);
    }
    const std::size_t received =
        receive_messages(fd_.get(), gro.messages.data(), kGroSlots, counters_);
    if (received == 0) break;
    gro.count = received;
    drained = gro.count < kGroSlots;
    gro.next = 0;
    for (std::size_t i = 0; i < gro.count; ++i) {
      msghdr& h = gro.messages[i].msg_hdr;
      GroSlots::Message& m = gro.received[i];
      const ReceivedControl info = parse_control(h);
      const std::optional<Endpoint> remote =
          from_sockaddr(reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
      m.offset = 0;
      m.length = gro.messages[i].msg_len;
      m.segment_size = info.segment_size;
      if (info.segment_size != 0) predicted_segment_ = info.segment_size;
      if ((h.msg_flags & MSG_TRUNC) != 0 || m.length > kGroBufferSize) {
        counters_.rx_truncated.add();
        m.length = 0;
        continue;
      }
      if (!remote) {
        counters_.rx_errors.add();
        m.length = 0;
        continue;
      }
      m.remote = *remote;
      m.local = Endpoint{info.destination ? *info.destination : local_.address, local_.port};
      m.tos = info.tos;
    }
  }
  // The kernel dropped datagrams for a full queue: this socket cannot keep up, and the slots'
  // eight messages per recvmmsg (against at most two straight into pool buffers, one batch's
  // worth) save more than the copy costs, so it takes the slots for a while.
  if (overflow_count_ != drops_before) {
    scatter_pause_ = kScatterPauseCalls;
  } else if (scatter_pause_ != 0) {
    --scatter_pause_;
  }
  counters_.rx_packets.add(appended);
  counters_.rx_bytes.add(bytes);
  return appended;
}

std::size_t UdpSocket::scatter_buffers_per_message() const {
  const std::size_t segment = predicted_segment_;
  if (segment < kMinScatterSegment) return 0;
  // Enough buffers for the largest message the kernel coalesces.
  return (kGroBufferSize + segment - 1) / segment;
}

std::size_t UdpSocket::receive_scattered(PacketPool& pool, PacketBatch& batch, std::size_t messages,
                                         std::size_t per_message, std::size_t& appended,
                                         std::uint64_t& bytes) {
  GroSlots& gro = *gro_slots_;
  const std::size_t segment = predicted_segment_;
  const std::size_t buffers = messages * per_message;
  for (std::size_t i = 0; i < buffers; ++i) {
    PacketBuffer* b = pool.acquire();  // the caller checked that the pool has them
    gro.scatter_buffers[i] = b;
    gro.scatter_iov[i] = {b->data(), segment};
  }
  const auto release_left = [&] {
    for (std::size_t i = 0; i < buffers; ++i) {
      if (gro.scatter_buffers[i] != nullptr) pool.release(gro.scatter_buffers[i]);
    }
  };
  if (receive_room(*gro.scatter_buffers[0]) < segment) {
    // Buffers smaller than the segments (tests use small pools): the slots cut them.
    release_left();
    predicted_segment_ = 0;
    return 0;
  }
  for (std::size_t m = 0; m < messages; ++m) {
    prepare_receive(gro.messages[m], gro.names[m], gro.scatter_iov[m * per_message],
                    gro.control[m]);
    gro.messages[m].msg_hdr.msg_iovlen = per_message;
  }
  const std::size_t received =
      receive_messages(fd_.get(), gro.messages.data(), messages, counters_);
  if (received == 0) {
    release_left();
    return 0;
  }

  // Messages cut as predicted go to the batch as they lie; from the first one cut otherwise on,
  // every message is gathered into a slot, so that the order stays the kernel's.
  gro.count = 0;
  gro.next = 0;
  for (std::size_t m = 0; m < received; ++m) {
    msghdr& h = gro.messages[m].msg_hdr;
    PacketBuffer** held = &gro.scatter_buffers[m * per_message];
    const ReceivedControl info = parse_control(h);
    const std::optional<Endpoint> remote =
        from_sockaddr(reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
    const std::size_t length = gro.messages[m].msg_len;
    if ((h.msg_flags & MSG_TRUNC) != 0 || length > kGroBufferSize) {
      counters_.rx_truncated.add();
      continue;
    }
    if (!remote) {
      counters_.rx_errors.add();
      continue;
    }
    const Endpoint local{info.destination ? *info.destination : local_.address, local_.port};
    const bool as_predicted =
        info.segment_size == segment || (info.segment_size == 0 && length <= segment);
    if (info.segment_size != 0) predicted_segment_ = info.segment_size;
    if (as_predicted && gro.count == 0) {
      for (std::size_t offset = 0, k = 0; offset < length; offset += segment, ++k) {
        const std::size_t n = std::min(segment, length - offset);
        PacketBuffer* b = held[k];
        held[k] = nullptr;
        b->push_back(n);
        b->meta.remote = *remote;
        b->meta.local = local;
        b->meta.tos = info.tos;
        b->meta.encapsulation = Encapsulation::kEspInUdp;
        batch.push(b);
        ++appended;
        bytes += n;
      }
      ++scattered_messages_;
      continue;
    }
    std::uint8_t* slot = gro.storage.get() + gro.count * kGroBufferSize;
    for (std::size_t offset = 0, k = 0; offset < length; offset += segment, ++k) {
      std::memcpy(slot + offset, held[k]->data(), std::min(segment, length - offset));
    }
    gro.received[gro.count++] =
        GroSlots::Message{length, 0, info.segment_size, *remote, local, info.tos};
    ++gathered_messages_;
  }
  release_left();
  return received;
}

std::size_t UdpSocket::receive_plain(PacketPool& pool, PacketBatch& batch) {
  ReceiveSlots& rx = *rx_;
  const std::size_t received = rx.receive(fd_.get(), pool, kMaxBatch - batch.size, counters_);
  std::size_t appended = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < received; ++i) {
    PacketBuffer* b = rx.buffers[i];
    msghdr& h = rx.messages[i].msg_hdr;
    const ReceivedControl info = parse_control(h);
    const std::optional<IpAddress>& destination = info.destination;
    const std::optional<Endpoint> remote =
        from_sockaddr(reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
    const std::size_t length = rx.messages[i].msg_len;
    if (rx.truncated(i)) {
      counters_.rx_truncated.add();
      pool.release(b);
      continue;
    }
    if (!remote) {
      counters_.rx_errors.add();
      pool.release(b);
      continue;
    }
    b->push_back(length);
    b->meta.remote = *remote;
    b->meta.local = Endpoint{destination ? *destination : local_.address, local_.port};
    b->meta.tos = info.tos;
    b->meta.encapsulation = Encapsulation::kEspInUdp;
    batch.push(b);
    ++appended;
    bytes += length;
  }
  counters_.rx_packets.add(appended);
  counters_.rx_bytes.add(bytes);
  return appended;
}

std::size_t UdpSocket::send_batch(std::span<PacketBuffer* const> packets) {
  if (gso_backoff_ > 0) --gso_backoff_;
  SendSlots& tx = *tx_;
  std::size_t sent = 0;
  std::uint64_t bytes = 0;
  std::size_t next = 0;
  while (next < packets.size()) {
    // Build up to kMaxBatch messages (and iovecs); what cannot be addressed is counted and left
    // out. With GSO, a run of equal-sized datagrams to one peer becomes one message.
    std::size_t count = 0;
    std::size_t iovs = 0;
    for (; next < packets.size() && count < kMaxBatch && iovs < kMaxBatch; ++next) {
      PacketBuffer* p = packets[next];
      const Endpoint& remote = p->meta.remote;
      const socklen_t name_length = to_sockaddr(remote, family_, tx.names[count]);
      // Source and TOS first: the UDP_SEGMENT cmsg must stay last (the GSO fallback strips it).
      int control_length = reachable(remote) && name_length != 0
                               ? send_control(p->meta.local.address, remote.address, p->meta.tos,
                                              family_, tx.control[count])
                               : -1;
      if (control_length < 0) {
        counters_.tx_unreachable.add();
        continue;
      }
      const std::size_t first_iov = iovs;
      tx.iov[iovs++] = {p->data(), p->size()};
      std::size_t train_bytes = p->size();
      if (gso_ && gso_backoff_ == 0) {
        PacketBuffer* last = p;
        while (next + 1 < packets.size() && iovs < kMaxBatch &&
               joins_train(*p, *last, *packets[next + 1], iovs - first_iov, train_bytes)) {
          last = packets[++next];
          tx.iov[iovs++] = {last->data(), last->size()};
          train_bytes += last->size();
        }
        if (iovs - first_iov > 1) {
          control_length = append_segment_control(tx.control[count], control_length,
                                                  static_cast<std::uint16_t>(p->size()));
        }
      }
      prepare_send(tx.messages[count], tx.names[count], name_length, &tx.iov[first_iov],
                   iovs - first_iov, tx.control[count], control_length);
      tx.datagrams[count] = static_cast<std::uint32_t>(iovs - first_iov);
      ++count;
    }
    const SentMessages r =
        send_messages(fd_.get(), tx, count, [this, &tx](std::size_t i, int error) {
          return refused(tx.messages[i].msg_hdr, tx.datagrams[i], error);
        });
    if (!account_sent(r, packets.size() - next, sent, bytes, counters_)) break;
  }
  counters_.tx_packets.add(sent);
  counters_.tx_bytes.add(bytes);
  return sent;
}

std::pair<std::size_t, std::uint64_t> UdpSocket::refused(const msghdr& message,
                                                         std::uint32_t datagrams, int error) {
  if (datagrams > 1 &&
      (error == EIO || error == EINVAL || error == ENOPROTOOPT || error == EMSGSIZE)) {
    // The kernel refuses UDP_SEGMENT here: egress without checksum offload (EIO) or no GSO
    // (ENOPROTOOPT) — off for good; segments over the learned path MTU (EMSGSIZE, EINVAL
    // before Linux 6.x) — off for a while, as the path MTU may rise again or the next trains
    // may go to other peers. This train goes out as single datagrams (which the kernel
    // fragments where needed).
    if (error == EINVAL || error == EMSGSIZE) {
      gso_backoff_ = kGsoBackoffBatches;
    } else {
      gso_ = false;
    }
    counters_.note_errno(error);
    return send_singly(message, datagrams);
  }
  // The message failed alone.
  for (std::uint32_t i = 0; i < datagrams; ++i) count_send_failure(counters_, error);
  return {0, 0};
}

std::pair<std::size_t, std::uint64_t> UdpSocket::send_singly(const msghdr& train,
                                                             std::uint32_t datagrams) {
  // The control holds the source and TOS cmsgs first (if any), then UDP_SEGMENT: drop the last.
  std::size_t source_length = 0;
  if (train.msg_controllen > CMSG_SPACE(sizeof(std::uint16_t))) {
    source_length = train.msg_controllen - CMSG_SPACE(sizeof(std::uint16_t));
  }
  std::size_t sent = 0;
  std::uint64_t bytes = 0;
  for (std::uint32_t i = 0; i < datagrams; ++i) {
    msghdr h = train;
    h.msg_iov = train.msg_iov + i;
    h.msg_iovlen = 1;
    h.msg_control = source_length > 0 ? train.msg_control : nullptr;
    h.msg_controllen = source_length;
    ssize_t n;
    do {
      n = ::sendmsg(fd_.get(), &h, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      count_send_failure(counters_, errno);
      continue;
    }
    ++sent;
    bytes += static_cast<std::uint64_t>(n);
  }
  return {sent, bytes};
}

Result<void> UdpSocket::send_to(const Endpoint& from, const Endpoint& to, ByteSpan payload) {
  const std::string doing =
      "cannot send " + std::to_string(payload.size()) + " bytes to " + endpoint_text(to) +
      (from.address.is_unspecified() ? std::string() : " from " + from.address.to_string());
  sockaddr_storage name;
  const socklen_t name_length = to_sockaddr(to, family_, name);
  if (name_length == 0 || !reachable(to)) {
    return Error(doing + ": not an address this socket can reach");
  }
  ControlBuffer control;
  const int control_length = source_control(from.address, to.address, family_, control);
  if (control_length < 0) {
    return Error(doing + ": the source and destination address families differ");
  }
  return send_message(fd_.get(), name, name_length, payload, control, control_length, doing);
}

}  // namespace uipsec
