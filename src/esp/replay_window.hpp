// ReplayWindow: inbound anti-replay (RFC 4303 §3.4.3) over 64-bit sequence numbers (ESN-ready),
// kept as RFC 6479's ring of 64-bit blocks so that advancing the window clears whole blocks
// instead of shifting a bitmap.
//
// Checking and accepting are separate steps: check() runs before the ICV is verified and
// changes nothing; accept() runs only after the packet authenticated. A forged packet therefore
// never moves the window.
//
// Threads: any worker may open the SA's packets. Several workers normally see disjoint SAs (the
// ESP socket group steers by SPI), but UDP GRO can merge datagrams of two SAs of one peer into
// one train and a NAT rebinding can move an SA's packets to another socket, so check() and
// accept() each take a small spin lock (uncontended: one atomic exchange on a line the packet
// path touches anyway), and accept() checks again under it — the same two-step scheme as
// Linux's xfrm_input (replay check, unlock for the crypto, lock, recheck and advance).
#pragma once

#include <atomic>
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
  // Moving is for set-up (no other thread may use either window meanwhile).
  ReplayWindow(ReplayWindow&& other) noexcept;
  ReplayWindow& operator=(ReplayWindow&& other) noexcept;

  std::uint32_t size() const { return size_; }
  // Highest sequence number accepted so far (or the initial top). Without the lock: a snapshot
  // (ESN inference may use a slightly stale top; check() and the ICV decide).
  std::uint64_t top() const { return top_.load(std::memory_order_relaxed); }

  // Before the ICV: is `seq` acceptable? The window is [top - size + 1, top] (clipped at 1):
  //   seq == 0                   -> kTooOld (never sent)
  //   size == 0                  -> kOk for every other number, duplicates included
  //   seq > top                  -> kOk
  //   seq + size <= top          -> kTooOld
  //   inside the window          -> kDuplicate if accepted before, else kOk
  // Constant time; no allocation.
  Check check(std::uint64_t seq) const;
  // After the ICV verified: checks again (another worker may have accepted the same number, or
  // moved the window past it, since check()) and, if still kOk, moves the window right when
  // seq > top() — also with size 0, since ESN inference reads top() — and marks seq as received.
  // Returns the result of the second check: anything but kOk means the packet must be dropped.
  // Cost: at most one pass over the ring, however far the jump.
  Check accept(std::uint64_t seq);

 private:
  static constexpr unsigned kBlockShift = 6;  // 64 sequence numbers per block
  static constexpr std::uint64_t kBitMask = 63;

  // Whether `seq` is marked received. Meaningful only for seq inside the window.
  bool bit(std::uint64_t seq) const;
  void set_bit(std::uint64_t seq);
  // Index into blocks_ of the block that holds `seq`.
  std::uint32_t slot(std::uint64_t seq) const;
  Check check_locked(std::uint64_t seq) const;

  // Guards top_ (writes) and blocks_.
  class SpinLock {
   public:
    void lock() {
      while (flag_.test_and_set(std::memory_order_acquire)) {
        while (flag_.test(std::memory_order_relaxed)) {
        }
      }
    }
    void unlock() { flag_.clear(std::memory_order_release); }

   private:
    std::atomic_flag flag_;
  };

  std::uint32_t size_;
  std::atomic<std::uint64_t> top_;
  mutable SpinLock lock_;
  std::uint32_t block_mask_ = 0;  // blocks - 1; blocks is a power of two (0 when size_ == 0)
  // Block b (numbers 64b .. 64b+63) lives in slot b & block_mask_. Invariant: every slot holds
  // the block of the one index in (top_/64 - blocks, top_/64] that maps to it, so two numbers of
  // the window never share a bit (blocks > span of the window in blocks).
  std::unique_ptr<std::uint64_t[]> blocks_;
};

}  // namespace uipsec
