// IoCounters: what a TUN device or a socket counts instead of throwing or logging per packet —
// packets and bytes moved, and every packet lost at the OS seam, by cause.
#pragma once

#include <atomic>

#include "base/counter.hpp"

namespace uipsec {

// Owner: the rx_* counters are written by the one thread that reads from the device or socket,
// the tx_* counters by the one thread that writes to it; any thread may read them.
struct IoCounters {
  // Received (read from the TUN device, or datagrams received) and handed to the caller.
  OwnedCounter rx_packets;
  OwnedCounter rx_bytes;
  // Packets the kernel dropped before we could read them and told us about (SO_RXQ_OVFL: the
  // socket's receive queue overflowed). A TUN device's own drops (its tx_dropped) are read from
  // the kernel when statistics are asked for and added there (daemon/daemon_backend.hpp).
  OwnedCounter rx_kernel_drops;
  // Packets larger than the buffer's room; dropped.
  OwnedCounter rx_truncated;
  // Read/receive failures other than "nothing to read".
  OwnedCounter rx_errors;

  // Written into the TUN device, or datagrams sent.
  OwnedCounter tx_packets;
  OwnedCounter tx_bytes;
  // Dropped because the kernel's queue was full: EAGAIN/EWOULDBLOCK (TUN queue or socket send
  // buffer full) or ENOBUFS.
  OwnedCounter tx_queue_full;
  // Dropped with EMSGSIZE: larger than the MTU / path MTU allows.
  OwnedCounter tx_too_big;
  // Dropped because meta.remote cannot be reached from this socket (family mismatch, port 0,
  // unspecified address) or the kernel said EAFNOSUPPORT / EINVAL / ENETUNREACH / EHOSTUNREACH.
  OwnedCounter tx_unreachable;
  // Any other write/send failure.
  OwnedCounter tx_errors;

  // errno of the most recent failure counted above (0 until one happens), for diagnosis.
  std::atomic<int> last_errno{0};

  void note_errno(int error) { last_errno.store(error, std::memory_order_relaxed); }
};

}  // namespace uipsec
