// Worker: one packet-path thread of uipsecd. It moves batches between the OS seams and the
// packet path, and owns the packet buffers in between.
//
// Flow of one pass (poll_once):
//   0. packets held for an acquire (AcquireHold), if any, when the SA database changed or every
//      10 ms: OutboundPath::release_held -> those whose SA came to the socket in one send_batch,
//      in the order they came; those that waited too long (or whose policy went) are counted drops
//   1. TUN device readable: read a batch (TunDevice::read_batch; with offloads, super-packets
//      split into MTU-sized packets, malformed ones counted here) -> OutboundPath::process ->
//      the ESP packets to the socket in one send_batch; BYPASS matches cannot leave through the
//      TUN device and are counted (kBypassViaTun); packets for a PROTECT policy without an SA
//      stay in the hold (a few per policy), the rest go back to the pool
//   2. socket readable: receive a batch (DatagramSocket::receive_batch) -> InboundPath::process
//      -> the decrypted packets into the TUN device in one write_batch; IKE messages (marker
//      stripped) are copied into the bounded queue to the control thread, which hands them to
//      the registered IKE handler (without one, only their endpoints and size go, for the
//      monitor); a full queue (ike-queue-full) or a message above kMaxIkeMessage (ike-too-big)
//      is a counted drop
//   3. every buffer goes back to the pool; the thread passes a QSBR quiescent point
//   4. if the packet path queued events, wake the control thread
// run() blocks in epoll_wait, QSBR-offline, while neither seam has anything: no busy polling
// (while packets are held it wakes every 10 ms until they have left). After a wake-up it reads
// only the seams epoll reported, and again those that filled a batch (poll_seams), each time
// with the other one too when a zero-timeout epoll_wait reports it readable: a backlog in one
// direction holds back the other for one batch at most.
//
// Owner: the worker's own thread; stop() and the counters may be used from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>

#include "base/bounded_queue.hpp"
#include "base/clock.hpp"
#include "base/qsbr.hpp"
#include "daemon/ike_datagram.hpp"
#include "dataplane/acquire_hold.hpp"
#include "dataplane/inbound_path.hpp"
#include "dataplane/outbound_path.hpp"
#include "io/datagram_socket.hpp"
#include "io/event_fd.hpp"
#include "io/tun_device.hpp"
#include "packet/packet_pool.hpp"

namespace uipsec {

// IKE datagrams seen on the ESP socket (non-ESP marker) go to the control thread in an
// IkeDatagramQueue (daemon/ike_datagram.hpp), for the IKE handler and `uipsec monitor`.
using IkeNoticeQueue = IkeDatagramQueue;

class Worker {
 public:
  struct Options {
    // Buffers in this worker's pool, and the data room of each: enough for a TUN MTU-sized
    // packet or a jumbo ESP datagram, plus head- and tailroom. Memory: count x capacity.
    std::size_t packet_buffers = 256;
    std::size_t buffer_capacity = kPacketHeadroom + 16384 + kPacketTailroom;
    // Packets held while an acquire is pending (AcquireHold):
    // - per policy: 4 — the packets that open a flow (a TCP SYN and its first retransmission, a
    //   DNS query and its AAAA twin, the first pings), not a queue. Linux keeps up to 100 per
    //   policy, but only with net.core.xfrm_larval_drop=0 (its default, 1, drops them all, as
    //   strongSwan's libipsec does); each of ours pins a pool buffer.
    // - in all: 0 means packet_buffers / 8, at most 64 (so 64 of the default 512); any value is
    //   capped at packet_buffers / 2 and at one batch (128), so held packets never starve the
    //   reads. 0 per policy turns holding off (kNoSa drops, as before).
    // - for 1 s: the acquire interval (one acquire per policy per hold), and TCP's initial
    //   retransmission timeout (RFC 6298): an older packet would arrive after its own retransmit.
    std::size_t held_per_policy = 4;
    std::size_t held_total = 0;
    std::int64_t hold_timeout_ns = 1'000'000'000;
    // After a wake-up that moved packets, run() keeps polling the seams this long (real time,
    // yielding the CPU between polls) before it sleeps in epoll_wait again: a packet that comes
    // meanwhile (the next train of a TCP flow, a ping's reply) is taken without the cost of a
    // wake-up — on a VM, the halt and the IPI that rouse an idle vCPU. 0: sleep at once. With no
    // traffic nothing spins. uipsec.busy_poll (docs/CONFIGURATION.md).
    std::int64_t busy_poll_ns = 0;
  };

