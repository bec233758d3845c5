// ReplayWindow: inbound anti-replay (RFC 4303 §3.4.3) over 64-bit sequence numbers (ESN-ready),
// kept as RFC 6479's ring of 64-bit blocks so that advancing the window clears whole blocks
// instead of shifting a bitmap.
//
// Checking and accepting are separate steps: check() runs before the ICV is verified and
// changes nothing; accept() runs only after the packet authenticated. A forged packet therefore
// never moves the window.
//
// Owner: the thread that opens packets for the SA. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>

namespace uipsec {

class ReplayWindow {
 public:
  // Largest configurable window, in packets.
  static constexpr std::uint32_t kMaxSize = 65536;

  enum class Check : std::uint8_t {
    kOk,         // new: may be accepted once it authenticates
    kDuplicate,  // inside the window and already received
    kTooOld,     // left of the window (or sequence number 0, which is never sent)
  };

  // `size`: window in packets, 0 (anti-replay off) to kMaxSize; the caller validates the range
  // (precondition). `top`: the initial right edge of the window, as `ip xfrm state ...
  // replay-seq` sets it: numbers above it are new, and — as on Linux, whose bitmap starts empty —
  // the `size` numbers ending at `top` are not yet marked received either.
  explicit ReplayWindow(std::uint32_t size = 0, std::uint64_t top = 0);

  std::uint32_t size() const { return size_; }
  // Highest sequence number accepted so far (or the initial top).
  std::uint64_t top() const { return top_; }

  // Before the ICV: is `seq` acceptable? With size 0 every sequence number except 0 is kOk.
  Check check(std::uint64_t seq) const;
  // After the ICV verified. Precondition: check(seq) == kOk. Moves the window right when
  // seq > top() and marks seq as received.
  void accept(std::uint64_t seq);

 private:
  bool bit(std::uint64_t seq) const;
  void set_bit(std::uint64_t seq);

  std::uint32_t size_;
  std::uint64_t top_;
  std::uint32_t block_mask_ = 0;        // blocks - 1; blocks is a power of two
  std::unique_ptr<std::uint64_t[]> blocks_;
};

}  // namespace uipsec
