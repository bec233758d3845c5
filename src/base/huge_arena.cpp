#include "base/huge_arena.hpp"

#include <sys/mman.h>

#include <cassert>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UIPSEC_ARENA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(UIPSEC_ARENA_ASAN)
#define UIPSEC_ARENA_ASAN 1
#endif

#if UIPSEC_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#define UIPSEC_POISON(address, bytes) ASAN_POISON_MEMORY_REGION(address, bytes)
#define UIPSEC_UNPOISON(address, bytes) ASAN_UNPOISON_MEMORY_REGION(address, bytes)
// The leak checker scans the heap, not our mappings: objects here that point to heap blocks (an
// SA's configuration and keys) must be scanned, or those blocks would be reported as leaks.
#define UIPSEC_SCAN(address, bytes) __lsan_register_root_region(address, bytes)
#define UIPSEC_UNSCAN(address, bytes) __lsan_unregister_root_region(address, bytes)
#else
#define UIPSEC_POISON(address, bytes) ((void)(address), (void)(bytes))
#define UIPSEC_UNPOISON(address, bytes) ((void)(address), (void)(bytes))
#define UIPSEC_SCAN(address, bytes) ((void)(address), (void)(bytes))
#define UIPSEC_UNSCAN(address, bytes) ((void)(address), (void)(bytes))
#endif

namespace uipsec {

namespace {

int system_advise(void* address, std::size_t bytes) {
  return ::madvise(address, bytes, MADV_HUGEPAGE);
}

// `bytes` (a multiple of `alignment`, a power of two) of fresh anonymous memory at an address
// that is a multiple of `alignment`: map more and unmap the ends. nullptr when out of memory.
void* map_aligned(std::size_t bytes, std::size_t alignment) {
  const std::size_t span = bytes + alignment;
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + alignment - 1) & ~(std::uintptr_t{alignment} - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::uintptr_t tail = start + span - (aligned + bytes);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  return reinterpret_cast<void*>(aligned);
}

std::size_t large_mapping_bytes(std::size_t bytes) {
  const std::size_t page = bytes >= HugeArena::kHugePage ? HugeArena::kHugePage : 4096;
  return (bytes + page - 1) & ~(page - 1);
}

}  // namespace

HugeArena::HugeArena() : HugeArena(Options{}) {}

HugeArena::HugeArena(Options options) : options_(options), free_(kMaxBlockBytes / kAlignment) {
  if (options_.advise == nullptr) options_.advise = &system_advise;
}

HugeArena::~HugeArena() {
  for (void* chunk : chunks_) {
    UIPSEC_UNPOISON(chunk, kChunkBytes);
    UIPSEC_UNSCAN(chunk, kChunkBytes);
    ::munmap(chunk, kChunkBytes);
  }
}

bool HugeArena::advise(void* address, std::size_t bytes) {
  if (!options_.huge_pages) return false;
  if (options_.advise(address, bytes) == 0) return true;
  ++stats_.advise_failures;
  return false;
}

bool HugeArena::new_chunk() {
  void* chunk = map_aligned(kChunkBytes, kHugePage);
  if (chunk == nullptr) return false;
  const std::size_t before = chunks_.size() * kChunkBytes;
  chunks_.push_back(chunk);
  ++stats_.chunks;
  stats_.mapped_bytes += kChunkBytes;
  if (!advising_ && before >= options_.huge_after) {
    // The arena just outgrew the normal-page allowance: the earlier chunks may become huge
    // pages too (khugepaged collapses them in the background), and every later one is advised.
    advising_ = true;
    for (std::size_t i = 0; i + 1 < chunks_.size(); ++i) {
      if (advise(chunks_[i], kChunkBytes)) ++stats_.advised_chunks;
    }
  }
  if (advising_ && advise(chunk, kChunkBytes)) ++stats_.advised_chunks;
  UIPSEC_POISON(chunk, kChunkBytes);
  UIPSEC_SCAN(chunk, kChunkBytes);
  next_ = static_cast<char*>(chunk);
  end_ = next_ + kChunkBytes;
  return true;
}

void* HugeArena::allocate_large(std::size_t bytes) {
  const std::size_t mapped = large_mapping_bytes(bytes);
  void* block = map_aligned(mapped, mapped >= kHugePage ? kHugePage : 4096);
  if (block == nullptr) return nullptr;
  if (mapped >= kHugePage) advise(block, mapped);
  UIPSEC_SCAN(block, mapped);
  ++stats_.large_blocks;
  stats_.mapped_bytes += mapped;
  stats_.used_bytes += mapped;
  return block;
}

void* HugeArena::allocate(std::size_t bytes) {
  const std::size_t size = round_up(bytes);
  std::lock_guard lock(mutex_);
  if (size > kMaxBlockBytes) return allocate_large(size);
  std::vector<void*>& list = free_[size / kAlignment - 1];
  void* block = nullptr;
  if (!list.empty()) {
    block = list.back();
    list.pop_back();
  } else {
    if (static_cast<std::size_t>(end_ - next_) < size && !new_chunk()) return nullptr;
    // The rest of the old chunk is left unused when a block does not fit it (at most 64 KiB of
    // 2 MiB, and only for the largest blocks).
    block = next_;
    next_ += size;
  }
  stats_.used_bytes += size;
  UIPSEC_UNPOISON(block, size);
  return block;
}

void HugeArena::deallocate(void* block, std::size_t bytes) noexcept {
  if (block == nullptr) return;
  const std::size_t size = round_up(bytes);
  std::lock_guard lock(mutex_);
  if (size > kMaxBlockBytes) {
    const std::size_t mapped = large_mapping_bytes(size);
    UIPSEC_UNSCAN(block, mapped);
    ::munmap(block, mapped);
    --stats_.large_blocks;
    stats_.mapped_bytes -= mapped;
    stats_.used_bytes -= mapped;
    return;
  }
  assert(reinterpret_cast<std::uintptr_t>(block) % kAlignment == 0 && "a block of this arena");
  UIPSEC_POISON(block, size);
  stats_.used_bytes -= size;
  try {
    free_[size / kAlignment - 1].push_back(block);
  } catch (...) {
    // No memory for the free list: the block is lost to reuse, nothing else.
  }
}

HugeArena::Stats HugeArena::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

HugeArena& HugeArena::shared() {
  // UIPSEC_HUGE_PAGES=0 keeps the shared arena on normal pages: a diagnosis knob, to measure
  // what the huge pages bring with the same layout (docs/BENCHMARKS.md).
  static HugeArena* const arena = [] {
    Options options;
    const char* setting = std::getenv("UIPSEC_HUGE_PAGES");
    if (setting != nullptr && std::string_view(setting) == "0") options.huge_pages = false;
    return new HugeArena(options);  // never destroyed, see the declaration
  }();
  return *arena;
}

void* huge_arena_allocate(std::size_t bytes) {
  void* block = HugeArena::shared().allocate(bytes);
  if (block == nullptr) throw std::bad_alloc();
  return block;
}

void huge_arena_deallocate(void* block, std::size_t bytes) noexcept {
  HugeArena::shared().deallocate(block, bytes);
}

}  // namespace uipsec
