// RawEspSocket: ESP straight over IP (IP protocol 50, RFC 4303 §2 without RFC 3948's UDP) for
// SAs without encapsulation — one raw socket per address family, batched with recvmmsg/sendmmsg
// like UdpSocket, every packet tagged with the local address it arrived on and sent from the
// address it should leave from, its outer TOS / Traffic Class passed both ways.
//
// The kernel reassembles outer fragments before a raw socket sees them. An IPv4 raw socket
// receives the IP header too (options included): it is read (source, destination, TOS) and
// stripped here, see raw_ipv4_payload(). An IPv6 raw socket receives only the ESP bytes; the
// addresses and the Traffic Class come from msg_name and cmsgs (IPV6_PKTINFO, IPV6_TCLASS).
// Opening one needs CAP_NET_RAW. The kernel builds the outer header on send (no IP_HDRINCL).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "base/ip_address.hpp"
#include "base/unique_fd.hpp"
#include "io/datagram_socket.hpp"

namespace uipsec {

struct RawEspSocketOptions {
  IpFamily family = IpFamily::kV4;
  // SO_RCVBUF / SO_SNDBUF in bytes, as UdpSocketOptions::buffer_bytes (SO_*BUFFORCE first).
  int buffer_bytes = 4 * 1024 * 1024;
  // SO_MARK for every packet sent (needs CAP_NET_ADMIN); the same mark as the UDP socket's, so
  // routing rules tell the tunnel's own ESP from the traffic it protects.
  std::optional<std::uint32_t> mark;
  // For a worker that only sends raw ESP (another worker receives it): a socket filter that
  // accepts nothing keeps the kernel from queueing every ESP packet of the host on it too.
  bool send_only = false;
  // Path MTU discovery as UdpSocketOptions::path_mtu: IP_MTU_DISCOVER / IPV6_MTU_DISCOVER =
  // *_PMTUDISC_WANT and IP_RECVERR / IPV6_RECVERR. The kernel hands an ICMP "fragmentation
  // needed" / "packet too big" about an ESP packet to every raw ESP socket of the host (a
  // send-only one too), which queues it with msg_name = the ESP packet's outer destination
  // (port 0), the ESP header as payload and SO_EE_OFFENDER = the router: the socket polls
  // EPOLLERR until read_socket_errors (io/socket_errors.hpp) drains it.
  bool path_mtu = false;
};

// What an IPv4 raw socket handed over, read from its IP header.
struct RawIpv4Payload {
  std::size_t offset = 0;  // the IP header's length (IHL * 4, options included): ESP starts here
  std::size_t length = 0;  // bytes of ESP (Total Length minus the header; link padding left out)
  std::uint8_t tos = 0;
  IpAddress source;
  IpAddress destination;
};

// Parses what an IPv4 raw socket received: an IPv4 header (version 4, IHL >= 5, the header and
// Total Length inside `received`), protocol 50, not a fragment (the kernel reassembles before a
// raw socket sees the packet; a fragment here is refused, not guessed at). nullopt otherwise.
// Never reads outside `received`.
std::optional<RawIpv4Payload> raw_ipv4_payload(ByteSpan received);

struct ReceiveSlots;  // io/socket_cmsg.hpp
struct SendSlots;

// Owner: see DatagramSocket (one receiving thread, one sending thread, send_to from any).
class RawEspSocket final : public DatagramSocket {
 public:
  // Errors name the family and the cause (EPERM: needs CAP_NET_RAW; EAFNOSUPPORT: no IPv6).
  static Result<std::unique_ptr<RawEspSocket>> open(const RawEspSocketOptions& options);
  ~RawEspSocket() override;

  int fd() const override { return fd_.get(); }
  // The unspecified address of the family, port 0 (a raw socket is not bound).
  Endpoint local_endpoint() const override { return local_; }
  IpFamily family() const { return local_.address.family(); }
  int receive_buffer_bytes() const { return receive_buffer_bytes_; }
  int send_buffer_bytes() const { return send_buffer_bytes_; }

  // receive_batch: the ESP bytes at data() (the IPv4 header pulled off in front), meta.remote =
  // {source, 0}, meta.local = {destination, 0}, meta.tos = the outer TOS / Traffic Class,
  // meta.encapsulation = kNone. What is not an ESP packet of this family is counted in
  // rx_errors and dropped.
  std::size_t receive_batch(PacketPool& pool, PacketBatch& batch) override;
  // send_batch: each packet's bytes are the ESP packet; meta.remote.address (port ignored) of
  // this socket's family, from meta.local.address when specified, with meta.tos when not 0.
  std::size_t send_batch(std::span<PacketBuffer* const> packets) override;
  Result<void> send_to(const Endpoint& from, const Endpoint& to, ByteSpan payload) override;
  const IoCounters& counters() const override { return counters_; }
  // Its own fd when opened with path_mtu.
  std::size_t error_queue_fds(std::span<int> out) const override;

 private:
  RawEspSocket(UniqueFd fd, Endpoint local);
  // Fills in the IPv6 destination and Traffic Class from the cmsgs; counts SO_RXQ_OVFL drops.
  void parse_control(msghdr& h, std::optional<IpAddress>& destination, std::uint8_t& tos);
  // Turns received bytes in `b` (with sender `h.msg_name`) into an ESP packet; false: drop.
  bool finish_received(PacketBuffer& b, msghdr& h);

  UniqueFd fd_;
  Endpoint local_;
  int receive_buffer_bytes_ = 0;
  int send_buffer_bytes_ = 0;
  std::unique_ptr<ReceiveSlots> rx_;  // receiving thread
  std::unique_ptr<SendSlots> tx_;     // sending thread
  std::uint32_t overflow_count_ = 0;  // receiving thread
  bool path_mtu_ = false;             // constant after open()
  IoCounters counters_;
};

}  // namespace uipsec
