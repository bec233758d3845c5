// PacketBuffer: one packet inside a fixed region with headroom in front and tailroom behind, so
// ESP, UDP and outer IP headers are prepended and padding and ICV appended in place, never
// copied. The memory belongs to a PacketPool; a PacketBuffer is handed from stage to stage by
// pointer and has one owner at a time.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/bytes.hpp"
#include "packet/packet_meta.hpp"

namespace uipsec {

// Room kept in front of a received packet: virtio-net header (12), outer IPv6 (40), UDP (8), ESP
// header (8) and the largest IV (16) fit with room to spare; 128 keeps the packet start aligned.
inline constexpr std::size_t kPacketHeadroom = 128;
// Room behind: up to 255 bytes of ESP padding, pad length and next header, and the largest ICV
// (32 bytes for HMAC-SHA2-512-256).
inline constexpr std::size_t kPacketTailroom = 384;
// Largest packet a buffer carries: an IP packet of 64 KiB, the size of an offloaded
// super-packet (TSO/GRO) read from or written to a TUN device.
inline constexpr std::size_t kMaxPacketSize = 65536;
// Capacity of a buffer that can hold any packet with full headroom and tailroom.
inline constexpr std::size_t kLargeBufferCapacity =
    kPacketHeadroom + kMaxPacketSize + kPacketTailroom;

class PacketBuffer {
 public:
  PacketBuffer() = default;
  // `storage` must outlive the buffer. The packet starts empty after `headroom` bytes.
  PacketBuffer(std::uint8_t* storage, std::uint32_t capacity,
               std::uint32_t headroom = kPacketHeadroom)
      : storage_(storage), capacity_(capacity) {
    reset(headroom);
  }

  std::uint8_t* data() { return storage_ + head_; }
  const std::uint8_t* data() const { return storage_ + head_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  MutableByteSpan span() { return {data(), size_}; }
  ByteSpan span() const { return {data(), size_}; }
  std::size_t headroom() const { return head_; }
  std::size_t tailroom() const { return capacity_ - head_ - size_; }
  std::size_t capacity() const { return capacity_; }

  // Grows the packet at the front by n bytes and returns the new start, or nullptr (nothing
  // changed) when the headroom is too small.
  std::uint8_t* push_front(std::size_t n) {
    if (n > head_) return nullptr;
    head_ -= static_cast<std::uint32_t>(n);
    size_ += static_cast<std::uint32_t>(n);
    return data();
  }
  // Removes n bytes at the front. Precondition: n <= size().
  void pull_front(std::size_t n) {
    assert(n <= size_);
    head_ += static_cast<std::uint32_t>(n);
    size_ -= static_cast<std::uint32_t>(n);
  }
  // Grows the packet at the back by n bytes and returns a pointer to them, or nullptr (nothing
  // changed) when the tailroom is too small.
  std::uint8_t* push_back(std::size_t n) {
    if (n > tailroom()) return nullptr;
    std::uint8_t* tail = data() + size_;
    size_ += static_cast<std::uint32_t>(n);
    return tail;
  }
  // Removes n bytes at the back. Precondition: n <= size().
  void trim_back(std::size_t n) {
    assert(n <= size_);
    size_ -= static_cast<std::uint32_t>(n);
  }
  // Shrinks the packet to its first n bytes. Precondition: n <= size().
  void truncate(std::size_t n) { trim_back(size_ - n); }

  // Empties the packet and puts its start `headroom` bytes into the region. Clears metadata.
  void reset(std::size_t headroom = kPacketHeadroom) {
    assert(headroom <= capacity_);
    head_ = static_cast<std::uint32_t>(headroom);
    size_ = 0;
    meta = PacketMeta{};
  }
  // Replaces the contents with a copy of `bytes` after the default headroom (tests, slow paths).
  // Returns false if it does not fit.
  bool assign(ByteSpan bytes, std::size_t headroom = kPacketHeadroom) {
    if (headroom + bytes.size() > capacity_) return false;
    reset(headroom);
    if (!bytes.empty()) std::memcpy(data(), bytes.data(), bytes.size());
    size_ = static_cast<std::uint32_t>(bytes.size());
    return true;
  }

  // Where the packet came from or goes to; filled in by the I/O layer and the paths.
  PacketMeta meta;

 private:
  std::uint8_t* storage_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
};

}  // namespace uipsec