  // Everything referenced must outlive the worker. `wake_control` is signalled when the packet
  // path queued events or IKE notices.
  Worker(Dataplane& dataplane, std::size_t index, TunDevice& tun, DatagramSocket& socket,
         QsbrDomain& domain, EventFd& wake_control, IkeNoticeQueue& ike_notices, const Clock& clock,
         Options options);
  ~Worker();

  // Thread body: registers with QSBR and loops until stop(). Returns an error only if the
  // worker cannot set itself up (epoll).
  Result<void> run();
  // Any thread.
  void stop();

  // One non-blocking pass over both seams; what run() does after each wake-up. The calling
  // thread must be the worker's QSBR reader (run() does this; tests call attach_reader()).
  // Returns whether either seam had anything.
  bool poll_once();
  // What one pass did, and which seams may still hold packets: those that stopped at a full
  // batch or an empty pool rather than because they ran dry.
  struct Pass {
    bool worked = false;
    bool tun_again = false;
    bool socket_again = false;
  };
  // One pass over the seams named (poll_once: both). run() reads only the seams epoll reported
  // and those that had more, so a wake-up for one packet costs no reads that return EAGAIN.
  Pass poll_seams(bool tun, bool socket);
  // For tests that drive poll_once() on their own thread.
  void attach_reader();

  const WorkerCounters& counters() const { return counters_; }
  const PacketPool& pool() const { return pool_; }
  const AcquireHold& hold() const { return hold_; }

 private:
  bool release_held(Timestamp now);
  // Each returns whether it did anything; *more: whether the seam may hold more (it filled the
  // batch or emptied the pool).
  bool outbound_batch(Timestamp now, bool* more = nullptr);
  void send_outbound();
  bool inbound_batch(Timestamp now, bool* more = nullptr);
  void release(PacketBatch& batch);
  void count_io_drops(const PacketBatch& batch);
  void wake_control_if_needed(bool ike_noticed);
  void read_path_mtu_reports(Timestamp now);
  void queue_ike(const PacketBuffer& packet, bool handled);

  Dataplane& dataplane_;
  TunDevice& tun_;
  DatagramSocket& socket_;
  QsbrDomain& domain_;
  EventFd& wake_control_;
  IkeNoticeQueue& ike_notices_;
  const Clock& clock_;
  WorkerCounters counters_;
  AcquireHold hold_;
  OutboundPath outbound_;
  InboundPath inbound_;
  PacketPool pool_;
  PacketBatch batch_;
  std::unique_ptr<IkeDatagram> ike_slot_;  // filled, then moved into the IKE queue
  std::unique_ptr<QsbrReader> reader_;
  // Set once by the constructor; null only if eventfd failed (stop_error_ says why; run() fails).
  std::unique_ptr<EventFd> stop_;
  std::optional<Error> stop_error_;
  std::atomic<bool> stopping_{false};
  const std::int64_t busy_poll_ns_;
  // The socket's error queues (path MTU reports, DatagramSocket::error_queue_fds: the ESP-in-UDP
  // socket's and the raw ESP sockets'), polled for EPOLLERR and drained into
  // Dataplane::path_mtu: EPOLLERR seen, and when to look anyway.
  static constexpr std::int64_t kErrorQueueCheckNs = 100'000'000;
  static constexpr std::size_t kMaxErrorQueues = 8;
  std::array<int, kMaxErrorQueues> error_queue_fds_{};
  std::size_t error_queues_ = 0;
  bool socket_error_pending_ = false;
  std::int64_t next_error_check_ns_ = 0;
};

}  // namespace uipsec
