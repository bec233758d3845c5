// Verdict: the outcome of processing one packet. The packet path returns verdicts instead of
// logging or throwing; the caller acts on them and counts drops by reason.
#pragma once

#include <cstdint>

#include "packet/drop_reason.hpp"

namespace uipsec {

enum class Disposition : std::uint8_t {
  kDrop,          // release the buffer; `reason` says why
  kSendToPeer,    // outbound: the buffer holds an ESP packet for meta.remote
  kDeliverToTun,  // inbound: the buffer holds a decrypted IP packet for the TUN device
  kPassToIke,     // inbound: an IKE message (non-ESP marker removed) for the IKE daemon
  kBypass,        // outbound: a BYPASS policy matched; send in the clear (not via the TUN device)
  kHold,          // outbound: kept while an acquire is pending (bounded; see the SA database)
};

struct Verdict {
  Disposition disposition = Disposition::kDrop;
  DropReason reason = DropReason::kNone;

  static constexpr Verdict drop(DropReason why) { return {Disposition::kDrop, why}; }
  static constexpr Verdict send_to_peer() { return {Disposition::kSendToPeer, DropReason::kNone}; }
  static constexpr Verdict deliver_to_tun() {
    return {Disposition::kDeliverToTun, DropReason::kNone};
  }
  bool dropped() const { return disposition == Disposition::kDrop; }
  friend constexpr bool operator==(const Verdict&, const Verdict&) = default;
};

}  // namespace uipsec
