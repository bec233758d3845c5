#include "packet/packet_pool.hpp"

#include <cstdlib>
#include <new>

namespace uipsec {

PacketPool::PacketPool(std::size_t count, std::size_t buffer_capacity)
    : buffer_capacity_((buffer_capacity + 63) / 64 * 64) {
  storage_ = static_cast<std::uint8_t*>(std::aligned_alloc(64, count * buffer_capacity_ + 64));
  if (storage_ == nullptr) throw std::bad_alloc();
  buffers_.reserve(count);
  free_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    buffers_.emplace_back(storage_ + i * buffer_capacity_,
                          static_cast<std::uint32_t>(buffer_capacity_));
  }
  for (auto& b : buffers_) free_.push_back(&b);
}

PacketPool::~PacketPool() { std::free(storage_); }

}  // namespace uipsec
