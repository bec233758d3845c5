// DatagramSocket: the OS seam for ESP in UDP (RFC 3948) and, later, IKE — one socket that
// receives and sends batches of datagrams, each carrying its outer endpoints in PacketMeta.
// UdpSocket is the real one, FakeDatagramSocket the in-memory one for tests.
#pragma once

#include <cstddef>
#include <span>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "io/io_counters.hpp"
#include "packet/packet_batch.hpp"
#include "packet/packet_meta.hpp"
#include "packet/packet_pool.hpp"

namespace uipsec {

// Owner: at most one thread receives and at most one thread sends at a time (they may differ);
// send_to() is for the control thread and may run alongside them.
class DatagramSocket {
 public:
  virtual ~DatagramSocket() = default;

  // Polls readable (level-triggered) while datagrams wait; for epoll. Owned by the socket.
  virtual int fd() const = 0;
  // The address and port the socket is bound to (port resolved when 0 was asked for; address
  // unspecified for a wildcard socket).
  virtual Endpoint local_endpoint() const = 0;

  // Receives datagrams without blocking until none is left, `batch` is full or `pool` is empty,
  // and appends them to `batch`: the UDP payload at data() (default headroom), meta.remote =
  // sender, meta.local = the local address and port it was sent to (IPv4 as plain IPv4, never
  // v4-mapped), meta.encapsulation = kEspInUdp. The caller owns the buffers. Returns how many
  // were appended. With the pool empty the socket stays readable (see TunDevice::read_batch).
  virtual std::size_t receive_batch(PacketPool& pool, PacketBatch& batch) = 0;

  // Sends each packet's bytes as one datagram to meta.remote, from meta.local.address when that
  // is specified (else the kernel picks the source). Returns how many were sent; failures are
  // counted in counters(). Ownership of the buffers stays with the caller.
  virtual std::size_t send_batch(std::span<PacketBuffer* const> packets) = 0;

  // One datagram, for the control path (IKE, keepalives): from `from.address` when specified
  // (`from.port` is ignored: it is always this socket's port). Not counted in counters().
  virtual Result<void> send_to(const Endpoint& from, const Endpoint& to, ByteSpan payload) = 0;

  virtual const IoCounters& counters() const = 0;

  // The descriptors whose error queues carry path MTU reports (IP_RECVERR / IPV6_RECVERR set):
  // each polls EPOLLERR while errors wait there, and read_socket_errors (io/socket_errors.hpp)
  // drains it. Writes at most out.size() of them and returns how many. None by default.
  virtual std::size_t error_queue_fds(std::span<int> out) const {
    (void)out;
    return 0;
  }
};

}  // namespace uipsec
