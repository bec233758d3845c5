// Sequence numbers of an SA, 32-bit or extended (ESN, RFC 4303 §2.2.1 and Appendix A).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace uipsec {

// Full 64-bit sequence number for a received packet: the low 32 bits come from the packet, the
// high 32 bits are inferred from the receiver's window (RFC 4303 Appendix A2.2) — `top` is the
// highest sequence number received so far, `window` the anti-replay window size. A window of 0
// (anti-replay off) still needs inference; it uses half the 32-bit space (W = 2^31).
//
// With Tl, Th the low and high halves of `top` and Bl = Tl - W + 1 (mod 2^32), the result is
// the one number with low half `seq_low` in [top - W + 1, top - W + 1 + 2^32):
//   Case A (Tl >= W - 1): Seqh = Th     if seq_low >= Bl, else Th + 1
//   Case B (Tl <  W - 1): Seqh = Th - 1 if seq_low >= Bl, else Th
// Two edges where that number does not exist:
//   - At the very start of an SA (Th == 0, Case B) no packet is placed below zero: such a
//     packet is taken as ahead (Seqh = 0) instead of Seqh = -1.
//   - At the very end (Th == 2^32 - 1, Case A, seq_low < Bl) Seqh = 2^32 does not exist: the
//     sender stops at 2^64 - 1. The result then never wraps to subspace 0; it saturates to
//     Seqh = Th, i.e. the number lies left of the window and ReplayWindow::check() rejects it as
//     too old (with anti-replay off it can only authenticate as a replay of an old packet, which
//     that setting accepts anyway).
// The result's low half is always `seq_low`. Pure; no allocation.
std::uint64_t infer_esn(std::uint32_t seq_low, std::uint64_t top, std::uint32_t window);

// The outbound counter of an SA. Numbers start after `last_sent` (an SA added with an initial
// sequence number continues from there) and never wrap: after 2^32 - 1 (or 2^64 - 1 with ESN)
// next() reports exhaustion forever, and the SA must be replaced.
//
// Thread safety: next() may be called from several workers at once (atomic); every number is
// handed out once, and the numbers handed out are consecutive.
class OutboundSequence {
 public:
  // Precondition: last_sent <= limit() (2^32 - 1 without ESN); the SA installer validates it.
  explicit OutboundSequence(std::uint64_t last_sent = 0, bool esn = false);

  // The next sequence number, or nullopt when the space is used up (and on every call after
  // that). Lock-free compare-and-swap loop; never wraps.
  std::optional<std::uint64_t> next();
  // The highest number handed out so far (or the initial value).
  std::uint64_t last() const { return last_.load(std::memory_order_relaxed); }
  // Numbers still available: limit() - last().
  std::uint64_t remaining() const;
  // The last number that may be sent: 2^32 - 1, or 2^64 - 1 with ESN.
  std::uint64_t limit() const { return limit_; }

 private:
  std::atomic<std::uint64_t> last_;
  std::uint64_t limit_;
};

}  // namespace uipsec
