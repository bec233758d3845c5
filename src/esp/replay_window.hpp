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
  //
  // Allocates the ring (a power of two of 64-bit blocks, at least one more than the window
  // needs: 2 blocks for size 1..64, 2048 blocks = 16 KiB for kMaxSize); nothing after that.
  explicit ReplayWindow(std::uint32_t size = 0, std::uint64_t top = 0);

  std::uint32_t size() const { return size_; }
  // Highest sequence number accepted so far (or the initial top).
  std::uint64_t top() const { return top_; }

  // Before the ICV: is `seq` acceptable? The window is [top - size + 1, top] (clipped at 1):
  //   seq == 0                   -> kTooOld (never sent)
  //   size == 0                  -> kOk for every other number, duplicates included
  //   seq > top                  -> kOk
  //   seq + size <= top          -> kTooOld
  //   inside the window          -> kDuplicate if accepted before, else kOk
  // Constant time; no allocation.
  Check check(std::uint64_t seq) const;
  // After the ICV verified. Precondition: check(seq) == kOk (asserted in debug builds). Moves the
  // window right when seq > top() — also with size 0, since ESN inference reads top() — and
  // marks seq as received. Cost: at most one pass over the ring, however far the jump.
  void accept(std::uint64_t seq);

 private:
  static constexpr unsigned kBlockShift = 6;  // 64 sequence numbers per block
  static constexpr std::uint64_t kBitMask = 63;

  // Whether `seq` is marked received. Meaningful only for seq inside the window.
  bool bit(std::uint64_t seq) const;
  void set_bit(std::uint64_t seq);
  // Index into blocks_ of the block that holds `seq`.
  std::uint32_t slot(std::uint64_t seq) const;

  std::uint32_t size_;
  std::uint64_t top_;
  std::uint32_t block_mask_ = 0;  // blocks - 1; blocks is a power of two (0 when size_ == 0)
  // Block b (numbers 64b .. 64b+63) lives in slot b & block_mask_. Invariant: every slot holds
  // the block of the one index in (top_/64 - blocks, top_/64] that maps to it, so two numbers of
  // the window never share a bit (blocks > span of the window in blocks).
  std::unique_ptr<std::uint64_t[]> blocks_;
};

}  // namespace uipsec
