// HugeArena: memory for the big, randomly read control-plane objects the packet path looks at —
// SAs and their key blocks, policies, classifier nodes, hash-table slots — from 2 MiB-aligned
// chunks advised with madvise(MADV_HUGEPAGE), so that 100 000 SAs' objects lie in a few hundred
// huge pages instead of ~60 000 small ones and a packet's ~10 objects cost no page walks
// (docs/BENCHMARKS.md, "Policy and SA tables at scale").
//
// Layout: blocks are multiples of 64 bytes, 64-byte aligned, bump-allocated from chunks of
// kChunkBytes; a freed block goes to its size's free list and is handed out again for that size
// (no coalescing: SA-sized objects come and go in the same few sizes). Blocks above
// kMaxBlockBytes get a mapping of their own (huge-advised from 2 MiB up). Chunks stay mapped
// until the arena is destroyed (the shared arena never is): memory is reused, not returned.
//
// Idle memory: a huge-advised chunk costs 2 MiB of RSS at its first touch, so the first
// `huge_after` bytes of chunks (Options) stay on normal pages, where a daemon with a handful of
// SAs touches only the 4 KiB pages it uses; once the arena grows past that, those chunks are
// advised too (khugepaged may collapse them later) and every later chunk is advised at once.
// Where transparent huge pages are off ("never") the advice has no effect; where madvise fails
// (no THP in the kernel) the chunk stays on normal pages and `advise_failures` counts it —
// nothing else changes.
//
// Threads: allocate/deallocate take a mutex (objects are built on the control thread and freed
// there or from QSBR reclamation); never per packet. Under AddressSanitizer free and not yet
// handed-out memory is poisoned, so a use after free or a read past the end of the chunk's used
// part is reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

namespace uipsec {

class HugeArena {
 public:
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;  // x86-64's PMD page
  static constexpr std::size_t kChunkBytes = kHugePage;
  static constexpr std::size_t kAlignment = 64;
  // Larger blocks (big hash tables) get a mapping of their own.
  static constexpr std::size_t kMaxBlockBytes = 64 * 1024;

  struct Options {
    // Chunk bytes that stay on normal pages before the arena starts advising huge pages.
    std::size_t huge_after = 2 * kChunkBytes;
    // False: never advise (normal pages only).
    bool huge_pages = true;
    // Test seam: the madvise to call (returns 0 or -1 like madvise(2)).
    int (*advise)(void* address, std::size_t bytes) = nullptr;
  };

  struct Stats {
    std::size_t chunks = 0;          // 2 MiB chunks mapped
    std::size_t advised_chunks = 0;  // of them, advised with MADV_HUGEPAGE
    std::size_t large_blocks = 0;    // blocks in a mapping of their own
    std::size_t mapped_bytes = 0;    // chunks and large blocks
    std::size_t used_bytes = 0;      // handed out and not freed
    std::size_t advise_failures = 0;
  };

  HugeArena();
  explicit HugeArena(Options options);
  HugeArena(const HugeArena&) = delete;
  HugeArena& operator=(const HugeArena&) = delete;
  // Unmaps everything. Precondition: no block is used any more.
  ~HugeArena();

  // A 64-byte aligned block of at least `bytes` (0 counts as 1); nullptr when the system has no
  // memory left.
  void* allocate(std::size_t bytes);
  // Precondition: `block` came from allocate(`bytes`) of this arena (the same `bytes`), or is
  // nullptr.
  void deallocate(void* block, std::size_t bytes) noexcept;

  Stats stats() const;

  // The arena SAs, policies and their tables use: created at first use, never destroyed (objects
  // may be freed from static destructors), like the heap it stands in for. The environment
  // variable UIPSEC_HUGE_PAGES=0 turns its huge-page advice off (for measurements).
  static HugeArena& shared();

 private:
  static std::size_t round_up(std::size_t bytes) {
    return bytes == 0 ? kAlignment : (bytes + kAlignment - 1) & ~(kAlignment - 1);
  }
  bool advise(void* address, std::size_t bytes);
  bool new_chunk();
  void* allocate_large(std::size_t bytes);

  Options options_;
  mutable std::mutex mutex_;
  std::vector<void*> chunks_;
  std::vector<std::vector<void*>> free_;  // index: rounded size / kAlignment - 1
  char* next_ = nullptr;                  // bump pointer into the newest chunk
  char* end_ = nullptr;
  bool advising_ = false;  // past options_.huge_after
  Stats stats_;
};

// The shared arena, for class-specific operator new/delete. Throws std::bad_alloc when out of
// memory, as operator new does.
void* huge_arena_allocate(std::size_t bytes);
void huge_arena_deallocate(void* block, std::size_t bytes) noexcept;

// An allocator for standard containers whose elements the packet path reads (e.g. an SA's
// per-worker EspTransforms).
template <class T>
struct HugeArenaAllocator {
  using value_type = T;
  HugeArenaAllocator() = default;
  template <class U>
  HugeArenaAllocator(const HugeArenaAllocator<U>&) {}  // NOLINT: converting, as allocators are
  static_assert(alignof(T) <= HugeArena::kAlignment);
  T* allocate(std::size_t n) { return static_cast<T*>(huge_arena_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { huge_arena_deallocate(p, n * sizeof(T)); }
  template <class U>
  friend bool operator==(const HugeArenaAllocator&, const HugeArenaAllocator<U>&) {
    return true;
  }
};

// Class-specific allocation functions that put a class's objects in the shared arena: write
// UIPSEC_HUGE_ARENA_ALLOCATED inside the class. Covers new/delete with and without alignment
// and the nothrow forms (a delete of a derived object through a virtual destructor calls the
// derived class's operator delete).
#define UIPSEC_HUGE_ARENA_ALLOCATED                                                             \
  static void* operator new(std::size_t bytes) { return ::uipsec::huge_arena_allocate(bytes); } \
  static void* operator new(std::size_t bytes, std::align_val_t) {                              \
    return ::uipsec::huge_arena_allocate(bytes);                                                \
  }                                                                                             \
  static void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept {                \
    return ::uipsec::HugeArena::shared().allocate(bytes);                                       \
  }                                                                                             \
  static void* operator new(std::size_t bytes, std::align_val_t,                                \
                            const std::nothrow_t& t) noexcept {                                 \
    return operator new(bytes, t);                                                              \
  }                                                                                             \
  static void operator delete(void* block, std::size_t bytes) noexcept {                        \
    ::uipsec::huge_arena_deallocate(block, bytes);                                              \
  }                                                                                             \
  static void operator delete(void* block, std::size_t bytes, std::align_val_t) noexcept {      \
    ::uipsec::huge_arena_deallocate(block, bytes);                                              \
  }

}  // namespace uipsec
