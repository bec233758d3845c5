// UdpSocket: the UDP socket that carries ESP in UDP (RFC 3948, port 4500 by default) — batched
// with recvmmsg/sendmmsg, every datagram tagged with the local address it arrived on and sent
// from the address it should leave from (IP_PKTINFO / IPV6_PKTINFO), so a multi-homed host
// answers from the address its peer talks to.
//
// The socket is a plain UDP socket: the UDP_ENCAP socket option is never set on it, because on
// a kernel with ESP support that option hands every ESP packet to the kernel's IPsec (XFRM)
// instead of to us. Offloads: UDP_SEGMENT on send (options.gso), UDP_GRO on receive (options.gro).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "base/ip_address.hpp"
#include "base/unique_fd.hpp"
#include "io/datagram_socket.hpp"

namespace uipsec {

struct UdpSocketOptions {
  // nullopt: the wildcard "::" with IPV6_V6ONLY off, serving IPv4 (v4-mapped inside the kernel,
  // plain IPv4 in PacketMeta) and IPv6; falls back to 0.0.0.0 on a kernel without IPv6. An
  // explicit IPv4 address gives an IPv4 socket, an explicit IPv6 address an IPv6-only one.
  std::optional<IpAddress> address;
  std::uint16_t port = 4500;  // 0: the kernel picks one (tests)
  // SO_RCVBUF / SO_SNDBUF in bytes; SO_*BUFFORCE is tried first (with CAP_NET_ADMIN it may
  // exceed net.core.rmem_max / wmem_max), then the plain option, which the kernel caps.
  int buffer_bytes = 4 * 1024 * 1024;
  // SO_MARK for every datagram sent (needs CAP_NET_ADMIN), so routing rules can tell the
  // tunnel's own ESP traffic from the traffic it protects.
  std::optional<std::uint32_t> mark;
  // UDP GSO on send: runs of equal-sized datagrams to one peer leave as one sendmmsg entry with
  // a UDP_SEGMENT cmsg (Linux 4.18). Switched off for good when the kernel refuses it.
  bool gso = false;
  // UDP GRO on receive (UDP_GRO, Linux 5.0): trains of datagrams arrive as one message of up to
  // 64 KiB, cut into single datagrams here. Costs kGroSlots x 64 KiB of receive buffers.
  bool gro = false;
  // Path MTU discovery: IP_MTU_DISCOVER / IPV6_MTU_DISCOVER = *_PMTUDISC_WANT (DF on what fits
  // the path MTU the kernel knows, what does not is fragmented by the kernel, never refused) and
  // IP_RECVERR / IPV6_RECVERR, so ICMP "too big" replies land in the error queue: the socket
  // then polls EPOLLERR until read_socket_errors (io/socket_errors.hpp) drains it.
  bool path_mtu = false;
  // Several workers, one socket each: with steer_group > 1 the socket joins a SO_REUSEPORT group
  // of that many sockets on the same address and port, and a classic BPF program
  // (SO_ATTACH_REUSEPORT_CBPF, set by the member with steer_index 0, which must be opened first)
  // hands each datagram to member `first payload word % steer_group`: the SPI for ESP, so all
  // packets of one SA go to one member as long as the group is complete. IKE (marker 0) and
  // keepalives go to member 0. Datagrams that arrive while the group is still filling up are
  // spread by the kernel's flow hash (correct, only less local: see ReplayWindow).
  unsigned steer_group = 1;
  unsigned steer_index = 0;
};

struct ReceiveSlots;  // io/socket_cmsg.hpp
struct SendSlots;

// Owner: see DatagramSocket (one receiving thread, one sending thread, send_to from any).
class UdpSocket final : public DatagramSocket {
 public:
  static Result<std::unique_ptr<UdpSocket>> open(const UdpSocketOptions& options);
  ~UdpSocket() override;

  int fd() const override { return fd_.get(); }
  Endpoint local_endpoint() const override { return local_; }
  // AF_INET or AF_INET6.
  int family() const { return family_; }
  // What the kernel granted (it reports twice the requested size, bookkeeping included).
  int receive_buffer_bytes() const { return receive_buffer_bytes_; }
  int send_buffer_bytes() const { return send_buffer_bytes_; }
  // Whether sends still use UDP_SEGMENT (asked for, and not refused by the kernel yet). Sending
  // thread; a snapshot from others.
  bool gso() const { return gso_; }
  // Batches sent without GSO after the kernel refused a train for segments larger than the
  // learned path MTU (EMSGSIZE; EINVAL on older kernels), before GSO is tried again.
  static constexpr std::uint32_t kGsoBackoffBatches = 1024;
  std::uint32_t gso_backoff() const { return gso_backoff_; }
  // Whether UDP_GRO is on (asked for and accepted by the kernel).
  bool gro() const { return gro_; }

