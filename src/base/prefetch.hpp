// Software prefetch for the packet path's batch staging (DPDK-style bulk lookup): a worker that
// knows which table slots and objects the next packets need starts loading them for the whole
// batch before it works on the first packet, so that the cache misses of 64 packets overlap
// instead of queueing one behind the other (docs/BENCHMARKS.md, "Policy and SA tables at scale").
#pragma once

#include <cstddef>
#include <cstdint>

namespace uipsec {

inline constexpr std::size_t kCacheLine = 64;

// Starts loading the cache line holding `address` for reading; never faults, never waits.
inline void prefetch(const void* address) { __builtin_prefetch(address, 0, 3); }

// Starts loading every cache line of [address, address + bytes).
inline void prefetch_bytes(const void* address, std::size_t bytes) {
  const auto begin = reinterpret_cast<std::uintptr_t>(address) & ~(kCacheLine - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(address) + bytes;
  for (std::uintptr_t line = begin; line < end; line += kCacheLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
  }
}

// Prefetching the whole object is for types whose hot fields are spread over it.
template <class T>
void prefetch_object(const T* object) {
  prefetch_bytes(object, sizeof(T));
}

}  // namespace uipsec
