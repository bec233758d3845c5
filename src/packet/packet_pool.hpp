// PacketPool: a fixed number of equal-sized packet buffers allocated once. When it is empty the
// caller drops the packet and counts kPoolExhausted: memory stays bounded whatever arrives.
//
// Owner: one thread (a worker) acquires and releases. Hand-offs between threads go through
// bounded rings that carry buffer pointers, and the buffer returns to its own pool's owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "packet/packet_buffer.hpp"

namespace uipsec {

class PacketPool {
 public:
  // Allocates count * buffer_capacity bytes (64-byte aligned buffers) up front.
  PacketPool(std::size_t count, std::size_t buffer_capacity = kLargeBufferCapacity);
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;
  ~PacketPool();

  // An empty buffer with default headroom, or nullptr when all are in use.
  PacketBuffer* acquire() {
    if (free_.empty()) return nullptr;
    PacketBuffer* b = free_.back();
    free_.pop_back();
    b->reset();
    return b;
  }
  // Precondition: `b` came from this pool and is not in the pool already.
  void release(PacketBuffer* b) { free_.push_back(b); }

  std::size_t available() const { return free_.size(); }
  std::size_t count() const { return buffers_.size(); }
  std::size_t buffer_capacity() const { return buffer_capacity_; }
  // Bytes reserved for packet data (the figure the memory budget adds up).
  std::size_t footprint() const { return buffers_.size() * buffer_capacity_; }

 private:
  std::size_t buffer_capacity_;
  std::uint8_t* storage_ = nullptr;
  std::vector<PacketBuffer> buffers_;
  std::vector<PacketBuffer*> free_;
};

}  // namespace uipsec