  // Large receive buffers with GRO: how many, and the bytes of each.
  static constexpr std::size_t kGroSlots = 8;
  static constexpr std::size_t kGroBufferSize = 65535;
  // Segment sizes below this are still cut from the slots (a message of them needs more iovecs,
  // and pool buffers, than a batch takes; copying small datagrams costs little).
  static constexpr std::size_t kMinScatterSegment = 1024;
  // Receive calls that take the slots after the kernel reported receive-queue drops.
  static constexpr std::uint32_t kScatterPauseCalls = 4096;
  // GRO messages received straight into pool buffers, and those gathered back into a slot
  // because they were cut at another size than expected. Receiving thread; for tests.
  std::uint64_t scattered_messages() const { return scattered_messages_; }
  std::uint64_t gathered_messages() const { return gathered_messages_; }

  std::size_t receive_batch(PacketPool& pool, PacketBatch& batch) override;
  std::size_t send_batch(std::span<PacketBuffer* const> packets) override;
  Result<void> send_to(const Endpoint& from, const Endpoint& to, ByteSpan payload) override;
  const IoCounters& counters() const override { return counters_; }
  // Its own fd when opened with path_mtu.
  std::size_t error_queue_fds(std::span<int> out) const override;

 private:
  struct GroSlots;
  struct ReceivedControl {
    std::optional<IpAddress> destination;  // IP_PKTINFO / IPV6_PKTINFO
    std::size_t segment_size = 0;          // UDP_GRO; 0 when absent
    std::uint8_t tos = 0;                  // IP_TOS / IPV6_TCLASS; 0 when absent
  };

  UdpSocket(UniqueFd fd, int family, Endpoint local);
  // Reads the cmsgs of a received message (counting SO_RXQ_OVFL drops). Receiving thread.
  ReceivedControl parse_control(msghdr& h);
  std::size_t receive_plain(PacketPool& pool, PacketBatch& batch);
  std::size_t receive_coalesced(PacketPool& pool, PacketBatch& batch);
  // How many pool buffers of the expected segment size hold one message (0: do not scatter).
  std::size_t scatter_buffers_per_message() const;
  // One recvmmsg of up to `messages` messages into per_message pool buffers each (the pool and
  // the batch have room for all); returns how many messages arrived (0 after a failure).
  std::size_t receive_scattered(PacketPool& pool, PacketBatch& batch, std::size_t messages,
                                std::size_t per_message, std::size_t& appended,
                                std::uint64_t& bytes);
  // A message the kernel refused alone with `error`: a UDP_SEGMENT train it cannot take goes out
  // datagram by datagram (GSO off for good or for a while), anything else is counted.
  // Returns (datagrams, bytes) sent after all.
  std::pair<std::size_t, std::uint64_t> refused(const msghdr& message, std::uint32_t datagrams,
                                                int error);
  // Sends the datagrams of a refused UDP_SEGMENT train one sendmsg each; (sent, bytes).
  std::pair<std::size_t, std::uint64_t> send_singly(const msghdr& train, std::uint32_t datagrams);

  UniqueFd fd_;
  int family_;
  Endpoint local_;
  int receive_buffer_bytes_ = 0;
  int send_buffer_bytes_ = 0;
  std::unique_ptr<ReceiveSlots> rx_;      // used only by the receiving thread
  std::unique_ptr<GroSlots> gro_slots_;   // with GRO only; receiving thread
  std::unique_ptr<SendSlots> tx_;         // used only by the sending thread
  std::uint32_t overflow_count_ = 0;      // receiving thread
  std::size_t predicted_segment_ = 0;     // receiving thread: the last UDP_GRO gso_size seen
  std::uint32_t scatter_pause_ = 0;       // receiving thread: calls left without scattering
  std::uint64_t scattered_messages_ = 0;  // receiving thread
  std::uint64_t gathered_messages_ = 0;   // receiving thread
  bool gso_ = false;                      // sending thread
  std::uint32_t gso_backoff_ = 0;         // sending thread: batches left without GSO (EINVAL)
  bool gro_ = false;                      // constant after open()
  bool path_mtu_ = false;                 // constant after open()
  IoCounters counters_;
};

}  // namespace uipsec
