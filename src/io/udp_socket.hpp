// UdpSocket: the UDP socket that carries ESP in UDP (RFC 3948, port 4500 by default) — batched
// with recvmmsg/sendmmsg, every datagram tagged with the local address it arrived on and sent
// from the address it should leave from (IP_PKTINFO / IPV6_PKTINFO), so a multi-homed host
// answers from the address its peer talks to.
//
// The socket is a plain UDP socket: the UDP_ENCAP socket option is never set on it, because on
// a kernel with ESP support that option hands every ESP packet to the kernel's IPsec (XFRM)
// instead of to us. No offloads yet (UDP_SEGMENT / UDP_GRO come with the fast path; meta's
// segment_size and the control buffers leave room for them).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

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
};

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

  std::size_t receive_batch(PacketPool& pool, PacketBatch& batch) override;
  std::size_t send_batch(std::span<PacketBuffer* const> packets) override;
  Result<void> send_to(const Endpoint& from, const Endpoint& to, ByteSpan payload) override;
  const IoCounters& counters() const override { return counters_; }

 private:
  struct ReceiveSlots;
  struct SendSlots;

  UdpSocket(UniqueFd fd, int family, Endpoint local);
  // Counts the kernel's receive-queue drops from an SO_RXQ_OVFL value (drops since the socket
  // was opened, as of when the datagram was queued).
  void note_overflow_count(std::uint32_t dropped_so_far);

  UniqueFd fd_;
  int family_;
  Endpoint local_;
  int receive_buffer_bytes_ = 0;
  int send_buffer_bytes_ = 0;
  std::unique_ptr<ReceiveSlots> rx_;  // used only by the receiving thread
  std::unique_ptr<SendSlots> tx_;     // used only by the sending thread
  std::uint32_t overflow_count_ = 0;  // receiving thread
  IoCounters counters_;
};

}  // namespace uipsec
