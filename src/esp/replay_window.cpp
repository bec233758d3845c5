// ReplayWindow: RFC 4303 §3.4.3 anti-replay kept as RFC 6479's ring of 64-bit blocks.
//
// Sequence number s lives in bit s % 64 of block s / 64, and block b in slot b % blocks. When the
// top moves from block B to block B' > B, the slots of blocks B+1 .. B' are cleared (all of them
// once B' - B >= blocks) — they held blocks that have now slid out of the window — instead of
// shifting a bitmap bit by bit.
#include "esp/replay_window.hpp"

#include <bit>
#include <cassert>
#include <mutex>

namespace uipsec {

namespace {

// Blocks for a window of `size` packets: ceil(size / 64) covers size numbers aligned to a block;
// an unaligned window touches one block more, and that spare block is also what lets the ring
// advance by clearing whole blocks. Rounded up to a power of two so slots are found with a mask.
std::uint32_t blocks_for(std::uint32_t size) {
  if (size == 0) return 0;
  return std::bit_ceil((size + 63) / 64 + 1);
}

}  // namespace

ReplayWindow::ReplayWindow(std::uint32_t size, std::uint64_t top) : size_(size), top_(top) {
  assert(size <= kMaxSize && "the caller validated the window size");
  const std::uint32_t blocks = blocks_for(size);
  if (blocks != 0) {
    block_mask_ = blocks - 1;
    blocks_ = std::make_unique<std::uint64_t[]>(blocks);  // zeroed: nothing received yet
  }
}

ReplayWindow::ReplayWindow(ReplayWindow&& other) noexcept
    : size_(other.size_),
      top_(other.top()),
      block_mask_(other.block_mask_),
      blocks_(std::move(other.blocks_)) {}

ReplayWindow& ReplayWindow::operator=(ReplayWindow&& other) noexcept {
  size_ = other.size_;
  top_.store(other.top(), std::memory_order_relaxed);
  block_mask_ = other.block_mask_;
  blocks_ = std::move(other.blocks_);
  return *this;
}

std::uint32_t ReplayWindow::slot(std::uint64_t seq) const {
  return static_cast<std::uint32_t>(seq >> kBlockShift) & block_mask_;
}

bool ReplayWindow::bit(std::uint64_t seq) const {
  return (blocks_[slot(seq)] >> (seq & kBitMask)) & 1U;
}

void ReplayWindow::set_bit(std::uint64_t seq) {
  blocks_[slot(seq)] |= std::uint64_t{1} << (seq & kBitMask);
}

ReplayWindow::Check ReplayWindow::check(std::uint64_t seq) const {
  if (seq == 0) return Check::kTooOld;
  if (size_ == 0) return Check::kOk;
  std::lock_guard guard(lock_);
  return check_locked(seq);
}

ReplayWindow::Check ReplayWindow::check_locked(std::uint64_t seq) const {
  if (seq == 0) return Check::kTooOld;
  const std::uint64_t top = top_.load(std::memory_order_relaxed);
  if (size_ == 0 || seq > top) return Check::kOk;
  // seq <= top: written as a difference so that seq + size cannot overflow near 2^64.
  if (top - seq >= size_) return Check::kTooOld;
  return bit(seq) ? Check::kDuplicate : Check::kOk;
}

ReplayWindow::Check ReplayWindow::accept(std::uint64_t seq) {
  std::lock_guard guard(lock_);
  // A number left of the window must not mark a bit (its slot now belongs to a number inside
  // the window), and a duplicate must not pass twice.
  const Check again = check_locked(seq);
  if (again != Check::kOk) return again;
  const std::uint64_t top_now = top_.load(std::memory_order_relaxed);
  if (seq > top_now) {
    if (size_ != 0) {
      const std::uint64_t old_block = top_now >> kBlockShift;
      const std::uint64_t new_block = seq >> kBlockShift;
      const std::uint64_t blocks = std::uint64_t{block_mask_} + 1;
      if (new_block - old_block >= blocks) {
        // Jumped past the whole ring: nothing of the old window survives.
        for (std::uint64_t i = 0; i < blocks; ++i) blocks_[i] = 0;
      } else {
        for (std::uint64_t b = old_block + 1; b <= new_block; ++b) {
          blocks_[static_cast<std::uint32_t>(b) & block_mask_] = 0;
        }
      }
    }
    top_.store(seq, std::memory_order_relaxed);
  }
  if (size_ != 0) set_bit(seq);
  return Check::kOk;
}

}  // namespace uipsec
