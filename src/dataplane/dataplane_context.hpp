// The state the packet path shares between workers, and each worker's own counters.
//
// Dataplane: the SA and policy databases (read without locks), the event queue to the control
// thread, and settings the control thread may change while workers run (atomics). Built by the
// composition root (the daemon, or a test) and outliving every worker.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/bounded_queue.hpp"
#include "dataplane/drop_counters.hpp"
#include "policy/policy_database.hpp"
#include "sa/ipsec_event.hpp"
#include "sa/sa_database.hpp"

namespace uipsec {

struct PathMtu;
using EventQueue = BoundedQueue<IpsecEvent>;

// When OutboundPath and InboundPath look a batch up in prefetching passes (Dataplane's
// staging_min_*): for batches of at least kStagingMinBatch packets while a table they search
// holds more than kStagingMinEntries entries (SAs, or policies of the direction). Below that,
// what a packet touches stays in the caches and the extra passes only cost (about 50 ns per
// packet with one SA and one policy; docs/BENCHMARKS.md, "Policy and SA tables at scale").
inline constexpr std::size_t kStagingMinEntries = 256;
inline constexpr std::size_t kStagingMinBatch = 4;

struct Dataplane {
  const SaDatabase& sad;
  const PolicyDatabase& spd;
  EventQueue& events;
  // At most one acquire per policy per interval (strongSwan's libipsec: one per second).
  std::int64_t acquire_interval_ns = 1'000'000'000;
  // At most one mapping event per SA per interval.
  std::int64_t mapping_interval_ns = 1'000'000'000;
  // Whether an IKE daemon takes non-ESP-marker datagrams (otherwise they are counted, dropped).
  std::atomic<bool> ike_handler_registered{false};
  // Batch staging thresholds (kStagingMin*); tests set both to 0 to stage every batch.
  std::size_t staging_min_entries = kStagingMinEntries;
  std::size_t staging_min_batch = kStagingMinBatch;

  // Whether a batch of `batch_size` is looked up in prefetching passes: `sa_slots` is the SA
  // table's capacity (about four slots per SA), `policies` the policies of the direction.
  bool stage(std::size_t batch_size, std::size_t sa_slots, std::size_t policies) const {
    return batch_size >= staging_min_batch &&
           (sa_slots > 4 * staging_min_entries || policies > staging_min_entries);
  }
  // Learned outer path MTUs and the ICMP "too big" rate (dataplane/path_mtu.hpp); nullptr: no
  // path MTU check, every packet is sealed whatever its size.
  PathMtu* path_mtu = nullptr;
  // The TUN writer coalesces decrypted TCP segments (offload/gro.hpp) and needs each one's
  // checksum verified: the inbound path does it right after decryption, while the bytes are
  // still in the L1 cache, and marks the packet (PacketMeta::tcp_checksum_verified).
  bool verify_tcp_checksums = false;
};

// One worker's counters: written by that worker only, read by the control thread.
struct WorkerCounters {
  DropCounters drops;
  OwnedCounter events_lost;  // the event queue was full
  OwnedCounter sealed;       // ESP packets produced
  OwnedCounter opened;       // ESP packets authenticated and decrypted
  OwnedCounter bypassed;     // outbound packets a BYPASS policy let through
  OwnedCounter ike;          // non-ESP-marker datagrams (IKE)
  OwnedCounter held;         // outbound packets kept while an acquire was pending (AcquireHold)
  OwnedCounter released;     // held packets sealed and sent once their SA came
};

}  // namespace uipsec
