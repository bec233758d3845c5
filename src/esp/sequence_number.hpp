// Sequence numbers of an SA, 32-bit or extended (ESN, RFC 4303 §2.2.1 and Appendix A).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace uipsec {

// Full 64-bit sequence number for a received packet: the low 32 bits come from the packet, the
// high 32 bits are inferred from the receiver's window (RFC 4303 Appendix A2.2) — `top` is the
// highest sequence number received so far, `window` the anti-replay window size. A window of 0
// (anti-replay off) still needs inference; it uses half the 32-bit space. At the very start of
// an SA (high bits 0) no packet is placed below zero: such a packet is taken as ahead instead.
std::uint64_t infer_esn(std::uint32_t seq_low, std::uint64_t top, std::uint32_t window);

// The outbound counter of an SA. Numbers start after `last_sent` (an SA added with an initial
// sequence number continues from there) and never wrap: after 2^32 - 1 (or 2^64 - 1 with ESN)
// next() reports exhaustion forever, and the SA must be replaced.
//
// Thread safety: next() may be called from several workers at once (atomic).
class OutboundSequence {
 public:
  explicit OutboundSequence(std::uint64_t last_sent = 0, bool esn = false);

  // The next sequence number, or nullopt when the space is used up.
  std::optional<std::uint64_t> next();
  // The highest number handed out so far (or the initial value).
  std::uint64_t last() const { return last_.load(std::memory_order_relaxed); }
  // Numbers still available.
  std::uint64_t remaining() const;
  std::uint64_t limit() const { return limit_; }

 private:
  std::atomic<std::uint64_t> last_;
  std::uint64_t limit_;
};

}  // namespace uipsec
