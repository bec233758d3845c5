// Sequence numbers: receiver-side ESN inference (RFC 4303 Appendix A2.2) and the sender's
// counter, which must never wrap (RFC 4303 §3.3.3).
#include "esp/sequence_number.hpp"

#include <cassert>
#include <limits>

namespace uipsec {

namespace {

// W for inference when anti-replay is off: half the 32-bit space, so a packet is taken as ahead
// when its low half is at most 2^31 - 1 ahead of Tl, and as late otherwise.
constexpr std::uint64_t kNoWindowInference = std::uint64_t{1} << 31;

}  // namespace

std::uint64_t infer_esn(std::uint32_t seq_low, std::uint64_t top, std::uint32_t window) {
  const std::uint64_t w = window == 0 ? kNoWindowInference : window;
  const auto tl = static_cast<std::uint32_t>(top);
  const auto th = static_cast<std::uint32_t>(top >> 32);
  // Bl = Tl - W + 1, mod 2^32 (in Case B it wraps: the window starts in subspace Th - 1).
  const auto bl = static_cast<std::uint32_t>(std::uint64_t{tl} - w + 1);
  std::uint32_t seqh = th;
  if (tl >= w - 1) {
    // Case A: the window lies inside subspace Th; below it means the next subspace.
    if (seq_low < bl) {
      // Th + 1 would be 2^32, which the sender never reaches: saturate instead of wrapping to 0.
      if (th != std::numeric_limits<std::uint32_t>::max()) seqh = th + 1;
    }
  } else {
    // Case B: the window starts in subspace Th - 1; at or above Bl means that subspace. At the
    // start of the SA (Th == 0) there is none: the packet is taken as ahead, in subspace 0.
    if (seq_low >= bl && th != 0) seqh = th - 1;
  }
  return (std::uint64_t{seqh} << 32) | seq_low;
}

OutboundSequence::OutboundSequence(std::uint64_t last_sent, bool esn)
    : limit_(esn ? std::numeric_limits<std::uint64_t>::max()
                 : std::numeric_limits<std::uint32_t>::max()) {
  assert(last_sent <= limit_ && "the SA installer validated the initial sequence number");
  // Out of range in a release build: start exhausted rather than send numbers past the limit.
  last_.store(last_sent <= limit_ ? last_sent : limit_, std::memory_order_relaxed);
}

std::optional<std::uint64_t> OutboundSequence::next() {
  // A CAS loop rather than fetch_add: the counter must stay at the limit however often next() is
  // called after exhaustion, and at 2^64 - 1 an increment would wrap to 0. Relaxed is enough:
  // read-modify-writes of one atomic are totally ordered, so each number is handed out once.
  std::uint64_t current = last_.load(std::memory_order_relaxed);
  do {
    if (current >= limit_) return std::nullopt;
  } while (!last_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
  return current + 1;
}

std::uint64_t OutboundSequence::remaining() const { return limit_ - last(); }

}  // namespace uipsec
