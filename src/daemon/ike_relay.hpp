// IkeRelay: uipsecd's IKE side of the sockets, for the IKE handler registered on the control
// socket (docs/CONTROL_PROTOCOL.md, "IKE"). It hands the handler every IKE message — those the
// worker took off the NAT-T socket (non-ESP marker stripped, RFC 3948 §2.2) and those arriving on
// the IKE port's own socket (500 by default; the control thread reads it, IKE is low-rate) — and
// sends the handler's messages: from the NAT-T socket with the marker prepended, from the IKE
// port's socket as they are. It also sends NAT-keepalives (one 0xFF byte, RFC 3948 §2.3).
//
// Drops are counted by reason in a WorkerCounters the relay owns (the daemon adds it to the
// backend's statistics): ike-no-handler (the handler went away with messages queued, or none was
// registered for one on the IKE port), ike-queue-full (the handler's connection had no room),
// ike-too-big (above kMaxIkeMessage). Messages handed over and sent are in counters() (rx/tx).
//
// Owner: the control thread. The handler flag is read by the worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "control/ike_gateway.hpp"
#include "daemon/ike_datagram.hpp"
#include "dataplane/dataplane_context.hpp"
#include "io/datagram_socket.hpp"
#include "io/io_counters.hpp"
#include "packet/packet_pool.hpp"

namespace uipsec {

class IkeRelay final : public IkeGateway {
 public:
  // Hands one message to the registered handler (ControlServer::deliver_ike).
  using Deliver =
      std::function<IkeDelivery(const Endpoint& local, const Endpoint& remote, ByteSpan payload)>;
  // Tells `uipsec monitor` about an IKE message: `handled` false when no handler took it.
  using Notice = std::function<void(const Endpoint& local, const Endpoint& remote,
                                    std::uint32_t size, bool handled)>;

  // `nat_t` is the worker's ESP socket (only its send_to is used here); `ike_port_socket` the
  // IKE port's socket, or null when it is off. `handler_registered` is the flag the worker reads
  // (Dataplane::ike_handler_registered). Everything must outlive the relay.
  IkeRelay(std::atomic<bool>& handler_registered, DatagramSocket& nat_t,
           DatagramSocket* ike_port_socket, IkeDatagramQueue& queue, Deliver deliver,
           Notice notice = {});

  // Hands what the worker queued to the handler. Returns how many messages it took off the queue.
  std::size_t drain();
  // Receives what waits on the IKE port's socket (when its descriptor is readable).
  std::size_t receive_ike_port();
  // One NAT-keepalive from the NAT-T socket; counted in keepalive_counters().
  bool send_keepalive(const Endpoint& local, const Endpoint& remote);

  // IkeGateway.
  void handler_changed(bool registered) override;
  Result<void> send_ike(const Endpoint& local, const Endpoint& remote, ByteSpan payload) override;

  bool handler_registered() const { return registered_.load(std::memory_order_relaxed); }
  // rx: messages handed to the handler; tx: messages sent for it (tx_errors: refused sends).
  const IoCounters& counters() const { return counters_; }
  // tx: keepalives sent; tx_errors: keepalives the socket refused.
  const IoCounters& keepalive_counters() const { return keepalive_counters_; }
  // Drops by reason and `ike` (messages seen on the IKE port); the worker counts its own.
  const WorkerCounters& drop_counters() const { return drops_; }

  // Buffers for the IKE port's socket: a few, each large enough for any UDP datagram, so that an
  // oversize message is counted as ike-too-big rather than cut.
  static constexpr std::size_t kIkePortBuffers = 4;

 private:
  void hand_over(const Endpoint& local, const Endpoint& remote, ByteSpan payload);

  std::atomic<bool>& registered_;
  DatagramSocket& nat_t_;
  DatagramSocket* ike_port_;
  IkeDatagramQueue& queue_;
  Deliver deliver_;
  Notice notice_;
  IoCounters counters_;
  IoCounters keepalive_counters_;
  WorkerCounters drops_;
  std::unique_ptr<IkeDatagram> scratch_;  // one slot to pop into (10 KB: not on the stack)
  std::unique_ptr<PacketPool> pool_;      // with an IKE port socket
  PacketBatch batch_;
};

}  // namespace uipsec
