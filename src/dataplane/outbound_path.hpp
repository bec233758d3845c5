// OutboundPath: cleartext IP packets from the TUN device in, ESP packets for the peer out — one
// batch at a time (RFC 4301 §5.1).
//
// Flow, per packet of a batch:
//   1. parse the IP header (parse_ip_packet)                       not IP      -> kNotIp
//   2. SPD lookup, direction out (PolicyDatabase::lookup)          no match    -> kNoPolicy
//      DISCARD -> kPolicyDiscard; BYPASS -> Disposition::kBypass
//   3. PROTECT: the SA by template — reqid plus the tunnel's outer addresses, or the packet's own
//      addresses in transport mode (SaDatabase::find_outbound)   none -> acquire event, kNoSa
//   4. SA past its hard limit -> kSaExpired; next sequence number  used up -> expire,
//   kSequenceExhausted
//   5. encapsulate in the SA's mode and seal (esp_encapsulation.hpp)
//   6. count on SA and policy (soft/hard expire events), address the packet to the SA's peer
//
// Owner: one worker thread, an online QSBR reader; SA and policy pointers are used only inside
// process(). No allocation, lock or log line per packet.
#pragma once

#include "base/clock.hpp"
#include "dataplane/dataplane_context.hpp"
#include "packet/packet_batch.hpp"

namespace uipsec {

class OutboundPath {
 public:
  OutboundPath(Dataplane& dataplane, std::size_t worker, WorkerCounters& counters)
      : dataplane_(dataplane), worker_(worker), counters_(counters) {}

  // Fills batch.verdicts[i] for every packet; kSendToPeer packets hold ESP with meta set.
  void process(PacketBatch& batch, Timestamp now);

 private:
  Verdict process_one(PacketBuffer& packet, Timestamp now);
  void raise_acquire(Policy& policy, const IpPacketInfo& packet, Timestamp now);

  Dataplane& dataplane_;
  const std::size_t worker_;
  WorkerCounters& counters_;
};

}  // namespace uipsec
